"""What a plain member sees of other victims: name masking and the complaint's member view."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chorus.complaints import build
from chorus.complaints.build import MemberView, build_complaint, build_markdown
from chorus.complaints.redact import mask_name
from chorus.markdown import render
from tests.unit.test_build import complaint


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("陈小明", "陈*"),
        ("欧阳娜娜", "欧*"),
        ("John Smith", "J*"),
        ("  alice", "a*"),
        ("\u202eevil", "e*"),  # a bidi override is not a visible first letter
        ("", "*"),
        ("   ", "*"),
    ],
)
def test_mask_name_examples(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@given(st.text(max_size=40))
def test_mask_name_keeps_at_most_one_character(name: str) -> None:
    masked = mask_name(name)
    assert masked.endswith("*")
    assert len(masked) <= 2
    if len(masked) == 2:
        first = masked[0]
        assert first in name
        assert unicodedata.category(first)[0] not in "CZM"
        # nothing before it in the name was visible
        before = name[: name.index(first)]
        assert all(unicodedata.category(c)[0] in "CZM" for c in before)


@given(st.text(alphabet=st.characters(categories=["Lo", "Lu", "Ll"]), min_size=2, max_size=12))
def test_mask_name_hides_all_but_the_first_letter(name: str) -> None:
    masked = mask_name(name)
    assert masked == name[0] + "*"
    assert name not in masked


# --- the member view of a built complaint -------------------------------------------------------

# from tests.unit.test_build: 11 李雷, 12 韩梅梅, 14 Alice Chen consented; 13 王五 and 15 赵六 did not
OTHERS = {
    11: ("李雷", "lilei", "XC2026100100123", "客服失联"),
    12: ("韩梅梅", "hanmeimei", "XC2026100300456", "发货中"),
    14: ("Alice Chen", "alice.chen", "XC2026100500999", "stopped answering"),
}


@pytest.mark.parametrize("kind", ["samr", "ftc"])  # ftc: contact_disclosure "full"
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_member_view_shows_own_row_and_redacts_the_others(kind: str, locale: str) -> None:
    data = complaint(kind, locale)
    markdown, _, view = build_complaint(data)
    assert markdown == build_markdown(data) == view.full_text()
    for viewer, (name, email, ref, words) in OTHERS.items():
        text = view.text_for(viewer)
        assert name in text and ref in text and words in text
        if kind == "ftc":
            assert f"{email}@" in text  # their own contact as the regulator gets it
        for other, (o_name, o_email, o_ref, o_words) in OTHERS.items():
            if other == viewer:
                continue
            assert o_name not in text
            assert o_email not in text
            assert o_ref not in text
            assert o_words not in text
            assert f"{o_name[0]}\\*" in text  # the masked name, as Markdown
        # everything that is not a named member's piece reads the same: totals, counts, hashes
        pieces = {line for _, full, _ in view.slots for line in full.splitlines()}
        pieces |= {f"### {full}" for _, full, _ in view.slots}  # an evidence group's heading
        shown = set(text.splitlines())
        for line in markdown.splitlines():
            assert line in pieces or line in shown, line
        assert sum(line not in pieces for line in markdown.splitlines()) > 50


def test_member_view_of_a_non_member_or_unnamed_member_redacts_everyone() -> None:
    _, _, view = build_complaint(complaint())
    for viewer in (None, 13, 999):
        text = view.text_for(viewer)
        for name, email, ref, words in OTHERS.values():
            assert name not in text and email not in text and ref not in text and words not in text
    # a member's evidence descriptions are their own words: left out for the others
    assert "与客服的聊天记录" in view.text_for(12)
    assert "与客服的聊天记录" not in view.text_for(11)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_member_s_own_pieces_read_alone(locale: str) -> None:
    """What a named member's printable page of a long text lists first: their pieces as filed, in
    document order, each readable alone: their row under its table's header, their statement,
    the heading of their evidence with its lines; nobody else's."""
    _, _, view = build_complaint(complaint("samr", locale))
    pieces = view.own_pieces(12)
    name, _, ref, words = OTHERS[12]
    row = pieces[0].splitlines()
    assert len(row) == 3 and row[1].startswith("| --- |") and name in row[2] and ref in row[2]
    header = {"zh-CN": "| 姓名 | 联系邮箱 | 损失金额 | 受损日期 | 订单号 |", "en": "| Name | E-mail | Loss |"}
    assert row[0].startswith(header[locale])
    table = render(pieces[0])
    assert table.count("<th>") == 5 and f"<td>{name}</td>" in table
    assert any(words in p for p in pieces) and f"### {name}" in pieces
    assert any(p.startswith("- ") and "SHA-256" in p for p in pieces)  # their evidence lines
    for other, (o_name, _, o_ref, o_words) in OTHERS.items():
        if other != 12:
            assert all(o_name not in p and o_ref not in p and o_words not in p for p in pieces)
    assert view.own_pieces(13) == view.own_pieces(999) == ()  # not named; not a member


def test_member_view_round_trips_through_its_file_format() -> None:
    _, _, view = build_complaint(complaint())
    data = "".join(view.dump()).encode("utf-8")
    again = MemberView.load(data)
    assert again == view
    assert again.text_for(12) == view.text_for(12)
    with pytest.raises(ValueError):
        MemberView.load(data + b"x")
    with pytest.raises(ValueError):
        MemberView.load(b'{"format": "something else"}\n')


def test_member_view_without_the_description_probe_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parts template the probe cannot read falls back to rendering the lines twice."""
    from chorus.complaints import build

    _, _, view = build_complaint(complaint())
    monkeypatch.setattr(build, "_description_wrapper", lambda locale: None)
    _, _, slow = build_complaint(complaint())
    assert slow == view


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_text_filed_names_only_the_members_included(locale: str) -> None:
    """A filing where some named members gave no authorization (chorus.authorizations): those
    included read in full, the others as a plain member sees them; all included is the full
    text, none is the view of someone named in nothing."""
    _, _, view = build_complaint(complaint("samr", locale))
    text = view.text_including({11, 14})
    for member, (name, _, ref, words) in OTHERS.items():
        if member in (11, 14):
            assert name in text and ref in text and words in text
        else:
            assert name not in text and ref not in text and words not in text
            assert f"{name[0]}\\*" in text
    assert view.text_including(set(OTHERS)) == view.full_text()
    assert view.text_including(set()) == view.text_for(None)


@settings(max_examples=500)
@given(parts=st.lists(st.text(alphabet="a\n", max_size=8), max_size=8))
def test_tidying_the_parts_is_tidying_them_joined(parts: list[str]) -> None:
    # the view's texts are tidied part by part (no copies of the whole text): the same result
    assert build._tidy_parts(parts) == build._tidy("".join(parts))
