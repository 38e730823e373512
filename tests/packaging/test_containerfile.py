"""The Containerfile at the top of the repository builds what it says (issue 18 item 1), checked
without building it (no image can be pulled here): every file it copies exists and together they
are what the wheel is built from; the command the image runs is a `chorus` subcommand the CLI
accepts, on the port the image exposes and its health check asks; /healthz is a route of the app;
the base image's Python satisfies requires-python; the extra it may install exists; it runs as
a user other than root."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

from tests.packaging.test_wheel_install import SOURCES

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "Containerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def only(name: str) -> str:
    (args,) = [a for w, a in instructions() if w == name]
    return args


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(x, str) for x in value), args
    return value


def project() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_it_copies_files_that_exist_and_all_the_wheel_needs() -> None:
    copied: set[str] = set()
    for word, args in instructions():
        if word != "COPY" or args.startswith("--from"):
            continue
        *sources, _dest = shlex.split(args)
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
            copied.add(source)
    assert set(SOURCES) <= copied, f"not copied, but the wheel is built from them: {set(SOURCES) - copied}"
    # and the build context keeps them: no pattern of .dockerignore names a copied path
    ignored = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for source in copied:
        for pattern in ignored:
            assert not Path(source).match(pattern) and not source.startswith(pattern + "/"), (source, pattern)
    assert ".venv" in ignored and ".git" in ignored  # a small build context


def test_it_runs_chorus_web_on_the_port_it_exposes_and_checks() -> None:
    from chorus.cli import build_parser, cmd_web

    entry, command = exec_form(only("ENTRYPOINT")), exec_form(only("CMD"))
    assert entry == ["chorus"] and "chorus" in project()["scripts"]
    args = build_parser().parse_args(command)
    assert args.fn is cmd_web and args.host == "0.0.0.0"
    assert only("EXPOSE") == str(args.port)
    check = only("HEALTHCHECK")
    assert f"http://127.0.0.1:{args.port}/healthz" in check
    code = exec_form(check.split(" CMD ", 1)[1])
    assert code[:2] == ["python", "-c"]
    compile(code[2], "HEALTHCHECK", "exec")  # the check itself is valid Python


def test_healthz_is_a_route_of_the_app() -> None:
    from chorus.app import create_app
    from chorus.settings import get_settings

    app = create_app(get_settings())
    assert "/healthz" in {route.path for route in app.routes}


def test_base_image_python_and_extras() -> None:
    image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", CONTAINERFILE.read_text(encoding="utf-8"), re.M)
    assert image, "the base image is an ARG"
    version = re.search(r"python:(\d+)\.(\d+)-slim", image.group(1))
    assert version, image.group(1)
    minimum = re.fullmatch(r">=(\d+)\.(\d+)", project()["requires-python"])
    assert minimum and tuple(map(int, version.groups())) >= tuple(map(int, minimum.groups()))
    # the optional extra the build names (EXTRAS=ocr) exists
    named = set(re.findall(r"EXTRAS=(\w+)", CONTAINERFILE.read_text(encoding="utf-8")))
    assert named and named <= set(project()["optional-dependencies"])
    assert {w for w, _ in instructions()} >= {"FROM", "USER", "HEALTHCHECK", "ENTRYPOINT", "CMD"}


def test_it_runs_as_a_user_other_than_root() -> None:
    users = [a for w, a in instructions() if w == "USER"]
    assert users and users[-1] not in ("root", "0")
    last_from = max(i for i, (w, _) in enumerate(instructions()) if w == "FROM")
    assert any(w == "USER" for w, _ in instructions()[last_from:]), "the final stage sets USER"
    (add_user,) = [a for w, a in instructions() if w == "RUN" and "useradd" in a]
    assert f" {users[-1]}" in add_user
