"""The one way user Markdown becomes HTML: render, then sanitize against an allow-list."""

from __future__ import annotations

from functools import cache

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
