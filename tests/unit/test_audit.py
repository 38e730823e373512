"""The dependency audit (.ci/audit.py), run as `make test` runs it, with the real pip-audit.

The vulnerability service is a small OSV-protocol server on 127.0.0.1 that knows one advisory
for pillow 10.0.0 (pip-audit's `--osv-url`), or a closed port when the service is unreachable.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "audit.py"
ADVISORY = {
    "id": "GHSA-test-0000-0001",
    "aliases": ["CVE-2099-0001"],
    "summary": "Out-of-bounds write when loading a crafted image",
    "affected": [
        {
            "package": {"name": "pillow", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "12.1.1"}]}],
        }
    ],
}


class _OSV(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        hit = query["package"]["name"] == "pillow" and query["version"] == "10.0.0"
        body = json.dumps({"vulns": [ADVISORY]} if hit else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def osv_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OSV)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


def _audit(tmp_path: Path, url: str, pins: str, allowlist: str = "") -> subprocess.CompletedProcess[str]:
    (tmp_path / "requirements.txt").write_text(pins)
    (tmp_path / "allow.txt").write_text(allowlist)
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--allowlist",
        str(tmp_path / "allow.txt"),
        "-r",
        str(tmp_path / "requirements.txt"),
        "--no-deps",
        "--disable-pip",
        "-s",
        "osv",
        "--osv-url",
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_a_known_vulnerability_fails_the_audit(tmp_path: Path, osv_url: str) -> None:
    r = _audit(tmp_path, osv_url, "pillow==10.0.0\nmultipart==1.3.1\n")
    assert r.returncode == 1, r.stdout + r.stderr
    (line,) = [x for x in r.stdout.splitlines() if x.startswith("VULNERABLE")]
    # pip-audit names the advisory by one id and lists the others as aliases
    assert line.startswith("VULNERABLE pillow 10.0.0: ") and line.endswith(", fixed in 12.1.1")
    assert "GHSA-test-0000-0001" in line and "CVE-2099-0001" in line
    assert "2 packages checked, 1 known vulnerabilities, 0 allow-listed" in r.stdout


def test_a_fixed_release_passes(tmp_path: Path, osv_url: str) -> None:
    r = _audit(tmp_path, osv_url, "pillow==12.3.0\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VULNERABLE" not in r.stdout
    assert "1 packages checked, 0 known vulnerabilities" in r.stdout


def test_an_allow_listed_vulnerability_passes_with_its_reason(tmp_path: Path, osv_url: str) -> None:
    # listed under its alias: pip-audit may name an advisory by either
    r = _audit(
        tmp_path,
        osv_url,
        "pillow==10.0.0\n",
        "# why\nCVE-2099-0001 PSD images are refused before Pillow opens them\n",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (line,) = [x for x in r.stdout.splitlines() if x.startswith("allowed")]
    assert line.startswith("allowed    pillow 10.0.0: ") and "GHSA-test-0000-0001" in line
    assert "PSD images are refused before Pillow opens them" in r.stdout
    assert "VULNERABLE" not in r.stdout


def test_an_allow_list_entry_without_a_reason_fails(tmp_path: Path, osv_url: str) -> None:
    r = _audit(tmp_path, osv_url, "pillow==10.0.0\n", "GHSA-test-0000-0001\n")
    assert r.returncode == 1
    assert "allow.txt:1: GHSA-test-0000-0001 is listed without a reason" in r.stdout


def test_an_unreachable_service_passes_with_one_line(tmp_path: Path) -> None:
    r = _audit(tmp_path, f"http://127.0.0.1:{_closed_port()}/v1/query", "pillow==10.0.0\n")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("dependency audit skipped: the vulnerability service (osv) could not be")


# The last release with a known advisory, per dependency whose floor was raised for it.
VULNERABLE = {
    "pillow": ("12.2.0", "PSD/FITS/ImageDraw advisories of 2026, fixed in 12.1.1, 12.2.0 and 12.3.0"),
    "multipart": ("1.3.0", "header-parameter ReDoS, fixed in 1.3.1 (and 1.2.2)"),
    "jinja2": ("3.1.5", "CVE-2025-27516 sandbox escape, fixed in 3.1.6"),
    "pytest": ("9.0.2", "CVE-2025-71176 tmpdir handling, fixed in 9.0.3"),
    "aiosmtpd": ("1.4.5", "CVE-2024-34083 STARTTLS injection, fixed in 1.4.6"),
    "setuptools": ("78.1.0", "CVE-2025-47273 path traversal, fixed in 78.1.1"),
}


def test_dependency_floors_exclude_releases_with_known_advisories() -> None:
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["dev"],
        *project["build-system"]["requires"],
    ]
    specs: dict[str, list[Requirement]] = {}
    for line in declared:
        req = Requirement(line)
        specs.setdefault(req.name.lower(), []).append(req)
    for name, (last_bad, why) in VULNERABLE.items():
        assert name in specs, name
        for req in specs[name]:
            assert not req.specifier.contains(last_bad, prereleases=True), f"{req} admits {last_bad}: {why}"
