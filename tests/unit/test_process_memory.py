"""What a process holds: the libraries only some processes need stay out of the others (each
costs several megabytes in every web process of a deployment), and memory a large piece of work
let go of goes back to the system (chorus.memory)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

LOADED = """
import json, sys
from chorus.app import create_app
create_app()
print(json.dumps(sorted(m for m in ("httpx", "obstore", "pygal") if m in sys.modules)))
"""

# Megabyte-sized blocks (a large complaint's texts, the database driver's buffers) made and let
# go of between smaller ones that stay, as a request does, after a first large block was freed.
LARGE_WORK = """
import json, sys
from chorus.app import create_app

def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

if sys.argv[1] == "web":
    create_app()
first = bytearray(16 << 20)
del first
pairs = [(bytearray(2 << 20), bytearray(2000)) for _ in range(50)]
kept = [small for _, small in pairs]
blocks = [big for big, _ in pairs]
del pairs
held = rss_mb()
del blocks
print(json.dumps({"held": held, "after": rss_mb()}))
"""


def _python(code: str, *args: str, tmp_path: Path) -> Any:
    """``code`` run by a fresh interpreter with a development configuration on local storage;
    the JSON of its last line."""
    env = {
        "PATH": "/usr/bin:/bin",
        "CHORUS_ENV": "development",
        "CHORUS_VAR_DIR": f"{tmp_path}/var",
        "CHORUS_STORAGE_DIR": f"{tmp_path}/var/storage",
    }
    command = [sys.executable, "-c", code, *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_web_app_on_local_storage_loads_no_s3_client_no_http_client_and_no_chart_library(
    tmp_path: Path,
) -> None:
    # httpx: only the worker sends requests (filings, webhooks); obstore: only an s3:// store;
    # pygal: only a case's chart
    assert _python(LOADED, tmp_path=tmp_path) == []


def test_a_web_process_gives_back_the_memory_of_large_blocks_it_let_go_of(tmp_path: Path) -> None:
    """The 100 MB of 2 MiB blocks are returned to the system once freed (chorus.memory's
    map_large_blocks, which the app factory applies); glibc left alone keeps them in its heap."""
    web = _python(LARGE_WORK, "web", tmp_path=tmp_path)
    assert web["held"] - web["after"] > 90
    plain = _python(LARGE_WORK, "plain", tmp_path=tmp_path)
    assert plain["held"] - plain["after"] < 10  # what the setting changes: without it, all kept
