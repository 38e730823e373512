"""Merchant display-name similarity, used only to *suggest* existing merchants.

Names are never proof of identity (anyone can call a shop anything), so nothing here
merges merchants; callers show the best matches and let a person decide.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from rapidfuzz import fuzz, process

__all__ = [
    "SUGGESTION_THRESHOLD",
    "core_name",
    "key_similarity",
    "name_similarity",
    "pinyin_key",
    "similar_keys",
]

# Calibrated on the cases in tests/unit/test_names.py. Spellings of one shop (with or
# without legal form or place prefix, full-width, pinyin, homophone typo, plural) score
# 95-100; unrelated shops sharing one word score about 60-70 ("星辰" vs "星光" 59,
# "golden dragon" vs "golden phoenix" 67). 85 leaves a margin on both sides. Short
# names one letter apart ("apple" vs "apply", 80) are deliberately not suggested:
# short names collide too easily, and a wrong suggestion invites a wrong merge.
SUGGESTION_THRESHOLD = 85.0

# Legal forms and trade words that say nothing about *which* merchant it is.
# Removed as substrings, longest first ("股份有限公司" before "公司").
_CJK_NOISE = (
    "股份有限公司", "有限责任公司", "有限公司", "分公司", "公司", "集团", "个体工商户",
    "电子商务", "科技", "网络", "信息", "技术", "商贸", "贸易", "实业", "工作室",
    "商行", "商城", "旗舰店", "专营店", "专卖店", "官方", "店铺", "网店", "小店", "卡盟",
)  # fmt: skip
_CJK_NOISE_RE = re.compile("|".join(sorted(map(re.escape, _CJK_NOISE), key=len, reverse=True)))

# Latin noise is removed only as whole words ("shop" must not eat "shopify").
_LATIN_NOISE = frozenset(
    {
        "co", "company", "corp", "corporation", "inc", "incorporated", "llc", "ltd",
        "limited", "plc", "gmbh", "group", "holdings", "trading", "technology",
        "technologies", "tech", "shop", "store", "official", "flagship", "the",
    }
)  # fmt: skip

# Leading place names ("深圳市星辰科技有限公司" is the registered form of "星辰").
# A fixed list, because a generic "XX市" pattern would also eat "家乐超市".
_PLACES = (
    "中国", "北京", "上海", "天津", "重庆", "广东", "浙江", "江苏", "福建", "山东",
    "河南", "河北", "湖南", "湖北", "四川", "安徽", "江西", "辽宁", "吉林", "黑龙江",
    "陕西", "山西", "云南", "贵州", "广西", "海南", "甘肃", "青海", "宁夏", "新疆",
    "内蒙古", "西藏", "香港", "澳门", "台湾", "广州", "深圳", "杭州", "南京", "苏州",
    "成都", "武汉", "西安", "郑州", "长沙", "厦门", "福州", "青岛", "济南", "合肥",
    "宁波", "东莞", "佛山", "义乌", "金华", "温州", "泉州", "无锡", "沈阳", "大连",
    "哈尔滨", "长春", "石家庄", "太原", "南昌", "昆明", "贵阳", "南宁", "海口", "兰州",
    "乌鲁木齐", "呼和浩特", "珠海", "中山", "惠州", "汕头", "莆田",
)  # fmt: skip
_PLACE_ALT = "|".join(sorted(map(re.escape, _PLACES), key=len, reverse=True))
_LEADING_PLACE_RE = re.compile(rf"^(?:(?:{_PLACE_ALT})(?:省|市|自治区|特别行政区)?)+")
# "星巴克（中国）有限公司": a bracketed place is noise wherever it appears.
_BRACKETED_PLACE_RE = re.compile(rf"[(\[【]\s*(?:{_PLACE_ALT})(?:省|市)?\s*[)\]】]")
_CJK_CHAR = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK_CHAR}]) | (?=[{_CJK_CHAR}])")


def _fold(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def _words(text: str) -> str:
    """Replace punctuation, symbols and control characters by spaces; collapse spaces."""
    chars = [ch if unicodedata.category(ch)[0] in "LN" else " " for ch in text]
    return " ".join("".join(chars).split())


@functools.lru_cache(maxsize=8192)
def core_name(name: str) -> str:
    """The distinctive part of a merchant name: folded, without legal forms or punctuation."""
    folded = _fold(name)
    text = _BRACKETED_PLACE_RE.sub(" ", folded)
    text = _words(text)
    text = " ".join(word for word in text.split() if word not in _LATIN_NOISE)
    text = _CJK_NOISE_RE.sub(" ", text)
    text = _LEADING_PLACE_RE.sub("", " ".join(text.split()))
    core = _SPACE_NEXT_TO_CJK.sub("", " ".join(text.split()))
    if core:
        return core
    # Nothing distinctive left ("官方旗舰店"): compare on the whole name instead.
    fallback = _SPACE_NEXT_TO_CJK.sub("", _words(folded))
    return fallback or folded.strip()


@functools.lru_cache(maxsize=8192)
def pinyin_key(name: str) -> str:
    """Toneless pinyin of the core name, without spaces ("星辰卡盟" -> "xingchen")."""
    # Imported lazily: pypinyin loads its dictionaries (~0.5 s) on import.
    from pypinyin import lazy_pinyin

    return "".join("".join(lazy_pinyin(core_name(name))).split())


def name_similarity(a: str, b: str) -> float:
    """Similarity of two merchant names in [0, 100]; 100 for identical core names."""
    return key_similarity(core_name(a), pinyin_key(a), core_name(b), pinyin_key(b))


def key_similarity(core_a: str, key_a: str, core_b: str, key_b: str) -> float:
    """:func:`name_similarity` of two names given their core names and pinyin keys (as stored
    with each alias: no pinyin to compute again)."""
    return similar_keys(core_a, key_a, [(core_b, key_b)]).get(0, 0.0)


def similar_keys(
    core: str, pinyin: str, keys: Sequence[tuple[str, str]], cutoff: float = 0.0
) -> dict[int, float]:
    """:func:`key_similarity` of one name (its core name and pinyin key) to each of ``keys``
    (core name, pinyin key) at once: index in ``keys`` → score, for those scoring at least
    ``cutoff``. The best of three scores: the core names' ratio; their token set ratio when both
    have several words (it scores 100 whenever one name's words are a subset of the other's, so
    a one-word name, "golden", would match every "golden xxx"); the pinyin keys' ratio. A name
    without a core (only legal forms and trade words) is like nothing. rapidfuzz loops over the
    candidates itself: a name lookup scores up to 200 of them (bench.resolve)."""
    if not core:
        return {}
    cores = {i: c for i, (c, _) in enumerate(keys) if c}
    best: dict[int, float] = {}
    choices: list[tuple[str, dict[int, str], Any]] = [(core, cores, fuzz.ratio)]
    if " " in core:
        choices.append((core, {i: c for i, c in cores.items() if " " in c}, fuzz.token_set_ratio))
    if pinyin:
        choices.append((pinyin, {i: keys[i][1] for i in cores if keys[i][1]}, fuzz.ratio))
    for query, candidates, scorer in choices:
        for _, score, i in process.extract(query, candidates, scorer=scorer, limit=None, score_cutoff=cutoff):
            if score > best.get(i, -1.0):
                best[i] = float(min(100.0, score))
    return best
