"""The one way user Markdown becomes HTML (render, then sanitize against an allow-list), the
one way plain text goes into a generated Markdown document (``inline``, ``literal``,
``quote_statement``: escaped so nothing a user typed becomes markup), and the way back from one
line of such a document to what a reader sees (``plain_line``, for showing changes line by line)."""

from __future__ import annotations

import html
import re
from functools import cache
from typing import NamedTuple

import markdown as md
import nh3

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "em",
    "b",
    "i",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "del",
    "sup",
    "sub",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


@cache
def _renderer() -> md.Markdown:
    return md.Markdown(extensions=["tables", "fenced_code", "sane_lists"], output_format="html")


def _clean(html: str, attributes: dict[str, set[str]]) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=attributes,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def render(text: str) -> str:
    """Markdown → safe HTML: no scripts, no event attributes, no raw HTML, only http(s)/mailto links."""
    renderer = _renderer()
    renderer.reset()
    return _clean(renderer.convert(text), ALLOWED_ATTRIBUTES)


def render_document(text: str) -> tuple[str, str]:
    """A whole document (a complaint): the same sanitizer, plus heading anchors and a table of
    contents. Returns (body HTML, table-of-contents HTML)."""
    renderer = md.Markdown(
        extensions=["tables", "fenced_code", "sane_lists", "toc"],
        extension_configs={"toc": {"toc_depth": "2-3", "slugify": _slug}},
        output_format="html",
    )
    body = renderer.convert(text)
    toc = getattr(renderer, "toc", "")
    anchored = {
        **ALLOWED_ATTRIBUTES,
        **{h: {"id"} for h in ("h1", "h2", "h3", "h4")},
        "div": {"class"},
        "a": {"href", "title"},
    }
    return _clean(body, anchored), _clean(toc, {"a": {"href"}, "div": {"class"}})


def _slug(value: str, separator: str) -> str:
    # Chinese headings have no ASCII letters to slug: number them by content hash instead.
    import hashlib

    return "s-" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:10]


# --- plain text into Markdown ------------------------------------------------------------------
# What users typed (names, statements, identifiers) placed in a generated Markdown document: no
# markup, link, raw HTML or line break of theirs survives, whatever renders the document later.

# Line breaks of every flavour (CommonMark only knows \n, \r\n and \r; the others are
# folded too so that no renderer can see a line we did not quote).
_NEWLINES = re.compile(r"\r\n|[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# C0/C1 controls (tab and newline are handled separately) and bidi embeddings,
# overrides and isolates, which can make a text read differently from what it says.
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069]")
_INLINE_ESCAPE = re.compile(r"([\\`*_\[\]|#])")
_STATEMENT_ESCAPE = re.compile(r"([\\\[\]])")
_HTML_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
# Safe for a code span: printable ASCII without backtick, angle brackets or pipe.
_CODE_SAFE = re.compile(r"[!-~](?:[ !-~]*[!-~])?")
_CODE_UNSAFE = frozenset("`<>|")


def _scheme_pattern() -> re.Pattern[str]:
    """Dangerous URL schemes, also spelled with entities, case tricks or junk between letters."""
    # What browsers drop inside a URL (tab, newline, other controls) or readers do not see.
    junk = (
        r"(?:[\s\x00-\x1f\x7f\u00ad\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]"
        r"|&(?:#0*(?:9|10|13|32|160);?|#x0*(?:9|a|d|20|a0);?|tab;|newline;|nbsp;))*"
    )

    def letter(ch: str) -> str:
        codes = sorted({ord(ch.lower()), ord(ch.upper())})
        spelled = "|".join(f"&#0*{c};?|&#x0*{c:x};?" for c in codes)
        return f"(?:{ch}|{spelled})"

    colon = r"(?::|&#0*58;?|&#x0*3a;?|&colon;)"
    # "data:" is also a word of prose: only defanged where it can start a URL ("see data:text/html").
    data_head, data_tail = r"(?<![a-z0-9+.\-])", r"(?![\s\u3000])"
    schemes = []
    for word, head, tail in (("javascript", "", ""), ("vbscript", "", ""), ("data", data_head, data_tail)):
        schemes.append(f"{head}(?P<{word}>{junk.join(letter(c) for c in word)}){junk}{colon}{tail}")
    return re.compile("|".join(schemes), re.IGNORECASE)


_DANGEROUS_SCHEME = _scheme_pattern()


def _defang_schemes(text: str) -> str:
    """``javascript:alert(1)`` → ``javascript：alert(1)`` (a full-width colon is no scheme)."""
    return _DANGEROUS_SCHEME.sub(lambda m: f"{m.lastgroup}\uff1a", text)


