"""Dependency audit for `make test`: pip-audit over the project's installed environment.

Three outcomes:
- known vulnerabilities found: each is printed and the audit fails, unless its advisory id
  (or one of its aliases) is listed with a reason in .ci/audit-allowlist.txt;
- the vulnerability service cannot be reached (no network, DNS, refused, time-out, server
  error, or it answered for none of the packages): one line says so and the audit passes;
- nothing found: one summary line, pass.

Usage: python .ci/audit.py [--allowlist FILE] [--report FILE] [pip-audit arguments ...]
Without pip-audit arguments it audits the running interpreter's environment
(`--local --skip-editable`: the editable chorus itself is not looked up on PyPI).
`--report` reads a pip-audit JSON report instead of running pip-audit.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_ALLOWLIST = Path(__file__).with_name("audit-allowlist.txt")
DEFAULT_SOURCE = ["--local", "--skip-editable"]
# What requests/urllib3/pip-audit print when the service is out of reach or failing.
_UNREACHABLE = re.compile(
    r"ConnectionError|ConnectTimeout|ReadTimeout|Timeout|NameResolution|Max retries exceeded"
    r"|Failed to establish a new connection|Temporary failure in name resolution|Could not connect"
    r"|SSLError|ProxyError|RemoteDisconnected|ServiceError|Connection refused|Connection reset"
)
_NOT_FOUND = "not found on PyPI"


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]

    def ids(self) -> set[str]:
        return {self.id, *self.aliases}

    def describe(self) -> str:
        also = f" ({', '.join(self.aliases)})" if self.aliases else ""
        fix = f"fixed in {', '.join(self.fix_versions)}" if self.fix_versions else "no fixed release yet"
        return f"{self.package} {self.version}: {self.id}{also}, {fix}"


@dataclass(frozen=True)
class Verdict:
    exit_code: int
    lines: list[str]


class AllowlistError(ValueError):
    pass


def load_allowlist(path: Path) -> dict[str, str]:
    """`ADVISORY-ID  reason …` per line; `#` starts a comment. A line without a reason is refused."""
    allowed: dict[str, str] = {}
    if not path.exists():
        return allowed
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        vuln_id, _, reason = line.partition(" ")
        if not reason.strip():
            raise AllowlistError(f"{path.name}:{number}: {vuln_id} is listed without a reason")
        allowed[vuln_id.strip()] = reason.strip()
    return allowed


def findings_of(report: dict[str, Any]) -> list[Finding]:
    found = []
    for dep in report.get("dependencies", []):
        for vuln in dep.get("vulns") or []:
            found.append(
                Finding(
                    package=str(dep.get("name")),
                    version=str(dep.get("version")),
                    id=str(vuln["id"]),
                    aliases=tuple(str(a) for a in vuln.get("aliases") or []),
                    fix_versions=tuple(str(v) for v in vuln.get("fix_versions") or []),
                )
            )
    return found


def verdict(
    *, returncode: int, report_text: str | None, stderr: str, allowlist: dict[str, str], service: str
) -> Verdict:
    """Decide the outcome from what pip-audit left behind (its JSON report and its stderr)."""
    report: dict[str, Any] | None = None
    if report_text and report_text.strip():
        try:
            report = json.loads(report_text)
        except json.JSONDecodeError:
            report = None
    if report is None:
        if returncode != 0 and _UNREACHABLE.search(stderr):
            reason = _UNREACHABLE.search(stderr)
            assert reason is not None
            return Verdict(
                0,
                [
                    f"dependency audit skipped: the vulnerability service ({service}) "
                    f"could not be reached ({reason.group(0)})"
                ],
            )
        tail = stderr.strip().splitlines()[-5:]
        return Verdict(1, ["dependency audit failed: pip-audit gave no report", *tail])

    deps = report.get("dependencies", [])
    not_found = [d for d in deps if _NOT_FOUND in str(d.get("skip_reason", ""))]
    audited = [d for d in deps if "skip_reason" not in d]
    if not audited and not_found:
        return Verdict(
            0,
            [
                f"dependency audit skipped: the vulnerability service ({service}) "
                f"answered for none of the {len(not_found)} packages"
            ],
        )

    found = findings_of(report)
    failing = [f for f in found if not (f.ids() & allowlist.keys())]
    allowed = [f for f in found if f.ids() & allowlist.keys()]
    lines = []
    for f in failing:
        lines.append(f"VULNERABLE {f.describe()}")
    for f in allowed:
        vuln_id = sorted(f.ids() & allowlist.keys())[0]
        lines.append(f"allowed    {f.describe()} — {allowlist[vuln_id]}")
    used = {i for f in allowed for i in f.ids()}
    for stale in sorted(allowlist.keys() - used):
        lines.append(f"note: allow-list entry {stale} matched no finding (remove it once fixed)")
    summary = (
        f"dependency audit: {len(audited)} packages checked, {len(failing)} known vulnerabilities, "
        f"{len(allowed)} allow-listed"
    )
    if not_found:
        summary += f", {len(not_found)} not found on the service"
    lines.append(summary)
    return Verdict(1 if failing else 0, lines)


def run_pip_audit(args: list[str]) -> tuple[int, str | None, str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [
            sys.executable,
            "-m",
            "pip_audit",
            *args,
            "-f",
            "json",
            "--progress-spinner",
            "off",
            "--desc",
            "off",
            "-o",
            str(out),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
        text = out.read_text(encoding="utf-8") if out.exists() else None
        return proc.returncode, text, proc.stderr


def _service_of(args: list[str]) -> str:
    for i, arg in enumerate(args):
        if arg in ("-s", "--vulnerability-service") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--vulnerability-service="):
            return arg.split("=", 1)[1]
    return "pypi"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allowlist", type=Path, default=DEFAULT_ALLOWLIST)
    parser.add_argument("--report", type=Path, help="a pip-audit JSON report to judge instead of running it")
    ours, pip_audit_args = parser.parse_known_args(argv)
    try:
        allowlist = load_allowlist(ours.allowlist)
    except AllowlistError as exc:
        print(f"dependency audit failed: {exc}")
        return 1
    if ours.report is not None:
        returncode, text, stderr = 0, ours.report.read_text(encoding="utf-8"), ""
    else:
        returncode, text, stderr = run_pip_audit(pip_audit_args or DEFAULT_SOURCE)
    result = verdict(
        returncode=returncode,
        report_text=text,
        stderr=stderr,
        allowlist=allowlist,
        service=_service_of(pip_audit_args),
    )
    for line in result.lines:
        print(line)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
