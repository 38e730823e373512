"""The `chorus` command explains itself (issue 18 item 7): run as an operator runs it, through the
installed entry point, in a folder of its own, with none of the test run's CHORUS_ settings."""

from __future__ import annotations

import hashlib
import io
import os
import pty
import re
import select
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pytest

from chorus.cli import COMMAND_SETTINGS, build_parser
from chorus.evidence.chain import GENESIS, ChainEntry, ChainMeta, make_entry
from chorus.evidence.manifest import build_manifest, dump_manifest, member_name
from chorus.settings import Settings
from tests.integration.test_ops import clean_env
from tests.support import PASSWORD

ROOT = Path(__file__).parents[2]
CHORUS = str(Path(sys.executable).parent / "chorus")  # the console script pyproject.toml installs
ENGLISH = {"LANG": "C.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
CHINESE = {"LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
PRODUCTION = {
    "CHORUS_ENV": "production",
    "CHORUS_SECRET_KEY": "s" * 48,
    "CHORUS_DATA_KEY": "d" * 48,
    "CHORUS_SMTP_HOST": "smtp.example.com",
    "CHORUS_PUBLIC_URL": "https://chorus.example.org",
}


def chorus(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHORUS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def subcommands() -> dict[str, list[str]]:
    """Each subcommand and the option strings of its arguments (positionals by their name)."""
    parser = build_parser()
    (sub,) = (a for a in parser._actions if a.dest == "command")
    out: dict[str, list[str]] = {}
    for name, p in sub.choices.items():  # type: ignore[union-attr]
        out[name] = [opt for a in p._actions for opt in (a.option_strings or [a.dest])]
    return out


def test_every_help_says_what_it_does_its_options_defaults_and_settings(tmp_path: Path) -> None:
    commands = subcommands()
    assert set(commands) == set(COMMAND_SETTINGS), "a command without its settings listed"
    fields = set(Settings.model_fields)
    top = chorus(["--help"], clean_env(tmp_path, **ENGLISH), tmp_path)
    assert top.returncode == 0 and "--version" in top.stdout
    helps: dict[str, str] = {}
    for name, options in commands.items():
        assert name in top.stdout
        r = chorus([name, "--help"], clean_env(tmp_path, **ENGLISH), tmp_path)
        assert r.returncode == 0, r.stderr
        helps[name] = text = " ".join(r.stdout.split())  # unwrapped
        assert text.startswith(f"usage: chorus {name}")
        for option in options:
            assert option in text, f"{name} --help does not name {option}"
        for setting in COMMAND_SETTINGS[name]:
            assert setting in fields, f"{name}: {setting} is no setting"
            assert f"CHORUS_{setting.upper()}" in text, (
                f"{name} --help does not name CHORUS_{setting.upper()}"
            )
        assert "settings read" in text
        if not COMMAND_SETTINGS[name]:
            assert "settings read: none" in text
    assert set(COMMAND_SETTINGS["run"]) == fields, "`chorus run` runs everything: it reads every setting"
    assert "--port PORT port to listen on (default: 8000)" in helps["web"]
    assert "CHORUS_ADMIN_PASSWORD" in helps["create-admin"] and "(default: Admin)" in helps["create-admin"]
    assert "refused when CHORUS_ENV=production" in helps["seed-demo"].replace("Refused", "refused")
    assert (
        "exit status: 0" in helps["verify-bundle"] and "2 the file cannot be opened" in helps["verify-bundle"]
    )


def test_version_is_the_package_version(tmp_path: Path) -> None:
    r = chorus(["--version"], clean_env(tmp_path), tmp_path)
    assert r.returncode == 0
    assert r.stdout.strip() == f"chorus {version('chorus')}"


def run_at_terminal(args: list[str], env: dict[str, str], cwd: Path, answers: list[str]) -> tuple[int, str]:
    """Run ``chorus args`` with a pseudo-terminal as its controlling terminal; answer each password
    prompt (a line ending in ': ') with the next of ``answers``. Everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the command
        os.chdir(cwd)
        os.execve(CHORUS, [CHORUS, *args], env)
    shown = b""
    pending = list(answers)
    while True:
        ready, _, _ = select.select([fd], [], [], 120)
        assert ready, f"no output from the command; the terminal shows {shown!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the command exited and closed the terminal
            chunk = b""
        if not chunk:
            break
        shown += chunk
        if pending and shown.rstrip(b" ").endswith((b":", "：".encode())):
            os.write(fd, pending.pop(0).encode() + b"\n")
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode()


def can_log_in(env: dict[str, str], cwd: Path, email: str, password: str) -> bool:
    code = (
        "import asyncio, sys\n"
        "from chorus import db\n"
        "from chorus.accounts import service\n"
        "from chorus.settings import get_settings\n"
        "async def go():\n"
        "    s = get_settings()\n"
        "    async with db.connected(s):\n"
        "        await service.login(email=sys.argv[1], password=sys.argv[2], settings=s)\n"
        "asyncio.run(go())\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, email, password], env=env, cwd=cwd, capture_output=True, timeout=120
    )
    return r.returncode == 0


def test_create_admin_asks_for_the_password_twice_at_the_terminal(tmp_path: Path) -> None:
    env = clean_env(tmp_path, **ENGLISH)
    assert chorus(["migrate"], env, tmp_path).returncode == 0
    code, shown = run_at_terminal(
        ["create-admin", "--email", "boss@example.com"],
        env,
        tmp_path,
        ["a mistyped one", PASSWORD, PASSWORD, PASSWORD],
    )
    assert code == 0, shown
    assert shown.count("Password for the admin:") == 2 and "The two passwords differ" in shown
    assert "Admin account #" in shown
    assert PASSWORD not in shown and "mistyped" not in shown, "the password was echoed"
    assert can_log_in(env, tmp_path, "boss@example.com", PASSWORD)

    zh = clean_env(tmp_path, **CHINESE)
    code, shown = run_at_terminal(
        ["create-admin", "--email", "zhang@example.com"], zh, tmp_path, [PASSWORD] * 2
    )
    assert code == 0, shown
    assert "管理员密码：" in shown and "再次输入密码：" in shown
    assert can_log_in(zh, tmp_path, "zhang@example.com", PASSWORD)

    # without a terminal (a script, a pipe) there is no prompt: it says what to give instead
    r = subprocess.run(
        [CHORUS, "create-admin", "--email", "x@example.com"],
        env=env,
        cwd=tmp_path,
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "--password" in r.stderr and "CHORUS_ADMIN_PASSWORD" in r.stderr


def test_seed_demo_refuses_in_production(tmp_path: Path) -> None:
    r = chorus(["seed-demo"], clean_env(tmp_path, **ENGLISH, **PRODUCTION), tmp_path)
    assert r.returncode == 2
    assert "refused when CHORUS_ENV=production" in r.stderr
    assert not (tmp_path / "chorus.sqlite").exists(), "it touched the database"
    r = chorus(["seed-demo"], clean_env(tmp_path, **CHINESE, **PRODUCTION), tmp_path)
    assert r.returncode == 2 and "CHORUS_ENV=production 时不能运行" in r.stderr
    # a production setting missing is said plainly, not as a traceback
    r = chorus(["seed-demo"], clean_env(tmp_path, **ENGLISH, CHORUS_ENV="production"), tmp_path)
    assert r.returncode == 2 and "CHORUS_SECRET_KEY is required" in r.stderr
    assert "Traceback" not in r.stderr


def write_bundle(path: Path, evidence: list[bytes]) -> Path:
    """A bundle as Chorus exports it: the files, the chain over them, the manifest."""
    rows: list[tuple[ChainEntry, str, int, str | None]] = []
    prev, files = GENESIS, {}
    for i, data in enumerate(evidence):
        sha = hashlib.sha256(data).hexdigest()
        meta = ChainMeta(case_id=7, evidence_id=100 + i, kind="payment_receipt", uploader_id=3,
                         uploaded_at="2026-11-20T08:00:00.123456Z")  # fmt: skip
        entry = make_entry(i, prev, sha, meta)
        prev = entry.entry_hash
        name = member_name(i, sha, "txt")
        files[name] = data
        rows.append((entry, "text/plain", len(data), name))
    manifest = build_manifest(7, rows, datetime(2026, 11, 25, tzinfo=UTC))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr("manifest.json", dump_manifest(manifest))
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize("env", [ENGLISH, CHINESE], ids=["en", "zh-CN"])
def test_verify_bundle_exit_codes(tmp_path: Path, env: dict[str, str]) -> None:
    good = write_bundle(tmp_path / "good.zip", [b"receipt one", b"receipt two"])
    r = chorus(["verify-bundle", str(good)], clean_env(tmp_path, **env), tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK: 2 entries" in r.stdout

    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, b"receipt 2!!" if info.filename.startswith("evidence/1-") else data)
    r = chorus(["verify-bundle", str(bad)], clean_env(tmp_path, **env), tmp_path)
    assert r.returncode == 1
    assert "entry 1" in r.stdout and "FAILED" in r.stdout

    cannot = "cannot open" if env is ENGLISH else "无法打开"
    for path in (tmp_path / "missing.zip", tmp_path):  # not there; not a readable file
        r = chorus(["verify-bundle", str(path)], clean_env(tmp_path, **env), tmp_path)
        assert r.returncode == 2
        assert f"{cannot} {path}" in r.stderr
        assert r.stdout == ""


def test_env_example_names_every_setting_with_values_that_start_production() -> None:
    """chorus.env.example cannot drift from settings.py: every setting is in it (set, or commented
    out when it must be the operator's own secret), it names no setting that does not exist, and
    its values, with the secrets filled in, are valid production settings."""
    text = (ROOT / "chorus.env.example").read_text(encoding="utf-8")
    named = re.findall(r"^#? ?(CHORUS_[A-Z0-9_]+)=", text, flags=re.MULTILINE)
    fields = {f"CHORUS_{name.upper()}" for name in Settings.model_fields}
    assert fields - set(named) == set(), "settings missing from chorus.env.example"
    assert set(named) - fields == set(), "chorus.env.example names settings that do not exist"
    assert len(named) == len(set(named)), "a setting twice"
    values = dict(re.findall(r"^(CHORUS_[A-Z0-9_]+)=(.*)$", text, flags=re.MULTILINE))
    assert values["CHORUS_ENV"] == "production"
    assert "CHORUS_SECRET_KEY" not in values and "CHORUS_DATA_KEY" not in values, "an empty secret"
    # as systemd's EnvironmentFile= and a shell's `set -a; . file` both read it: quotes removed
    filled = {k.removeprefix("CHORUS_").lower(): v.strip('"') for k, v in values.items()}
    filled |= {"secret_key": "s" * 48, "data_key": "d" * 48}
    settings = Settings(**filled)  # raises if a value is not valid
    assert settings.smtp_port in (465, 587) and settings.smtp_tls != "none"
    assert settings.public_url.startswith("https://") and settings.trusted_proxy_networks
    assert settings.mail_from == "Chorus <chorus@example.org>"
    sourced = subprocess.run(
        ["sh", "-c", 'set -a; . "$0"; set +a; echo "$CHORUS_MAIL_FROM"', str(ROOT / "chorus.env.example")],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert sourced.returncode == 0 and sourced.stdout.strip() == settings.mail_from, sourced.stderr
