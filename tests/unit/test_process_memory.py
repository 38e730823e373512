"""What a process loads: the libraries only some processes need stay out of the others (each
costs several megabytes of memory in every web process of a deployment)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from chorus.app import create_app
create_app()
print(json.dumps(sorted(m for m in ("httpx", "obstore", "pygal") if m in sys.modules)))
"""


def test_a_web_app_on_local_storage_loads_no_s3_client_no_http_client_and_no_chart_library(
    tmp_path: Path,
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "CHORUS_ENV": "development",
        "CHORUS_VAR_DIR": f"{tmp_path}/var",
        "CHORUS_STORAGE_DIR": f"{tmp_path}/var/storage",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    # httpx: only the worker sends requests (filings, webhooks); obstore: only an s3:// store;
    # pygal: only a case's chart
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