# Raw HTML is dropped, not shown: elements whose content is code go whole, other tags
# (with quoted attribute values that may contain ">") and comments go, their text stays.
# Written to run in linear time on hostile input (no scan to the end per "<").
_CODE_OPEN = re.compile(
    r"<(script|style|iframe|object|embed|template|noscript|textarea|title|xmp|svg|math)\b[^<>]*>",
    re.IGNORECASE,
)
_ATTRIBUTES = r"""(?:[^<>"']|"[^"\n]*"|'[^'\n]*')*"""  # quoted values may hold "<" or ">"
_TAG = re.compile(
    rf"</?[A-Za-z][A-Za-z0-9:\-]*(?:\s{_ATTRIBUTES})?/?>"  # a whole tag, maybe over several lines
    r"|</?[A-Za-z][A-Za-z0-9:\-]*(?:[^\S\n][^>\n]*)?>?"  # an unfinished one: up to ">" or the line end
    r"|<![A-Za-z\[][^<>]*>|<\?[^<>]*>",
)


def _drop_comments(text: str) -> str:
    out, pos = [], 0
    while (start := text.find("<!--", pos)) != -1:
        end = text.find("-->", start + 4)
        if end == -1:
            break  # no later comment can be closed either
        out.append(text[pos:start])
        pos = end + 3
    out.append(text[pos:])
    return "".join(out)


def _drop_code_elements(text: str) -> str:
    lowered = text.lower()
    out, pos = [], 0
    unclosed: set[str] = set()
    for opening in _CODE_OPEN.finditer(text):
        name = opening.group(1).lower()
        if opening.start() < pos or name in unclosed:
            continue
        close = lowered.find(f"</{name}", opening.end())
        end = lowered.find(">", close) if close != -1 else -1
        if end == -1:
            unclosed.add(name)  # later openings of this element are not closed either
            continue
        out.append(text[pos : opening.start()])
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def _strip_html(text: str) -> str:
    return _TAG.sub("", _drop_code_elements(_drop_comments(text)))


def _html_escape(text: str) -> str:
    for raw, entity in _HTML_ESCAPES:
        text = text.replace(raw, entity)
    return text


def _fold(text: str) -> str:
    """Line breaks of every kind as \\n; invisible controls and bidi marks dropped."""
    return _INVISIBLE.sub("", _NEWLINES.sub("\n", text))


# Text with none of the characters that inline() escapes, strips or defangs (markup, "<", "&",
# ":" of a URL scheme, line breaks, controls, bidi marks): only its whitespace is folded.
_PLAIN = re.compile(r"[^\\`*_\[\]|#<>&:\r\n\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*")


# Text whose only characters inline() changes are Markdown's ("*", "[", "#", ...): no "<", ">",
# "&" or ":" (HTML, entities, URL schemes), no line break, control or bidi mark.
_MARKUP_ONLY = re.compile(r"[^<>&:\r\n\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*")


def inline(text: str) -> str:
    """One line of plain text as Markdown: no markup, link, HTML or line break survives."""
    if _PLAIN.fullmatch(text):
        return " ".join(text.split())  # the common case, tens of thousands of times per build
    if _MARKUP_ONLY.fullmatch(text):  # the next most common ("截图 *第2张*"): escaped, nothing else
        return _INLINE_ESCAPE.sub(r"\\\1", " ".join(text.split()))
    return _inline_any(text)


def _inline_any(text: str) -> str:
    """``inline`` for any text (what the fast path must always agree with)."""
    flat = " ".join(_strip_html(_fold(text)).split())
    return _html_escape(_INLINE_ESCAPE.sub(r"\\\1", _defang_schemes(flat)))


# Printable ASCII words, single spaces between them, none of "`<>|": what literal() puts in a
# code span as it is (folding and re-spacing would leave it unchanged).
_LITERAL_PLAIN = re.compile(r"[!-;=?-_a-{}~]+(?: [!-;=?-_a-{}~]+)*")


def literal(text: str) -> str:
    """An identifier-like value shown verbatim: a code span when it is plain ASCII, else ``inline``."""
    if _LITERAL_PLAIN.fullmatch(text):
        return f"`{text}`"  # the common case (order numbers, masked e-mails), tens of thousands of times
    return _literal_any(text)


def _literal_any(text: str) -> str:
    """``literal`` for any text (what its fast path must always agree with)."""
    value = " ".join(_fold(text).split())
    if _CODE_SAFE.fullmatch(value) and not _CODE_UNSAFE.intersection(value):
        return f"`{value}`"
    return inline(value)


