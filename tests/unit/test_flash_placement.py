"""Where a form's notice shows (web/pages.py ``redirect``): a redirect to a part of a page
(``/cases/1#ladder``) lands the browser on that part, so the notice ("进度已保存") must be there,
not at the top of the page out of sight. The part's template shows it with
``flash_here("<id>")``; a redirect to a part with no such call would lose its notice."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import chorus

SRC = Path(chorus.__file__).parent


def _fragment(node: ast.expr, constants: dict[str, str]) -> tuple[str, bool] | None:
    """The ``#part`` a redirect target names, and whether it goes on at run time
    (``#filing-{id}``: a prefix); None when it names no part."""
    parts: list[str] = []
    dynamic = False
    pieces = node.values if isinstance(node, ast.JoinedStr) else [node]
    for piece in pieces:
        if isinstance(piece, ast.Constant) and isinstance(piece.value, str):
            parts.append(piece.value)
        elif (
            isinstance(piece, ast.FormattedValue)
            and isinstance(piece.value, ast.Name)
            and piece.value.id in constants
        ):
            parts.append(constants[piece.value.id])
        elif "#" in "".join(parts):
            dynamic = True
            break
        else:
            parts.append("\0")  # a path part: not a fragment
    target = "".join(parts)
    if "#" not in target:
        return None
    return target.partition("#")[2], dynamic


def redirects_to_parts() -> dict[str, tuple[str, bool]]:
    """Every ``redirect(..., "<path>#<part>", flash=...)`` in the code: where → (part, dynamic)."""
    found: dict[str, tuple[str, bool]] = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            t.id: n.value.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            and isinstance(n.value, ast.Constant)
            and isinstance(n.value.value, str)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        for call in ast.walk(tree):
            if not (
                isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "redirect"
            ):
                continue
            if len(call.args) < 2 or not any(k.arg == "flash" for k in call.keywords):
                continue
            part = _fragment(call.args[1], constants)
            if part is not None:
                found[f"{path.relative_to(SRC)}:{call.lineno}"] = part
    return found


def parts_that_show_notices() -> tuple[set[str], set[str]]:
    """The parts whose templates call flash_here: whole ids, and prefixes (``"filing-" ~ f.id``)."""
    whole: set[str] = set()
    prefixes: set[str] = set()
    call = re.compile(r"""flash_here\(\s*["']([a-z0-9-]+)["']\s*(~)?""")
    for path in (SRC / "templates").rglob("*.html"):
        for name, goes_on in call.findall(path.read_text(encoding="utf-8")):
            (prefixes if goes_on else whole).add(name)
    return whole, prefixes


def test_every_part_a_form_sends_back_to_shows_its_notice() -> None:
    found = redirects_to_parts()
    # the pattern still finds them: the ladder, consent, membership, representative, filings,
    # regulators' forms
    assert len(found) >= 13, found
    whole, prefixes = parts_that_show_notices()
    lost = {
        where: part
        for where, (part, dynamic) in found.items()
        if not (part in prefixes if dynamic else part in whole or any(part.startswith(p) for p in prefixes))
    }
    assert not lost, lost
