"""Tests for chorus.merchants.names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chorus.merchants.names import SUGGESTION_THRESHOLD, core_name, name_similarity, pinyin_key, similar_keys
from chorus.merchants.service import _after_prefix

# ---------------------------------------------------------------------------
# core_name
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("星辰科技有限公司", "星辰"),
        ("星辰网络科技有限公司", "星辰"),
        ("星辰电子商务有限责任公司", "星辰"),
        ("星辰信息技术股份有限公司", "星辰"),
        ("星辰商贸", "星辰"),
        ("星辰贸易商行", "星辰"),
        ("星辰工作室", "星辰"),
        ("星辰卡盟", "星辰"),
        ("星辰官方旗舰店", "星辰"),
        ("星辰专营店", "星辰"),
        ("星辰小店", "星辰"),
        ("星辰店铺", "星辰"),
        ("深圳市星辰科技有限公司", "星辰"),
        ("广东省深圳市星辰科技有限公司", "星辰"),
        ("星巴克（中国）有限公司", "星巴克"),
        ("星辰 卡盟", "星辰"),
        ("【星辰】卡盟", "星辰"),
        ("Acme Trading Co., Ltd.", "acme"),
        ("ACME Technology Limited", "acme"),
        ("Acme Inc.", "acme"),
        ("Acme LLC", "acme"),
        ("Acme Tech Shop", "acme"),
        ("The Acme Store", "acme"),
        ("Golden  Dragon", "golden dragon"),
        ("Golden-Dragon", "golden dragon"),
        ("ＡＣＭＥ　Ｓｈｏｐ", "acme"),
        ("Shopify Fans", "shopify fans"),  # only whole noise words are removed
        ("家乐超市", "家乐超市"),  # no generic "XX市" stripping
        ("星辰Star", "星辰star"),
        ("星辰 Star Shop", "星辰star"),
    ],
)
def test_core_name_strips_noise(name: str, core: str) -> None:
    assert core_name(name) == core


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("官方旗舰店", "官方旗舰店"),
        ("有限公司", "有限公司"),
        ("Shop", "shop"),
        ("Trading Co., Ltd.", "trading co ltd"),
        ("北京", "北京"),
        ("!!!", "!!!"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_core_name_falls_back_when_nothing_distinctive_is_left(name: str, core: str) -> None:
    assert core_name(name) == core


@given(st.text(max_size=60))
def test_core_name_is_non_empty_for_visible_names(name: str) -> None:
    core = core_name(name)
    assert isinstance(core, str)
    if name.strip():
        # Anything visible survives folding; only whitespace-only names give "".
        assert core or not any(ch.isprintable() and not ch.isspace() for ch in name)


# ---------------------------------------------------------------------------
# pinyin_key
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("星辰卡盟", "xingchen"),
        ("星辰", "xingchen"),
        ("xingchen", "xingchen"),
        ("Xing Chen", "xingchen"),
        ("深圳市星辰科技有限公司", "xingchen"),
        ("星辰Star", "xingchenstar"),
        ("小米", "xiaomi"),
    ],
)
def test_pinyin_key(name: str, key: str) -> None:
    assert pinyin_key(name) == key


# ---------------------------------------------------------------------------
# name_similarity
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("星辰卡盟", "星辰卡盟"),
        ("星辰科技有限公司", "星辰科技"),
        ("星辰", "星辰网络科技有限公司"),
        ("深圳市星辰科技有限公司", "星辰卡盟"),
        ("星辰卡盟", "xingchen"),
        ("星辰卡盟", "Xing Chen"),
        ("Acme Trading Co., Ltd.", "ACME"),
        ("ＡＣＭＥ", "acme"),
        ("星巴克（中国）有限公司", "星巴克"),
        ("小米官方旗舰店", "小米"),
    ],
)
def test_same_shop_scores_100(a: str, b: str) -> None:
    assert name_similarity(a, b) == 100.0
    assert name_similarity(b, a) == 100.0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("星辰数码", "星晨数码"),  # homophone typo, caught through pinyin
        ("Acme Widgets", "Acme Widget"),
        ("Golden Dragon Trading", "Dragon Golden"),
        ("nike shoes", "nike shoes outlet"),
        ("深圳市星辰数码科技有限公司", "星辰数码"),
    ],
)
def test_near_spellings_are_suggested(a: str, b: str) -> None:
    assert name_similarity(a, b) >= SUGGESTION_THRESHOLD


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("星辰卡盟", "月亮卡盟"),  # shared noise word only
        ("星辰科技有限公司", "月亮科技有限公司"),
        ("星辰", "星光"),
        ("华为", "小米"),
        ("京东", "淘宝"),
        ("golden dragon", "golden phoenix"),
        ("golden", "golden dragon"),  # a one-word name is not a subset match
        ("apple", "apply"),
        ("Acme Trading Co., Ltd.", "Apex Trading Co., Ltd."),
        ("深圳市星辰科技有限公司", "深圳市月亮科技有限公司"),
    ],
)
def test_different_shops_are_not_suggested(a: str, b: str) -> None:
    assert name_similarity(a, b) < SUGGESTION_THRESHOLD


def test_empty_names_never_match() -> None:
    assert name_similarity("", "星辰") == 0.0
    assert name_similarity("星辰", "   ") == 0.0
    assert name_similarity("", "") == 0.0


def test_threshold_value() -> None:
    assert SUGGESTION_THRESHOLD == 85.0


names = st.text(max_size=40)


@given(a=names, b=names)
@settings(max_examples=300)
def test_similarity_is_bounded_and_symmetric(a: str, b: str) -> None:
    score = name_similarity(a, b)
    assert 0.0 <= score <= 100.0
    assert score == pytest.approx(name_similarity(b, a))


@given(a=names)
def test_similarity_is_reflexive(a: str) -> None:
    if core_name(a):
        assert name_similarity(a, a) == 100.0


@given(
    core=st.text(alphabet="星辰月亮光华东方红阳明天海", min_size=2, max_size=6),
    suffix=st.sampled_from(["", "有限公司", "科技有限公司", "卡盟", "官方旗舰店", "工作室"]),
    prefix=st.sampled_from(["", "深圳市", "浙江省杭州市", "上海"]),
)
def test_legal_form_and_place_never_matter(core: str, suffix: str, prefix: str) -> None:
    assert name_similarity(prefix + core + suffix, core) == 100.0


def test_the_shop_stands_out_among_a_few_hundred_candidates() -> None:
    # its speed over many candidates is measured by bench.resolve, never timed here
    candidates = [f"测试商户{i}号科技有限公司" for i in range(500)] + ["深圳市星辰卡盟科技有限公司"]
    scores = {c: name_similarity("星辰卡盟", c) for c in candidates}
    best = max(scores, key=lambda c: scores[c])
    assert best == "深圳市星辰卡盟科技有限公司" and scores[best] == 100.0
    assert sorted(scores.values())[-2] < 100.0


# names as stored: any characters but surrogates (UTF-8 cannot hold them)
_STORED = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)


@given(prefix=_STORED.filter(bool), name=_STORED, tail=_STORED)
@settings(max_examples=300)
def test_the_names_starting_with_a_prefix_are_the_range_the_suggestions_read(
    prefix: str, name: str, tail: str
) -> None:
    # name_query reads the names starting alike as prefix <= name < _after_prefix(prefix),
    # compared as UTF-8 bytes by PostgreSQL (COLLATE "C") and SQLite: the order of code points
    after = _after_prefix(prefix)
    for candidate in (name, prefix + tail):
        in_range = prefix <= candidate and (after is None or candidate < after)
        assert in_range == candidate.startswith(prefix), (prefix, candidate, after)
        assert (prefix.encode() <= candidate.encode()) == (prefix <= candidate)


# ---------------------------------------------------------------------------
# similar_keys: one name against the candidates a name lookup reads
# ---------------------------------------------------------------------------


def _keys(*names_: str) -> list[tuple[str, str]]:
    return [(core_name(n), pinyin_key(n)) for n in names_]


def test_candidates_scored_at_once_keep_their_places_and_the_threshold() -> None:
    candidates = _keys("星光", "星辰卡盟", "有限公司", "星晨数码", "月亮卡盟", "Xing Chen")
    found = similar_keys(core_name("星辰"), pinyin_key("星辰"), candidates, SUGGESTION_THRESHOLD)
    # the same shop by its name and by its pinyin; not "星光" (59), a name that is only a legal
    # form (no core: like nothing), a longer name ("星晨数码") or another shop of the same trade
    assert found == {1: 100.0, 5: 100.0}
    typo = similar_keys(core_name("星辰数码"), pinyin_key("星辰数码"), candidates, SUGGESTION_THRESHOLD)
    assert sorted(typo) == [3]  # the homophone typo, through its pinyin


@given(query=names, others=st.lists(names, max_size=8))
@settings(max_examples=200)
def test_scores_at_once_are_the_scores_one_by_one(query: str, others: list[str]) -> None:
    scores = similar_keys(core_name(query), pinyin_key(query), _keys(*others))
    assert [scores.get(i, 0.0) for i in range(len(others))] == [name_similarity(query, o) for o in others]
    above = similar_keys(core_name(query), pinyin_key(query), _keys(*others), SUGGESTION_THRESHOLD)
    assert above == {i: s for i, s in scores.items() if s >= SUGGESTION_THRESHOLD}
