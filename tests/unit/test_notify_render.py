"""What notifications say: every kind renders in both locales (subject, text, HTML), byte for byte
as the golden files under tests/unit/golden/notifications/ (regenerate with
CHORUS_UPDATE_GOLDEN=1 and review the diff); no message carries another member's personal data;
webhook signatures; which channels a member's preferences give."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from chorus.notifications import render, webhook
from chorus.notifications.service import Prefs, channels_for, outbound_data

GOLDEN = Path(__file__).parent / "golden" / "notifications"
LINKS = render.Links(
    "https://chorus.example.com", "https://chorus.example.com/api/v1/notifications/unsubscribe?token=T"
)

REGULATOR = "全国12315平台（国家市场监督管理总局）"  # a message about a filing names its regulator
# One realistic event of each kind (what the producers put in ``data``).
SAMPLES: dict[str, dict[str, Any]] = {
    "case.member_joined": {},
    "case.merged": {"from_case": 12, "members_moved": 4, "evidence_moved": 9},
    "case.consent_requested": {"reason": "merged", "from_case": 12},
    "case.members_arrived": {
        "from_case": 12,
        "count": 2,
        "members": [{"display_name": "李娜", "role": "member"}, {"display_name": "王强", "role": "member"}],
        "more": 0,
    },
    "case.merchant_merged": {"merged_merchant_id": 5, "members_moved": 3},
    "case.status_changed": {"status": "filing"},
    "case.closed": {"status": "closed"},
    "case.organizer_added": {},
    "case.evidence_requested": {"reason": "reminder"},
    "case.reappeared": {"name": "月光卡铺", "merchant_id": 7, "new_case_id": 30, "matched_on": ["alipay"]},
    "complaint.version_awaits_consent": {
        "complaint_id": 9,
        "version": 3,
        "regulator_id": 1,
        "regulator": REGULATOR,
    },
    "case.filing_status": {"filing_id": 4, "regulator_id": 1, "regulator": REGULATOR, "status": "accepted"},
    "case.filing_reply": {"filing_id": 4, "regulator_id": 1, "regulator": REGULATOR, "from_regulator": True},
    "filing.overdue": {
        "filing_id": 4,
        "regulator_id": 1,
        "regulator": REGULATOR,
        "status": "submitted",
        "deadline": "2026-12-01",
        "next_step": "ask_acceptance",
    },
    "evidence.withdrawn": {"evidence_id": 31},
    "case.announcement": {
        "announcement_id": 2,
        "title": "12315 已受理",
        "body": "**好消息**<script>x</script>",
    },
    "account.email_bouncing": {},
    "account.webhook_disabled": {},
    "account.confirm_email": {"link": "https://chorus.example.com/notifications/confirm-email?token=C"},
}


def test_every_kind_has_a_sample() -> None:
    assert set(SAMPLES) == set(render.KINDS)


def _rendered(kind: str, locale: str) -> str:
    data = outbound_data(SAMPLES[kind])
    out = render.message(kind, locale, name="陈静", case_id=17, data=data, links=LINKS)
    return f"Subject: {out.subject}\n\n--- text ---\n{out.text}\n--- html ---\n{out.html}"


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CHORUS_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path.name}; run with CHORUS_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("kind", render.KINDS)
def test_every_kind_renders_in_both_locales(kind: str, locale: str) -> None:
    text = _rendered(kind, locale)
    _check(f"{kind}.{locale}.txt", text)
    assert "None" not in text and "{{" not in text
    assert "李娜" not in text and "王强" not in text  # other members' names never leave the inbox
    assert "<script" not in text
    subject = text.splitlines()[0]
    if locale == "zh-CN":
        assert any("\u4e00" <= c <= "\u9fff" for c in subject), subject
        # a Chinese sentence carries its own spacing: no gap after 。：？ (…“已受理”。  监管部门…)
        assert not re.search(r"[。：？！] ", text), re.findall(r".{12}[。：？！] .{12}", text)
    else:
        # its own words; a regulator's name is a name, written as the regulator writes it
        words = subject.replace(str(SAMPLES[kind].get("regulator", "")), "")
        assert words.isascii() or "12315 已受理" in subject, subject


# What each message about one filing names it by: the regulator's name; an event recorded before
# messages carried it (no "regulator" in its data) says "the regulator", as they all did then.
ABOUT_A_FILING = (
    "case.filing_status",
    "case.filing_reply",
    "filing.overdue",
    "complaint.version_awaits_consent",
)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("kind", ABOUT_A_FILING)
def test_a_message_about_a_filing_names_its_regulator(kind: str, locale: str) -> None:
    name = SAMPLES[kind]["regulator"]
    out = render.message(kind, locale, name="陈静", case_id=17, data=SAMPLES[kind], links=LINKS)
    for part in (out.subject, out.text, out.html):
        assert name in part, (kind, part)
    before = {k: v for k, v in SAMPLES[kind].items() if k != "regulator"}
    old = render.message(kind, locale, name="陈静", case_id=17, data=before, links=LINKS)
    for part in (old.subject, old.text, old.html):
        assert "12315" not in part and "None" not in part and "{{" not in part
    if kind != "complaint.version_awaits_consent":  # it never named one
        assert ("监管部门" if locale == "zh-CN" else "regulator") in old.text


# A filing whose regulator asks for more material (补充材料): members read it in plain words, and
# that the organizers will tell them what to add.
NEEDS_INFORMATION_SAYS = {
    "zh-CN": ("监管部门要求补充材料", "组织者会告诉你需要补充什么"),
    "en": ("the regulator asks for more information", "The organizers will tell you what to add"),
}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_filing_needing_information_says_so_in_both_locales(locale: str) -> None:
    sample = {**SAMPLES["case.filing_status"], "status": "needs_info"}
    out = render.message(
        "case.filing_status", locale, name="陈静", case_id=17, data=outbound_data(sample), links=LINKS
    )
    text = f"Subject: {out.subject}\n\n--- text ---\n{out.text}\n--- html ---\n{out.html}"
    _check(f"case.filing_status.needs_info.{locale}.txt", text)
    status, what_next = NEEDS_INFORMATION_SAYS[locale]
    assert status in out.subject
    for part in (out.text, out.html):
        assert status in part and what_next in part
        assert "needs_info" not in part and "{{" not in part


@pytest.mark.parametrize(
    ("locale", "says"), [("zh-CN", "这一日期是暂定的"), ("en", "This date is provisional")]
)
def test_an_overdue_reminder_says_when_its_date_is_provisional(locale: str, says: str) -> None:
    """A deadline counted in working days into a year whose holiday arrangement (调休) is not
    published yet may still move: the reminder says so, and says nothing of it otherwise."""
    sample = {**SAMPLES["filing.overdue"], "deadline": "2027-02-03", "provisional": True}
    out = render.message("filing.overdue", locale, name="陈静", case_id=17, data=sample, links=LINKS)
    for part in (out.text, out.html):
        assert "2027-02-03" in part and says in part and "{{" not in part
    plain = render.message(
        "filing.overdue", locale, name="陈静", case_id=17, data=SAMPLES["filing.overdue"], links=LINKS
    )
    assert says not in plain.text and says not in plain.html


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_digest_renders_in_both_locales(locale: str) -> None:
    items = [
        {"kind": "case.filing_status", "case_id": 17, "data": SAMPLES["case.filing_status"]},
        {"kind": "case.closed", "case_id": 18, "data": {"status": "closed"}},
    ]
    out = render.digest(locale, name="陈静", day="2026-12-01", items=items, links=LINKS)
    _check(
        f"digest.{locale}.txt",
        f"Subject: {out.subject}\n\n--- text ---\n{out.text}\n--- html ---\n{out.html}",
    )
    assert f"{LINKS.public_url}/cases/17" in out.text and f"{LINKS.public_url}/cases/18" in out.html
    assert "https://chorus.example.com/notifications" in out.text  # the inbox, for the rest


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("kind", render.KINDS)
def test_messages_link_to_pages_never_to_the_json_api(kind: str, locale: str) -> None:
    """A person opens the links of an e-mail in a browser: the case page, the settings page, the
    pages of the signed links (unsubscribe, confirm) — never the API's JSON. A message about no
    case names no case page."""
    for case_id in (17, None):
        out = render.message(
            kind, locale, name="陈静", case_id=case_id, data=outbound_data(SAMPLES[kind]), links=LINKS
        )
        for part in (out.text, out.html):
            links = set(re.findall(r"https://chorus\.example\.com[^\s\"<>]*", part))
            assert links <= {
                "https://chorus.example.com/cases/17",
                "https://chorus.example.com/settings",
                "https://chorus.example.com/notifications/confirm-email?token=C",
                LINKS.unsubscribe_url,  # a page on GET (its POST is RFC 8058's one click)
            }, links
            if case_id is None:
                assert "/cases/" not in part


def test_outbound_data_keeps_counts_and_drops_names() -> None:
    data = outbound_data(SAMPLES["case.members_arrived"])
    assert data == {"from_case": 12, "count": 2, "more": 0}


def test_webhook_signature_verifies_and_refuses_tampering() -> None:
    body = webhook.encode({"kind": "case.closed", "case_id": 17})
    stamp = "1764600000"
    signed = webhook.signature("s3cret", stamp, body)
    assert signed.startswith("sha256=") and len(signed) == 7 + 64
    assert webhook.verify("s3cret", stamp, body, signed, now=1764600010)
    assert not webhook.verify("s3cret", stamp, body + b" ", signed, now=1764600010)  # body changed
    assert not webhook.verify("other", stamp, body, signed, now=1764600010)  # another secret
    assert not webhook.verify("s3cret", "1764600001", body, signed, now=1764600010)  # timestamp changed
    assert not webhook.verify("s3cret", stamp, body, signed, now=1764600000 + 3600)  # replayed late
    assert not webhook.verify("s3cret", "soon", body, signed)


@pytest.mark.parametrize(
    ("prefs", "kind", "expected"),
    [
        (Prefs(), "case.closed", ["email"]),
        (Prefs(email="digest"), "case.closed", ["digest"]),
        (Prefs(email="off"), "case.closed", []),
        (Prefs(email="off", webhook_url="https://h.example.com/x"), "case.closed", ["webhook"]),
        (Prefs(webhook_url="https://h.example.com/x", webhook_disabled=True), "case.closed", ["email"]),
        (Prefs(webhook_url="https://h.example.com/x"), "account.webhook_disabled", []),  # in the app only
    ],
)
def test_channels_follow_preferences(prefs: Prefs, kind: str, expected: list[str]) -> None:
    assert channels_for(kind, prefs) == expected


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("kind", render.KINDS)
def test_a_batch_renders_each_member_exactly_as_one_message_would(kind: str, locale: str) -> None:
    data = outbound_data(SAMPLES[kind])
    batch = render.Batch(kind, case_id=17, data=data, public_url=LINKS.public_url)
    for name in ("陈静", 'Tom <&> "Jerry"'):
        link = f"https://chorus.example.com/api/v1/notifications/unsubscribe?token={len(name)}.a-b_c"
        one = render.message(
            kind, locale, name=name, case_id=17, data=data, links=render.Links(LINKS.public_url, link)
        )
        assert batch.message(locale, name=name, unsubscribe_url=link) == one


@pytest.mark.parametrize(
    ("locale", "first", "later"),
    [
        ("zh-CN", "你同意了署名，所以你的名字和陈述在其中", "其中涉及你的内容有变化"),
        (
            "en",
            "You agreed to be named, so your name and your statement are in it",
            "what it says about you changed",
        ),
    ],
)
def test_a_first_version_is_announced_as_written_not_as_changed(locale: str, first: str, later: str) -> None:
    """Version 1 to a regulator (the case's first text, or one to a regulator added later) has
    nothing that changed: the member is told their name and statement are in it."""
    data = SAMPLES["complaint.version_awaits_consent"]
    new = render.message(
        "complaint.version_awaits_consent",
        locale,
        name="陈静",
        case_id=17,
        data={**data, "version": 1},
        links=LINKS,
    )
    again = render.message(
        "complaint.version_awaits_consent", locale, name="陈静", case_id=17, data=data, links=LINKS
    )
    for part in (new.text, new.html):
        assert first in part and later not in part, part
    for part in (again.text, again.html):
        assert later in part and first not in part, part


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_case_status_reads_in_the_words_of_the_case_page(locale: str) -> None:
    """Each status a case can take is told in the same words as on the case page."""
    from typing import get_args

    from chorus.cases.schemas import CaseStatusUpdate
    from chorus.i18n import t

    for status in get_args(CaseStatusUpdate.model_fields["status"].annotation):
        said = render.subject("case.status_changed", locale, case_id=3, data={"status": status})
        assert said.endswith(t(f"page.status.case.{status}", locale)) and "#3" in said, said


def test_one_member_moved_reads_in_the_singular() -> None:
    """English messages about members moved by a merge count them: "1 member", "2 members"."""
    one = render.message(
        "case.members_arrived", "en", name="陈静", case_id=17, data={"from_case": 12, "count": 1}, links=LINKS
    )
    assert one.subject == "1 member arrived in case #17" and "1 member moved from case #12" in one.text
    merged = render.message(
        "case.merged", "en", name="陈静", case_id=17, data={"from_case": 12, "members_moved": 1}, links=LINKS
    )
    assert "1 member moved over" in merged.text and "1 member moved over" in merged.html
