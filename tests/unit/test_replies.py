"""Reply addresses (signed, with their issue day) and who a reply is from (chorus.filings.replies)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chorus.filings.replies import Address, expired, filing_of, from_regulator, reply_address, sender_address

DOMAIN = "replies.chorus.example.com"
KEY = "k" * 32
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_an_address_carries_its_filing_and_issue_day_under_the_signature() -> None:
    address = reply_address(42, DOMAIN, KEY, today=date(2026, 11, 20))
    assert address.startswith("filing-42-20777-") and address.endswith("@" + DOMAIN)
    assert filing_of(address, DOMAIN, KEY) == Address(42, date(2026, 11, 20))
    assert filing_of(address.upper().replace(DOMAIN.upper(), DOMAIN), DOMAIN, KEY) == Address(
        42, date(2026, 11, 20)
    )
    local = address.split("@")[0]
    signature = local.rsplit("-", 1)[1]
    for forged in (
        f"filing-43-20777-{signature}@{DOMAIN}",  # another filing
        f"filing-42-29999-{signature}@{DOMAIN}",  # a later issue day, to outlive the expiry
        f"filing-42-{signature}@{DOMAIN}",  # the old format, without an issue day
        f"{local}@other.example.com",
    ):
        assert filing_of(forged, DOMAIN, KEY) is None, forged
    assert filing_of(address, DOMAIN, "another key") is None


def test_an_address_is_good_while_the_filing_is_live_and_for_the_margin_after_it_ended() -> None:
    created = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    address = Address(42, date(2026, 1, 5))
    assert not expired(address, created=created, ended=None, now=NOW, margin_days=30)  # live: a year on
    ended = NOW - timedelta(days=30)
    assert not expired(address, created=created, ended=ended + timedelta(minutes=1), now=NOW, margin_days=30)
    assert expired(address, created=created, ended=ended - timedelta(minutes=1), now=NOW, margin_days=30)
    assert expired(address, created=created, ended=NOW - timedelta(days=1), now=NOW, margin_days=0)


def test_an_address_issued_before_its_filing_existed_is_not_good() -> None:
    """A database restored or reset reuses filing ids: an old address must not reach the new one."""
    created = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert expired(Address(42, date(2026, 11, 29)), created=created, ended=None, now=NOW, margin_days=30)
    assert not expired(Address(42, date(2026, 11, 30)), created=created, ended=None, now=NOW, margin_days=30)


@pytest.mark.parametrize(
    ("sender", "regulator", "expected"),
    [
        ("complaints@amr.example.gov.cn", "complaints@amr.example.gov.cn", True),
        ('"某市市场监管局" <Complaints@AMR.example.gov.cn>', "complaints@amr.example.gov.cn", True),
        ("officer.li@amr.example.gov.cn", "complaints@amr.example.gov.cn", True),  # same domain
        ("noreply@mail.amr.example.gov.cn", "complaints@amr.example.gov.cn", True),  # a subdomain
        ("someone@example.com", "complaints@amr.example.gov.cn", False),
        ("x@evilamr.example.gov.cn.attacker.com", "complaints@amr.example.gov.cn", False),
        ("x@notamr.example.gov.cn", "complaints@amr.example.gov.cn", False),
        ("12315@qq.com", "12315@qq.com", True),
        ("anyone@qq.com", "12315@qq.com", False),  # a shared mailbox provider: exact address only
        ("", "complaints@amr.example.gov.cn", False),
        ("not an address", "complaints@amr.example.gov.cn", False),
        ("complaints@amr.example.gov.cn", "https://amr.example.gov.cn/form", False),
    ],
)
def test_a_reply_is_from_the_regulator_when_its_sender_is_the_regulators_address_or_domain(
    sender: str, regulator: str, expected: bool
) -> None:
    assert from_regulator(sender, regulator) is expected


def test_sender_address() -> None:
    assert sender_address('"Li" <Li@Example.COM>') == "li@example.com"
    assert sender_address("nobody") == ""
