"""The README's curl tour is true (issue 18 item 6): tests/packaging/curl_tour.sh, whose commands
the README shows, runs against Chorus started as `make run` starts it (`chorus migrate`,
`chorus seed-demo --regulator-sim URL`, `chorus run --regulator-sim PORT`: web, worker, an
embedded Redis and the regulator simulator) in a directory of its own; it registers, opens the
verification link from the mail under var/outbox/, logs in, reports, uploads evidence, builds and
files a complaint with the demo regulator, and watches the filing leave ``queued``. Afterwards the
database says the same: the tour's filing was received by the simulator (a reference) and its
case holds the uploaded evidence. The README shows every API call the script makes.

Runs on the SQLite pass (the embedded default the README describes); needs bash, curl and jq."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.toolkit import CHORUS, free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
TOUR = ROOT / "tests" / "packaging" / "curl_tour.sh"
README = ROOT / "README.md"

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("bash", "curl", "jq")), reason="the tour needs bash, curl and jq"
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHORUS_", "PICCOLO_"))}
    env.update(
        CHORUS_ENV="development",
        CHORUS_DATABASE_URL=f"sqlite:///{home}/var/chorus.sqlite",
        CHORUS_VAR_DIR=str(home / "var"),
        CHORUS_STORAGE_DIR=str(home / "var" / "storage"),
        CHORUS_STATUS_POLL_SECONDS="5",
    )
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    r = subprocess.run([*CHORUS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"chorus {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def test_the_readme_tour_runs_against_make_run(tmp_path: Path) -> None:
    home = tmp_path / "site"
    home.mkdir()
    env = _env(home)
    port, sim = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env["CHORUS_PUBLIC_URL"] = base
    _run(["migrate"], env, home)
    _run(["seed-demo", "--regulator-sim", f"http://127.0.0.1:{sim}/v1"], env, home)
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [*CHORUS, "run", "--port", str(port), "--regulator-sim", str(sim)],
        env=env,
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_healthy(proc, base, timeout=180, output=lambda: (tmp_path / "run.log").read_text()[-3000:])
        tour = subprocess.run(
            ["bash", str(TOUR)],
            env={**env, "BASE": base, "OUTBOX": str(home / "var" / "outbox"), "WAIT": "180"},
            cwd=home,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert tour.returncode == 0, (
            f"{tour.stdout}\n{tour.stderr}\n{(tmp_path / 'run.log').read_text()[-3000:]}"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()

    done = re.search(r"tour done: case (\d+), filing (\d+) is (\w+)", tour.stdout)
    assert done, tour.stdout
    assert done.group(3) in ("submitted", "received", "accepted", "in_mediation", "resolved")
    # the filing reached the simulator: its answer's reference is on the filing
    shown = json.loads(tour.stdout[tour.stdout.rindex('{\n  "status"') : tour.stdout.rindex("}") + 1])
    assert shown["status"] == done.group(3) and shown["reference"]
    assert "1. register" in tour.stderr and "9. watch the filing's status" in tour.stderr
    # the upload answered with its place in the evidence chain
    assert re.search(r'"chain_index":\s*0', tour.stdout) and '"sha256"' in tour.stdout


def test_the_readme_shows_the_tour_s_calls() -> None:
    """Each API call the script makes is in the README's tour, with the same method and path."""
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("## A tour with curl") :]
    section = section[: section.index("\n## ", 3)]
    script = TOUR.read_text(encoding="utf-8")
    calls = set(re.findall(r"\$BASE(/api/v1/[\w/$]+)", script))
    assert calls, "the script calls no API"
    for path in calls:
        assert f"$BASE{path}" in section, f"the README's tour does not show {path}"
    assert "var/outbox" in section and "bash tests/packaging/curl_tour.sh" in section
    # "Two commands" stays the README's first section
    assert readme.index("## Two commands") < readme.index("## A tour with curl")
    assert re.findall(r"^## (.+)$", readme, re.M)[0] == "Two commands"
