"""The Atom feed of newly reported merchants (``/feeds/merchants.atom``), built with feedgen.

Pure: it turns :class:`NewlyReportedRead` rows into an Atom document. Only what the public
merchant page shows: the merchant's name, where it sells, when it was first and last reported
and how many reported it, as a range (a feed is copied and kept: the exact count is on the page)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator

from chorus import i18n
from chorus.merchants.identifiers import IdentifierKind
from chorus.merchants.schemas import NewlyReportedRead

FEED_PATH = "/feeds/merchants.atom"
# Member count buckets: (lowest count, catalog key suffix).
_BUCKETS = ((100, "100_plus"), (20, "20_99"), (5, "5_19"), (2, "2_4"), (1, "1"))


def member_bucket(count: int) -> str:
    """The catalog key suffix of the range ``count`` falls in."""
    return next(key for low, key in _BUCKETS if count >= low) if count >= 1 else "1"


def platform_label(where: str, t: Callable[..., str]) -> str:
    """淘宝 for "taobao" (catalog ``feed.platform.*``); a site is its own name."""
    key = f"feed.platform.{where}"
    return t(key) if i18n.known(key) else where


def shop_in_words(kind: str, value: str, t: Callable[..., str]) -> tuple[str, str] | None:
    """A platform's shop ("taobao:123456") as its platform's name and the shop's id, ("淘宝",
    "123456"), when the catalog names the platform; None for anything else (shown as it is)."""
    platform, sep, shop_id = value.partition(":")
    if kind != IdentifierKind.SHOP or not sep:
        return None
    named = platform_label(platform, t)
    return (named, shop_id) if named != platform else None


def atom(
    merchants: Sequence[NewlyReportedRead],
    *,
    base_url: str,
    locale: str,
    t: Callable[..., str],
    day: Callable[[datetime], str],
) -> bytes:
    """The feed as UTF-8 Atom XML. ``t`` translates catalog keys in ``locale``; ``day`` formats a
    date for the entries' summaries."""
    base = base_url.rstrip("/")
    feed_url = base + FEED_PATH
    fg = FeedGenerator()
    fg.id(feed_url)
    fg.title(t("feed.merchants.title"))
    fg.subtitle(t("feed.merchants.subtitle"))
    fg.author({"name": t("page.common.site_name"), "uri": base + "/"})
    fg.link(href=feed_url, rel="self", type="application/atom+xml")
    fg.link(href=base + "/", rel="alternate", type="text/html")
    fg.language(locale)
    fg.generator("Chorus")
    newest = max((m.last_reported for m in merchants), default=None)
    fg.updated(newest or datetime(2026, 1, 1, tzinfo=UTC))
    for m in merchants:
        url = f"{base}/merchants/{m.id}"
        entry = fg.add_entry(order="append")
        entry.id(url)
        entry.title(m.name)
        entry.link(href=url, rel="alternate", type="text/html")
        entry.published(m.first_reported)
        entry.updated(m.last_reported)
        labels = [platform_label(where, t) for where in m.platforms]
        for where, label in zip(m.platforms, labels, strict=True):
            entry.category(term=where, label=label)
        entry.summary(
            t(
                "feed.merchants.summary",
                platforms=i18n.join_list(labels, locale) or t("feed.merchants.no_platform"),
                first=day(m.first_reported),
                last=day(m.last_reported),
                members=t(f"feed.merchants.members_{member_bucket(m.member_count)}"),
            )
        )
    document: bytes = fg.atom_str(pretty=True)
    return document
