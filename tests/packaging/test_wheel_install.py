"""A wheel built from the project serves the app: installed into a fresh virtual environment,
run from a folder that is not the checkout, `chorus migrate` and `chorus web` find the
migrations and the static pages inside the installed package.

Runs on the SQLite pass only (tests/run_suites.py runs tests/integration again on PostgreSQL,
not this folder). Nothing is downloaded: the wheel is built without build isolation and
installed without dependencies, which the new environment borrows from the test's own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx

from tests.toolkit import free_port, stop_process, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src", "workers", "migrations", "static")


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]
    assert r.returncode == 0, f"{args}:\n{r.stdout}\n{r.stderr}"
    return r  # type: ignore[no-any-return]


def build_wheel(tmp: Path) -> Path:
    """A copy of the project's sources (a build writes build/ and *.egg-info next to them)."""
    src = tmp / "project"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = tmp / "dist"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(src),
        ]
    )
    (wheel,) = dist.glob("chorus-*.whl")
    return wheel


def fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A new environment with the wheel installed; its dependencies are the test venv's
    (a path entry after its own site-packages, so the installed chorus comes first)."""
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "borrowed-dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ]
    )
    return venv


def test_wheel_install_migrates_and_serves(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    venv = fresh_venv(tmp_path, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHORUS_", "PICCOLO_", "PYTHON"))}
    env.update(
        CHORUS_DATABASE_URL=f"sqlite:///{elsewhere}/chorus.sqlite",
        CHORUS_VAR_DIR=str(elsewhere / "var"),
        CHORUS_REDIS_URL=os.environ["CHORUS_REDIS_URL"],
    )

    where = run(
        [str(venv / "bin" / "python"), "-c", "import chorus; print(chorus.__file__)"], cwd=elsewhere, env=env
    )
    assert where.stdout.strip().startswith(str(venv))  # the installed package, not the checkout

    chorus = str(venv / "bin" / "chorus")
    migrated = run([chorus, "migrate"], cwd=elsewhere, env=env)
    applied = len([p for p in (ROOT / "migrations").glob("*.py") if p.name != "__init__.py"])
    assert f"Applied {applied} migration(s)." in migrated.stdout

    port = free_port()
    log = (tmp_path / "web.log").open("wb")
    proc = subprocess.Popen(
        [chorus, "web", "--port", str(port), "--workers", "1"],
        cwd=elsewhere,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health = wait_until_healthy(proc, base, timeout=60, output=lambda: (tmp_path / "web.log").read_text())
        assert health.json() == {"status": "ok", "database": "ok", "redis": "ok", "storage": "ok"}
        page = httpx.get(f"{base}/verify", params={"token": "abc"})  # the mailed link's page
        assert page.status_code == 200 and 'action="/verify"' in page.text
        home = httpx.get(f"{base}/")  # the home page, its template and catalogs from the package
        assert home.status_code == 200 and "查一查这个商家" in home.text
        assert httpx.get(f"{base}/static/vendor/htmx.org/htmx.min.js").status_code == 200
    finally:
        stop_process(proc)
        log.close()