# "#" opening a line, also after list markers ("- # x", "1. # x" are headings inside list items).
_ATX_HEADING = re.compile(r"((?: {0,3}(?:[-+*]|[0-9]{1,9}[.)])(?= ))* {0,3})(#)")
_SETEXT_UNDERLINE = re.compile(r" {0,3}(?:=+|-+) *")


# Text that quote_statement's passes leave as it is: no line break but \n, no control or bidi
# character, no tab, no "<" (HTML), "&" or ":" (a URL scheme, also spelled with entities),
# no "\\", "[", "]", ">" (escaped) and no "#" (a heading).
_STATEMENT_PLAIN = re.compile(
    r"[^\\\[\]&<>#:\t\r\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*"
)


def quote_statement(text: str) -> str:
    """A member's Markdown statement as a block quote that cannot escape or inject.

    - every line starts with ``>`` (blank lines become ``>``), so nothing after it is
      read as part of the surrounding document;
    - raw HTML is removed (tags, comments, and script/style-like elements with their
      content), and any remaining ``&``, ``<`` and ``>`` become entities: no tag,
      attribute or comment survives, in the Markdown or in any rendering of it;
    - ``[`` and ``]`` (and backslashes) are escaped: no link, image or reference
      definition can be formed, whatever the target;
    - ``javascript:``, ``vbscript:`` and ``data:`` (also spelled with entities, mixed
      case or junk characters between the letters) lose their colon;
    - ATX headings are escaped and setext underlines separated from the line above,
      so a statement cannot open a section of the document.

    Emphasis, lists and line breaks are kept. Returns "" for a blank statement.
    """
    # what none of the passes below would change goes past them (most statements: thousands
    # of them in a large case's complaint)
    return _quote(text, _STATEMENT_PLAIN.fullmatch(text) is not None)


def _quote_statement_any(text: str) -> str:
    """``quote_statement`` through every pass (what its fast path must always agree with)."""
    return _quote(text, False)


def _quote(text: str, plain: bool) -> str:
    cleaned = text if plain else _defang_schemes(_strip_html(_fold(text)).expandtabs(4))
    lines = cleaned.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    out: list[str] = []
    for raw in lines:
        if plain:
            line = raw
        else:
            line = _html_escape(_STATEMENT_ESCAPE.sub(r"\\\1", raw))
            line = _ATX_HEADING.sub(r"\1\\\2", line, count=1) if _ATX_HEADING.match(line) else line
        if not line.strip():
            out.append(">")
            continue
        if _SETEXT_UNDERLINE.fullmatch(line) and out and out[-1] != ">":
            out.append(">")  # "text\n===" would make "text" a heading
        out.append(f"> {line}")
    return "\n".join(out)


# --- one line of a generated document, as a reader sees it -----------------------------------------

_QUOTE_MARK = re.compile(r" {0,3}> ?")
_HEADING_LINE = re.compile(r" {0,3}#{1,6}(?: +(.*?))?(?: +#+)? *")
_TABLE_RULE = re.compile(r" *\|?(?: *:?-+:? *\|)+(?: *:?-+:? *)? *")
_TABLE_PIPE = re.compile(r"(?<!\\)\|")
_BULLET = re.compile(r"( *)[-+*] +")
# left to right: an escaped character, a code span, a bold mark (each escape is read before a tick
# or a star it would escape)
_INLINE_MARK = re.compile(r"\\([!-/:-@\[-`{-~])|(`+)(.+?)\2|\*\*|__")


class PlainLine(NamedTuple):
    text: str
    heading: bool = False


def plain_line(line: str) -> PlainLine:
    """One line of a Markdown document that ``inline``/``literal``/``quote_statement`` wrote, as
    its reader sees it: no quote marks, heading hashes, code ticks, bold marks, backslash escapes
    or entities; a table row as its cells (its rule as nothing), a list item with a bullet.
    Plain text, to be escaped when shown (a line seen out of its document: a diff)."""
    text = line
    while quote := _QUOTE_MARK.match(text):  # statements are block quotes
        text = text[quote.end() :]
    heading = _HEADING_LINE.fullmatch(text)
    if heading:
        text = heading[1] or ""
    elif _TABLE_RULE.fullmatch(text):
        return PlainLine("")
    elif text.lstrip().startswith("|"):
        cells = _TABLE_PIPE.split(text.strip().removeprefix("|").removesuffix("|"))
        text = " | ".join(c.strip() for c in cells)
    elif bullet := _BULLET.match(text):
        text = f"{bullet[1]}• {text[bullet.end() :]}"
    return PlainLine(html.unescape(_INLINE_MARK.sub(_unmark, text)), heading is not None)


def _unmark(found: re.Match[str]) -> str:
    if found[1] is not None:
        return found[1]  # the escaped character
    return found[3] or ""  # a code span's text; a bold mark goes
