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


def render(text: str) -> str:
    """Markdown → safe HTML: no scripts, no event attributes, no raw HTML, only http(s)/mailto links."""
    renderer = _renderer()
    renderer.reset()
    html = renderer.convert(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
