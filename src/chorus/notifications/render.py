"""What a notification says, per kind and locale: subject, plain text and HTML, from the files
under ``templates/email/<locale>/notify/`` (no user-facing text in code). Pure: no I/O but
reading templates."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import nh3
from markupsafe import escape

from chorus.i18n import normalize_locale, t
from chorus.markdown import render as markdown_html
from chorus.templating import render as render_template

# Every kind a member can be told of, each with zh-CN and en templates (subject, text, HTML).
KINDS = (
    "case.member_joined",
    "case.merged",
    "case.consent_requested",
    "case.evidence_requested",
    "case.members_arrived",
    "case.merchant_merged",
    "case.status_changed",
    "case.closed",
    "case.organizer_added",
    "case.reappeared",
    "complaint.version_awaits_consent",
    "case.filing_status",
    "case.filing_reply",
    "filing.overdue",
    "evidence.withdrawn",
    "case.announcement",
    "account.email_bouncing",
    "account.webhook_disabled",
    "account.confirm_email",
)
# Told in the app only: they are about the e-mail or webhook channel itself.
IN_APP_ONLY = frozenset({"account.email_bouncing", "account.webhook_disabled"})


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Links:
    """The links a message carries, to pages a person reads (never the JSON API): the case page,
    the inbox, the member's settings, one-click unsubscribe."""

    public_url: str
    unsubscribe_url: str | None = None

    def case(self, case_id: int | None) -> str | None:
        """The case page; None for a message about no case (it then names no case page)."""
        return f"{self.public_url.rstrip('/')}/cases/{case_id}" if case_id else None

    @property
    def inbox(self) -> str:
        return f"{self.public_url.rstrip('/')}/notifications"

    @property
    def preferences(self) -> str:
        return f"{self.public_url.rstrip('/')}/settings"


def _context(locale: str, links: Links, case_id: int | None, **extra: Any) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "case_url": links.case(case_id),
        "inbox_url": links.inbox,
        "prefs_url": links.preferences,
        "unsubscribe_url": links.unsubscribe_url,
        "footer": f"email/{locale}/notify/_footer.txt",
        "layout": f"email/{locale}/notify/_layout.html",
        "t": lambda key, **params: t(key, locale, **params),
        **extra,
    }


def _data(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if kind == "case.announcement":
        out["body_html"] = markdown_html(str(data.get("body", "")))
        # the plain-text part: the Markdown as written, without any markup that is not Markdown
        out["body_text"] = html.unescape(nh3.clean(str(data.get("body", "")), tags=set()))
    return out


def subject(kind: str, locale: str | None, *, case_id: int | None, data: dict[str, Any]) -> str:
    loc = normalize_locale(locale)
    ctx = _context(loc, Links(""), case_id, data=_data(kind, data), recipient="")
    return render_template("email", f"notify/{kind}.subject.txt", loc, **ctx).strip()


def message(
    kind: str,
    locale: str | None,
    *,
    name: str,
    case_id: int | None,
    data: dict[str, Any],
    links: Links,
) -> Rendered:
    """One member's e-mail for one event: ``name`` is the recipient's own display name, the only
    personal data a message carries."""
    loc = normalize_locale(locale)
    ctx = _context(loc, links, case_id, data=_data(kind, data), recipient=name)
    subj = render_template("email", f"notify/{kind}.subject.txt", loc, **ctx).strip()
    text = render_template("email", f"notify/{kind}.txt", loc, **ctx)
    html = render_template("email", f"notify/{kind}.html", loc, subject=subj, **ctx)
    return Rendered(subj, text, html)


def digest(locale: str | None, *, name: str, day: str, items: list[dict[str, Any]], links: Links) -> Rendered:
    """The daily digest: ``items`` are ``{kind, case_id, data}`` of the day's events."""
    loc = normalize_locale(locale)
    entries = [
        {
            "subject": subject(i["kind"], loc, case_id=i["case_id"], data=i["data"]),
            "case_url": links.case(i["case_id"]) or links.inbox,
        }
        for i in items
    ]
    ctx = _context(loc, links, None, recipient=name, day=day, items=entries)
    ctx["case_url"] = None
    subj = render_template("email", "notify/digest.subject.txt", loc, **ctx).strip()
    text = render_template("email", "notify/digest.txt", loc, **ctx)
    html = render_template("email", "notify/digest.html", loc, subject=subj, **ctx)
    return Rendered(subj, text, html)


_NAME, _LINK = "\x00recipient\x00", "\x00unsubscribe\x00"


class Batch:
    """The messages of one event for many members: each (kind, locale) rendered once, with the
    recipient's name and unsubscribe link put in per member (text as is, HTML escaped) — the
    same output as :func:`message`, at a fraction of the cost."""

    def __init__(self, kind: str, *, case_id: int | None, data: dict[str, Any], public_url: str) -> None:
        self.kind, self.case_id, self.data, self.public_url = kind, case_id, data, public_url
        self._cache: dict[str, Rendered] = {}

    def message(self, locale: str | None, *, name: str, unsubscribe_url: str) -> Rendered:
        loc = normalize_locale(locale)
        proto = self._cache.get(loc)
        if proto is None:
            links = Links(self.public_url, _LINK)
            proto = message(self.kind, loc, name=_NAME, case_id=self.case_id, data=self.data, links=links)
            self._cache[loc] = proto
        text = proto.text.replace(_NAME, name).replace(_LINK, unsubscribe_url)
        page = proto.html.replace(_NAME, str(escape(name))).replace(_LINK, str(escape(unsubscribe_url)))
        return Rendered(proto.subject, text, page)
