"""Tests for chorus.merchants.identifiers."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chorus.merchants.identifiers import (
    MAX_LENGTH,
    REASONS,
    STRONG_KINDS,
    Identifier,
    IdentifierKind,
    InvalidIdentifier,
    is_personal,
    mask,
    normalize,
)

K = IdentifierKind


def fullwidth(text: str) -> str:
    """ASCII -> full-width forms, as typed with a Chinese IME in full-width mode."""
    return "".join(
        "\u3000" if ch == " " else chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text
    )


def reason_of(kind: str, value: str) -> str:
    with pytest.raises(InvalidIdentifier) as info:
        normalize(kind, value)
    assert info.value.kind == kind
    assert info.value.value == value
    assert info.value.reason in REASONS
    return info.value.reason


# ---------------------------------------------------------------------------
# Kinds, errors, generic rules
# ---------------------------------------------------------------------------


def test_kind_values() -> None:
    assert {k.value for k in IdentifierKind} == {
        "domain", "url", "shop", "phone", "email", "qq", "wechat", "alipay",
        "bank_card", "uscc", "other",
    }  # fmt: skip


def test_strong_kinds_are_all_but_other() -> None:
    assert frozenset(IdentifierKind) - {K.OTHER} == STRONG_KINDS
    assert K.OTHER not in STRONG_KINDS


@pytest.mark.parametrize(
    ("kind", "personal"),
    [
        (K.PHONE, True), (K.EMAIL, True), (K.QQ, True), (K.WECHAT, True), (K.ALIPAY, True),
        (K.BANK_CARD, True), (K.DOMAIN, False), (K.URL, False), (K.SHOP, False),
        (K.USCC, False), (K.OTHER, False), ("phone", True), ("domain", False),
    ],
)  # fmt: skip
def test_is_personal(kind: str, personal: bool) -> None:
    assert is_personal(kind) is personal


def test_is_personal_unknown_kind() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        is_personal("fax")
    assert info.value.reason == "unknown_kind"


def test_kind_given_as_string_or_enum() -> None:
    assert normalize("qq", "12345") == normalize(K.QQ, "12345") == Identifier(K.QQ, "12345")
    assert normalize(" QQ ", "12345").kind is K.QQ


def test_unknown_kind() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        normalize("fax", "123")
    assert info.value.reason == "unknown_kind"
    assert info.value.kind == "fax"
    assert info.value.value == "123"
    assert "fax" in str(info.value)


def test_error_is_value_error_with_english_message_naming_kind() -> None:
    with pytest.raises(ValueError, match="phone") as info:
        normalize("phone", "13800138000x")
    assert isinstance(info.value, InvalidIdentifier)
    assert info.value.reason == "invalid_phone"
    # The raw (possibly personal) value stays out of the message, which may be logged.
    assert "13800138000" not in str(info.value)


@pytest.mark.parametrize("kind", list(IdentifierKind))
@pytest.mark.parametrize("value", ["", "   ", "\u3000\t\n", "\u200b", "\ufeff "])
def test_empty_after_folding(kind: IdentifierKind, value: str) -> None:
    assert reason_of(kind.value, value) == "empty"


@pytest.mark.parametrize("kind", list(IdentifierKind))
def test_too_long(kind: IdentifierKind) -> None:
    assert reason_of(kind.value, "1" * (MAX_LENGTH + 1)) == "too_long"
    assert reason_of(kind.value, "a" * 1_000_000) == "too_long"


@pytest.mark.parametrize("kind", list(IdentifierKind))
@pytest.mark.parametrize("value", ["a\x00b", "12345\x00", "\ud800", "abc\udfff", "\x07bell", "shop\x7f.com"])
def test_control_chars_and_surrogates_rejected(kind: IdentifierKind, value: str) -> None:
    assert reason_of(kind.value, value) == "invalid_characters"


def test_non_str_value_rejected() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        normalize("qq", 12345)  # type: ignore[arg-type]
    assert info.value.reason == "not_text"


def test_identifier_is_frozen_and_hashable() -> None:
    ident = normalize("qq", "12345")
    with pytest.raises(AttributeError):
        ident.value = "x"  # type: ignore[misc]
    assert {ident, normalize("qq", "1 2 3 4 5")} == {ident}


# ---------------------------------------------------------------------------
# domain / url
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["domain", "url"])
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", "example.com"),
        ("EXAMPLE.COM", "example.com"),
        ("www.example.com", "example.com"),
        ("https://www.example.com/", "example.com"),
        ("http://user:pw@WWW.Example.COM:8080/a/b?c=d#e", "example.com"),
        ("//example.com/path", "example.com"),
        ("shop.a.b.example.co.uk", "example.co.uk"),
        ("example.com.", "example.com"),
        ("ｈｔｔｐｓ：／／ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ／", "example.com"),
        ("www。example。com", "example.com"),
        ("www.example .com", "example.com"),
        ("\u200bexample.com", "example.com"),
        ("例子.中国", "xn--fsqu00a.xn--fiqs8s"),
        ("https://WWW.例子。中国/路径", "xn--fsqu00a.xn--fiqs8s"),
        ("Bücher.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("foo.github.io", "foo.github.io"),  # private-section suffixes count
        ("example.com?x=1", "example.com"),
        ("example.com#frag", "example.com"),
        ("example.com\\evil", "example.com"),
        ("a.shop.x0.com", "shop.x0.com"),  # x0.com is a private-section suffix
        # Shop links are plain domains unless the kind is "shop".
        ("https://shop123456.taobao.com/index.htm", "taobao.com"),
        ("https://mall.jd.com/index-1000001.html", "jd.com"),
    ],
)
def test_domain_valid(kind: str, raw: str, expected: str) -> None:
    ident = normalize(kind, raw)
    assert ident == Identifier(IdentifierKind(kind), expected)
    assert mask(ident) == expected


@pytest.mark.parametrize("kind", ["domain", "url"])
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1.2.3.4", "ip_address"),
        ("http://192.168.0.1:8080/admin", "ip_address"),
        ("127.1", "ip_address"),
        ("[::1]", "ip_address"),
        ("http://[2001:db8::1]/", "ip_address"),
        ("localhost", "single_label"),
        ("http://intranet/", "single_label"),
        ("com", "single_label"),
        ("co.uk", "public_suffix"),
        ("github.io", "public_suffix"),
        ("example.notarealtld", "unknown_tld"),
        ("foo.cmo", "unknown_tld"),
        ("ftp://example.com", "unsupported_scheme"),
        ("javascript://example.com", "unsupported_scheme"),
        ("http://", "invalid_domain"),
        ("exa_mple..com", "invalid_domain"),
        ("-bad-.com", "invalid_domain"),
        ("bad%20host.com", "invalid_domain"),
        ("example.c0m", "invalid_domain"),
        ("example.com:port", "invalid_domain"),
        ("a" * 64 + ".com", "invalid_domain"),
        ("星辰卡盟", "single_label"),
        ("hello world", "single_label"),
    ],
)
def test_domain_invalid(kind: str, raw: str, reason: str) -> None:
    assert reason_of(kind, raw) == reason


def test_url_and_domain_values_compare_equal_but_keep_kind() -> None:
    url = normalize("url", "https://www.example.com/shop?id=1")
    domain = normalize("domain", "example.com")
    assert url.value == domain.value
    assert url.kind is K.URL
    assert domain.kind is K.DOMAIN


# ---------------------------------------------------------------------------
# shop
# ---------------------------------------------------------------------------

SHOP_CASES = [
    # Taobao
    ("https://shop123456.taobao.com/", "taobao:123456"),
    ("https://shop123456.taobao.com/index.htm?spm=a1z10.1-c.0.0", "taobao:123456"),
    ("shop123456.taobao.com", "taobao:123456"),
    ("http://SHOP123456.TAOBAO.COM/category.htm", "taobao:123456"),
    ("https://shop123456.m.taobao.com", "taobao:123456"),
    ("https://shop.taobao.com/shop/view_shop.htm?user_number_id=123456", "taobao:123456"),
    ("https://shop.taobao.com/shop/view_shop.htm?shop_id=123456", "taobao:123456"),
    ("https://store.taobao.com/shop/view_shop.htm?shop_id=123456", "taobao:123456"),
    ("taobao:123456", "taobao:123456"),
    ("TaoBao:123456", "taobao:123456"),
    ("ｔａｏｂａｏ：１２３４５６", "taobao:123456"),
    # Tmall
    ("https://uniqlo.tmall.com", "tmall:uniqlo"),
    ("https://uniqlo.tmall.com/shop/view_shop.htm?spm=x", "tmall:uniqlo"),
    ("https://UNIQLO.tmall.com/search.htm", "tmall:uniqlo"),
    ("https://uniqlo.m.tmall.com/", "tmall:uniqlo"),
    ("tmall:uniqlo", "tmall:uniqlo"),
    ("Tmall:Uniqlo", "tmall:uniqlo"),
    # JD
    ("https://mall.jd.com/index-1000001.html", "jd:1000001"),
    ("https://mall.jd.com/index-1000001.html?from=pc", "jd:1000001"),
    ("https://shop.m.jd.com/?shopId=1000001", "jd:1000001"),
    ("https://shop.m.jd.com/shop/home?shopId=1000001&utm=x", "jd:1000001"),
    ("jd:1000001", "jd:1000001"),
    ("JD:1000001", "jd:1000001"),
    # Pinduoduo
    ("https://mobile.yangkeduo.com/mall_page.html?mall_id=987654", "pdd:987654"),
    ("https://mobile.pinduoduo.com/mall_page.html?mall_id=987654", "pdd:987654"),
    ("https://mobile.yangkeduo.com/goods.html?goods_id=1&mall_id=987654", "pdd:987654"),
    ("pdd:987654", "pdd:987654"),
    # Xianyu / Goofish
    ("https://www.goofish.com/personal?userId=2200123456", "xianyu:2200123456"),
    ("https://h5.m.goofish.com/app/personal?user_id=2200123456", "xianyu:2200123456"),
    ("https://2.taobao.com/?sellerId=2200123456", "xianyu:2200123456"),
    ("xianyu:2200123456", "xianyu:2200123456"),
    ("XIANYU:2200123456", "xianyu:2200123456"),
    # Weidian
    ("https://weidian.com/?userid=123", "weidian:123"),
    ("https://weidian.com/?userId=123&wfr=c", "weidian:123"),
    ("https://shop123.v.weidian.com/", "weidian:123"),
    ("https://weidian.com/s/123", "weidian:123"),
    ("https://weidian.com/s/123/", "weidian:123"),
    ("weidian:123", "weidian:123"),
    # Unknown platforms: host without www/port + path, no query/fragment/trailing slash
    ("https://WWW.Shop.com/store/42/?a=1", "shop.com/store/42?a=1"),
    ("https://WWW.Shop.com/store/42/?spm=a1&utm_source=x", "shop.com/store/42"),
    ("http://shop.com:8080/store/42#top", "shop.com/store/42"),
    ("shop.com/store/42", "shop.com/store/42"),
    ("https://shop.com", "shop.com"),
    ("https://sub.shop.com/Store/42", "sub.shop.com/Store/42"),
    ("https://shop.com/店铺", "shop.com/%E5%BA%97%E9%93%BA"),
    ("https://shop.com/%e5%ba%97%e9%93%ba", "shop.com/%E5%BA%97%E9%93%BA"),
    ("https://v.douyin.com/abc123/", "v.douyin.com/abc123"),
    ("https://shop.com\\store\\42", "shop.com/store/42"),
    ("ｈｔｔｐｓ：／／ｓｈｏｐ．ｃｏｍ／ｓｔｏｒｅ／４２", "shop.com/store/42"),
]


@pytest.mark.parametrize(("raw", "expected"), SHOP_CASES)
def test_shop_valid(raw: str, expected: str) -> None:
    ident = normalize("shop", raw)
    assert ident == Identifier(K.SHOP, expected)
    assert mask(ident) == expected
    # Idempotent: the normalized form is accepted as input.
    assert normalize("shop", ident.value) == ident


@pytest.mark.parametrize(
    "raw",
    [
        "https://item.taobao.com/item.htm?id=600000000000",
        "https://detail.tmall.com/item.htm?id=600000000000",
        "https://detail.m.tmall.com/item.htm?id=600000000000",
        "https://chaoshi.detail.tmall.com/item.htm?id=1",
        "https://item.jd.com/100012043978.html",
        "https://item.m.jd.com/product/100012043978.html",
        "https://mobile.yangkeduo.com/goods.html?goods_id=123",
        "https://mobile.yangkeduo.com/goods2.html?goods_id=123",
        "https://www.goofish.com/item?id=123",
        "https://2.taobao.com/item.htm?id=123",
        "https://weidian.com/item.html?itemID=123",
    ],
)
def test_shop_item_links_rejected(raw: str) -> None:
    assert reason_of("shop", raw) == "item_link_not_shop"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("https://www.taobao.com/", "unrecognized_shop_link"),
        ("https://s.taobao.com/search?q=x", "unrecognized_shop_link"),
        ("https://www.tmall.com/", "unrecognized_shop_link"),
        ("https://www.jd.com/", "unrecognized_shop_link"),
        ("https://mobile.yangkeduo.com/", "unrecognized_shop_link"),
        ("https://www.goofish.com/", "unrecognized_shop_link"),
        ("https://weidian.com/", "unrecognized_shop_link"),
        ("taobao:abc", "invalid_shop_id"),
        ("jd:", "invalid_shop_id"),
        ("tmall:www", "invalid_shop_id"),
        ("tmall:-bad", "invalid_shop_id"),
        ("pdd:12a", "invalid_shop_id"),
        ("xianyu:a/b", "invalid_shop_id"),
        ("https://mall.jd.com/?shopId=12x", "invalid_shop_id"),
        ("星辰卡盟", "not_a_url"),
        ("just some words", "not_a_url"),
        ("https://1.2.3.4/shop", "ip_address"),
        ("ftp://shop.com/x", "unsupported_scheme"),
        ("https://shop.notarealtld/x", "unknown_tld"),
        ("https://github.io/x", "public_suffix"),
    ],
)
def test_shop_invalid(raw: str, reason: str) -> None:
    assert reason_of("shop", raw) == reason


def test_shop_kind_is_the_only_one_detecting_platforms() -> None:
    link = "https://shop123456.taobao.com/"
    assert normalize("shop", link).value == "taobao:123456"
    assert normalize("url", link).value == "taobao.com"


# ---------------------------------------------------------------------------
# phone
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+86 138-0013-8000", "+8613800138000"),
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("138.0013.8000", "+8613800138000"),
        ("(+86) 138 0013 8000", "+8613800138000"),
        ("8613800138000", "+8613800138000"),
        ("0086 13800138000", "+8613800138000"),
        ("１３８００１３８０００", "+8613800138000"),
        ("＋８６ １３８－００１３－８０００", "+8613800138000"),
        ("138\u20140013\u20148000", "+8613800138000"),
        ("tel:+8613800138000", "+8613800138000"),
        ("010-12345678", "+861012345678"),
        ("+1 650 253 0000", "+16502530000"),
        ("+1 (650) 253-0000", "+16502530000"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_valid(raw: str, expected: str) -> None:
    assert normalize("phone", raw) == Identifier(K.PHONE, expected)


@pytest.mark.parametrize(
    "raw",
    [
        "12345",
        "1380013800",  # too short
        "138001380001",  # too long
        "23800138000",
        "1-800-FLOWERS",  # vanity letters are not accepted
        "13800138000abc",
        "+999 1234567",
        "phone",
        "+",
        "+86",
        "1" * 40,
    ],
)
def test_phone_invalid(raw: str) -> None:
    assert reason_of("phone", raw) == "invalid_phone"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13800138000", "+86 138****8000"),
        ("+1 650 253 0000", "+1 650****0000"),
        ("010-12345678", "+86 101****5678"),
    ],
)
def test_phone_mask(raw: str, masked: str) -> None:
    assert mask(normalize("phone", raw)) == masked


# ---------------------------------------------------------------------------
# email
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("user@example.com", "user@example.com"),
        ("  Foo.Bar@Example.COM ", "foo.bar@example.com"),
        ("FOO.BAR+tag@EXAMPLE.com", "foo.bar+tag@example.com"),
        ("ｕｓｅｒ＠ｅｘａｍｐｌｅ．ｃｏｍ", "user@example.com"),
        ("user@mail.example.com", "user@mail.example.com"),  # sub-domains are kept
        ("user@例子。中国", "user@xn--fsqu00a.xn--fiqs8s"),
        ("12345@qq.com", "12345@qq.com"),
        ("mailto:user@example.com", "user@example.com"),
        ("user @ example.com", "user@example.com"),
    ],
)
def test_email_valid(raw: str, expected: str) -> None:
    assert normalize("email", raw) == Identifier(K.EMAIL, expected)


@pytest.mark.parametrize(
    "raw",
    [
        "user",
        "@example.com",
        "user@",
        "user@@example.com",
        "user@localhost",
        "user@1.2.3.4",
        "user@2001:db8::1",  # an IPv6 address as the domain
        "user@[2001:db8::1]",
        "user@example",
        "user@example.notarealtld",
        ".user@example.com",
        "us..er@example.com",
        "user.@example.com",
        "用户@example.com",
        "a" * 65 + "@example.com",
        "user@exa_mple..com",
    ],
)
def test_email_invalid(raw: str) -> None:
    assert reason_of("email", raw) == "invalid_email"


@pytest.mark.parametrize("host", ["2001:db8::1", "::1", "::ffff:192.0.2.1"])
def test_ipv6_host_refused_as_an_address(host: str) -> None:
    """An e-mail's domain reaches the host check bare (a URL's bracketed IPv6 is refused before):
    an IPv6 address is refused as one, not as a malformed name."""
    from chorus.merchants.identifiers import _checked_host, _Fail

    with pytest.raises(_Fail) as refused:
        _checked_host(host)
    assert refused.value.reason == "ip_address"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("Foo.Bar@Example.com", "f***@example.com"), ("a@b.cn", "a***@b.cn")],
)
def test_email_mask(raw: str, masked: str) -> None:
    assert mask(normalize("email", raw)) == masked


# ---------------------------------------------------------------------------
# qq / wechat / alipay
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345", "12345"),
        ("12345678901", "12345678901"),
        ("123 456 789", "123456789"),
        ("123-456-789", "123456789"),
        ("１２３４５６７８９", "123456789"),
    ],
)
def test_qq_valid(raw: str, expected: str) -> None:
    assert normalize("qq", raw) == Identifier(K.QQ, expected)


@pytest.mark.parametrize("raw", ["1234", "123456789012", "01234", "12345a", "qq12345", "+12345"])
def test_qq_invalid(raw: str) -> None:
    assert reason_of("qq", raw) == "invalid_qq"


def test_qq_mask() -> None:
    assert mask(normalize("qq", "123456789")) == "12***89"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("wxid_abc123", "wxid_abc123"),
        ("Wxid_ABC123", "wxid_abc123"),
        ("abcdef", "abcdef"),
        ("a" + "b" * 19, "a" + "b" * 19),
        ("star-shop_88", "star-shop_88"),
        ("ｓｔａｒｓｈｏｐ", "starshop"),
        ("13800138000", "+8613800138000"),
        ("+86 138 0013 8000", "+8613800138000"),
    ],
)
def test_wechat_valid(raw: str, expected: str) -> None:
    assert normalize("wechat", raw) == Identifier(K.WECHAT, expected)


@pytest.mark.parametrize("raw", ["abcde", "a" * 21, "1abcdef", "_abcdef", "abc def!", "星辰卡盟", "12345"])
def test_wechat_invalid(raw: str) -> None:
    assert reason_of("wechat", raw) == "invalid_wechat"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("wxid_abc123", "wx***23"), ("13800138000", "+86 138****8000")],
)
def test_wechat_mask(raw: str, masked: str) -> None:
    assert mask(normalize("wechat", raw)) == masked


@pytest.mark.parametrize(
    ("raw", "expected", "masked"),
    [
        ("13800138000", "+8613800138000", "+86 138****8000"),
        ("+86 138-0013-8000", "+8613800138000", "+86 138****8000"),
        ("Pay@Example.com", "pay@example.com", "p***@example.com"),
    ],
)
def test_alipay_valid(raw: str, expected: str, masked: str) -> None:
    ident = normalize("alipay", raw)
    assert ident == Identifier(K.ALIPAY, expected)
    assert mask(ident) == masked


@pytest.mark.parametrize("raw", ["zhangsan", "12345", "pay@", "pay@localhost", "wxid_abc123"])
def test_alipay_invalid(raw: str) -> None:
    assert reason_of("alipay", raw) == "invalid_alipay"


def test_phone_equal_across_personal_kinds() -> None:
    values = {normalize(kind, "138 0013 8000").value for kind in ("phone", "wechat", "alipay")}
    assert values == {"+8613800138000"}


# ---------------------------------------------------------------------------
# bank_card
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4111111111111111", "4111111111111111"),
        ("4111 1111 1111 1111", "4111111111111111"),
        ("4111-1111-1111-1111", "4111111111111111"),
        ("４１１１ １１１１ １１１１ １１１１", "4111111111111111"),
        ("6222 0212 3456 7890 128", "6222021234567890128"),  # 19-digit UnionPay style
        ("621700000006", "621700000006"),  # 12 digits, Luhn-valid
    ],
)
def test_bank_card_valid(raw: str, expected: str) -> None:
    assert normalize("bank_card", raw) == Identifier(K.BANK_CARD, expected)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("4111111111111112", "bad_luhn"),
        ("4111 1111 1111 1110", "bad_luhn"),
        ("4111-1111-1111-111a", "not_digits"),
        ("card 4111111111111111", "not_digits"),
        ("١٢٣٤٥٦٧٨٩٠١٢", "not_digits"),  # Arabic-Indic digits are not card digits
        ("41111111118", "invalid_length"),
        ("41111111111111111111", "invalid_length"),
    ],
)
def test_bank_card_invalid(raw: str, reason: str) -> None:
    assert reason_of("bank_card", raw) == reason


def test_bank_card_mask_shows_last_four_only() -> None:
    ident = normalize("bank_card", "6222 0212 3456 7890 128")
    assert mask(ident) == "**** **** **** 0128"
    assert mask(normalize("bank_card", "4111111111111111")) == "**** **** **** 1111"


# ---------------------------------------------------------------------------
# uscc
# ---------------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check(body: str) -> str:
    """GB 32100-2015 check character, computed independently of the module."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def test_uscc_reference_check_char() -> None:
    assert uscc_check("91110000600037341") == "L"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("91110000600037341L", "91110000600037341L"),
        ("91110000600037341l", "91110000600037341L"),
        ("9111 0000 6000 3734 1L", "91110000600037341L"),
        ("91-110000-600037341-L", "91110000600037341L"),
        ("９１１１００００６０００３７３４１Ｌ", "91110000600037341L"),
        # Letter authority/type codes (e.g. "N2" rural collectives) are valid too.
        ("N2110000600037341" + uscc_check("N2110000600037341"), None),
    ],
)
def test_uscc_valid(raw: str, expected: str | None) -> None:
    assert normalize("uscc", raw) == Identifier(K.USCC, expected or raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("91110000600037341A", "bad_check_digit"),
        ("91110000600037342L", "bad_check_digit"),
        ("9111000060003734", "invalid_length"),
        ("91110000600037341LL", "invalid_length"),
        ("9111A000600037341L", "invalid_format"),  # region code must be digits
        ("91110000600037341I", "invalid_format"),  # I, O, S, V, Z are not in the alphabet
        ("91110000O00037341L", "invalid_format"),
        ("统一社会信用代码一二三四五六七八九十", "invalid_format"),
    ],
)
def test_uscc_invalid(raw: str, reason: str) -> None:
    assert reason_of("uscc", raw) == reason


# ---------------------------------------------------------------------------
# other
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Hello   World ", "hello world"),
        ("抖音号：Star_Shop", "抖音号:star_shop"),
        ("ＡＢＣ\u3000１２３", "abc 123"),
        ("line\nbreak\ttab", "line break tab"),
        ("x" * 200, "x" * 200),
        ("🛒 shop", "🛒 shop"),
    ],
)
def test_other_valid(raw: str, expected: str) -> None:
    ident = normalize("other", raw)
    assert ident == Identifier(K.OTHER, expected)
    assert mask(ident) == expected


def test_other_max_length() -> None:
    assert reason_of("other", "x" * 201) == "too_long"


def test_mask_non_personal_kinds_unchanged() -> None:
    for kind, raw in [
        ("domain", "example.com"),
        ("url", "https://example.com/x"),
        ("shop", "https://mall.jd.com/index-1000001.html"),
        ("uscc", "91110000600037341L"),
        ("other", "some shop"),
    ]:
        ident = normalize(kind, raw)
        assert mask(ident) == ident.value


# ---------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------

CN_MOBILE_PREFIXES = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "176", "177", "178", "180",
    "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199",
]  # fmt: skip

digits = st.text(alphabet=string.digits, min_size=1, max_size=1)


@st.composite
def cn_mobiles(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(CN_MOBILE_PREFIXES))
    return prefix + draw(st.text(alphabet=string.digits, min_size=8, max_size=8))


@st.composite
def luhn_numbers(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet=string.digits, min_size=11, max_size=18))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


@st.composite
def usccs(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(["91", "92", "93", "11", "12", "51", "52", "Y1", "N2"]))
    region = draw(st.text(alphabet=string.digits, min_size=6, max_size=6))
    org = draw(st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9))
    body = head + region + org
    return body + uscc_check(body)


qq_numbers = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("123456789"),
    st.text(alphabet=string.digits, min_size=4, max_size=10),
)
wechat_ids = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(string.ascii_letters),
    st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=5, max_size=19),
)
labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
tlds = st.sampled_from(["com", "cn", "com.cn", "net", "org", "co.uk", "shop", "xn--fiqs8s"])
# The "chorus" prefix keeps generated names off private-section suffixes such as x0.com.
domains = st.builds(lambda label, tld: f"chorus{label}.{tld}", labels, tlds)
email_locals = st.from_regex(r"[a-z0-9_%+-]{1,10}(\.[a-z0-9_%+-]{1,10}){0,2}", fullmatch=True)
emails = st.builds(lambda local, domain: f"{local}@{domain}", email_locals, domains)
numeric_ids = st.from_regex(r"[1-9][0-9]{0,12}", fullmatch=True)
shop_links = st.one_of(
    numeric_ids.map(lambda i: f"https://shop{i}.taobao.com/"),
    numeric_ids.map(lambda i: f"https://shop.taobao.com/shop/view_shop.htm?shop_id={i}"),
    labels.map(lambda s: f"https://chorus{s}.tmall.com"),  # prefix avoids www., detail. ...
    numeric_ids.map(lambda i: f"https://mall.jd.com/index-{i}.html"),
    numeric_ids.map(lambda i: f"https://shop.m.jd.com/?shopId={i}"),
    numeric_ids.map(lambda i: f"https://mobile.yangkeduo.com/mall_page.html?mall_id={i}"),
    numeric_ids.map(lambda i: f"https://www.goofish.com/personal?userId={i}"),
    numeric_ids.map(lambda i: f"https://weidian.com/?userid={i}"),
    numeric_ids.map(lambda i: f"https://shop{i}.v.weidian.com/"),
    st.builds(
        lambda d, p: f"https://www.{d}/{p}/",
        domains,
        st.from_regex(r"[A-Za-z0-9_~-]{1,10}(/[A-Za-z0-9_~-]{1,10}){0,2}", fullmatch=True),
    ),
)
other_texts = st.text(min_size=1, max_size=150).filter(lambda s: s.strip() != "")

VALID_VALUES: dict[IdentifierKind, st.SearchStrategy[str]] = {
    K.DOMAIN: domains,
    K.URL: st.builds(lambda d, path: f"https://{d}/{path}", domains, labels),
    K.SHOP: shop_links,
    K.PHONE: cn_mobiles(),
    K.EMAIL: emails,
    K.QQ: qq_numbers,
    K.WECHAT: st.one_of(wechat_ids, cn_mobiles()),
    K.ALIPAY: st.one_of(emails, cn_mobiles()),
    K.BANK_CARD: luhn_numbers(),
    K.USCC: usccs(),
    K.OTHER: other_texts,
}

kind_and_value = st.sampled_from(list(VALID_VALUES)).flatmap(
    lambda kind: st.tuples(st.just(kind), VALID_VALUES[kind])
)


@given(kind_and_value)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_normalize_is_idempotent(kv: tuple[IdentifierKind, str]) -> None:
    kind, raw = kv
    try:
        ident = normalize(kind, raw)
    except InvalidIdentifier as exc:
        # Only free text may legitimately be rejected (e.g. nothing but control chars).
        assert kind is K.OTHER, (kind, raw, exc.reason)
        return
    assert normalize(kind, ident.value) == ident
    assert mask(ident)  # masking a normalized identifier never fails


@given(kind_and_value)
@settings(max_examples=200)
def test_fullwidth_spelling_normalizes_equal(kv: tuple[IdentifierKind, str]) -> None:
    kind, raw = kv
    assume(kind is not K.OTHER)
    assert normalize(kind, fullwidth(raw)) == normalize(kind, raw)


def _with_separators(data: st.DataObject, value: str, seps: list[str]) -> str:
    positions = data.draw(st.sets(st.integers(1, max(1, len(value) - 1)), max_size=5))
    out = list(value)
    for pos in sorted(positions, reverse=True):
        out.insert(pos, data.draw(st.sampled_from(seps)))
    return "".join(out)


NUMERIC = {
    K.PHONE: cn_mobiles(),
    K.QQ: qq_numbers,
    K.BANK_CARD: luhn_numbers(),
    K.USCC: usccs(),
}
SEPARATORS = [" ", "-", ".", "\u3000", "－", "\u2014", "\u200b"]


@pytest.mark.parametrize("kind", list(NUMERIC))
@given(data=st.data())
@settings(max_examples=100)
def test_numeric_separators_and_width_do_not_matter(kind: IdentifierKind, data: st.DataObject) -> None:
    raw = data.draw(NUMERIC[kind])
    spelled = _with_separators(data, raw, SEPARATORS)
    if data.draw(st.booleans()):
        spelled = fullwidth(spelled)
    if data.draw(st.booleans()):
        spelled = f"  {spelled.lower()} "
    assert normalize(kind, spelled) == normalize(kind, raw)


@given(
    domain=domains,
    scheme=st.sampled_from(["", "http://", "https://", "HTTPS://", "//"]),
    www=st.sampled_from(["", "www.", "WWW.", "m.shop."]),
    port=st.sampled_from(["", ":80", ":8443"]),
    tail=st.sampled_from(["", "/", "/a/b", "?q=1", "#x", "/p?q=1#f"]),
    upper=st.booleans(),
    wide=st.booleans(),
)
def test_domain_spellings_normalize_equal(
    domain: str, scheme: str, www: str, port: str, tail: str, upper: bool, wide: bool
) -> None:
    host = www + (domain.upper() if upper else domain)
    spelled = scheme + host + port + tail
    if wide:
        spelled = fullwidth(spelled)
    for kind in (K.DOMAIN, K.URL):
        assert normalize(kind, spelled).value == normalize(K.DOMAIN, domain).value


@given(phone=cn_mobiles(), prefix=st.sampled_from(["", "+86", "+86 ", "86", "0086", "(+86)"]))
def test_phone_country_code_spellings(phone: str, prefix: str) -> None:
    assert normalize("phone", prefix + phone).value == "+86" + phone


@given(email=emails, upper=st.booleans(), wide=st.booleans())
def test_email_spellings_normalize_equal(email: str, upper: bool, wide: bool) -> None:
    spelled = email.upper() if upper else email
    if wide:
        spelled = fullwidth(spelled)
    assert normalize("email", f" {spelled} ") == normalize("email", email)


@given(card=luhn_numbers())
def test_bank_card_mask_never_reveals_more_than_last_four(card: str) -> None:
    masked = mask(normalize("bank_card", card))
    assert masked.endswith(card[-4:])
    assert sum(ch.isdigit() for ch in masked) == 4


@given(card=luhn_numbers(), pos=st.integers(0, 18), delta=st.integers(1, 9))
def test_bank_card_single_digit_error_detected(card: str, pos: int, delta: int) -> None:
    pos %= len(card)
    broken = card[:pos] + str((int(card[pos]) + delta) % 10) + card[pos + 1 :]
    assert reason_of("bank_card", broken) == "bad_luhn"


@given(code=usccs(), pos=st.integers(0, 16), data=st.data())
def test_uscc_single_char_error_detected(code: str, pos: int, data: st.DataObject) -> None:
    alphabet = string.digits if 2 <= pos <= 7 else USCC_ALPHABET
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != code[pos]]))
    broken = code[:pos] + replacement + code[pos + 1 :]
    assert reason_of("uscc", broken) == "bad_check_digit"


# Fragments that reach the deeper branches (URL parsing, platform detection, IDN).
FRAGMENTS = [
    "http://", "https://", "//", "www.", ".", "。", "/", "?", "&", "=", "#", "@", ":", "[", "]",
    "%", "%E5", "\\", "-", "+", "+86", "86", "138", "0", "1", "9", " ", "\u3000", "\x00",
    "\ud800", "\u200b", "\ufeff", "xn--", "xn--zz", "例子", "中国", "星辰", "ß", "😀", "\u0301",
    "com", "cn", "co.uk", "github.io", "taobao.com", "tmall.com", "jd.com", "mall.", "shop",
    "shop123", "item", "item.htm", "detail.", "index-1.html", "goofish.com", "2.taobao.com",
    "weidian.com", "v.", "/s/", "yangkeduo.com", "mall_id=", "shopId=", "userId=", "id=",
    "taobao:", "tmall:", "jd:", "pdd:", "xianyu:", "weidian:", "mailto:", "tel:", "X", "L",
    "a" * 63, "1" * 30, "localhost", "1.2.3.4", "::1", ":8080", "\ufdfd", "ﬀ",
]  # fmt: skip
fragment_text = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join)
any_codepoints = st.lists(st.integers(0, 0x10FFFF), max_size=40).map(lambda cps: "".join(map(chr, cps)))
arbitrary_text = st.one_of(st.text(), fragment_text, any_codepoints)


@given(kind=st.sampled_from(list(IdentifierKind)), text=arbitrary_text)
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_text_only_raises_invalid_identifier(kind: IdentifierKind, text: str) -> None:
    try:
        ident = normalize(kind, text)
    except InvalidIdentifier as exc:
        assert exc.reason in REASONS
        assert exc.kind == kind.value
        return
    assert ident.kind is kind
    assert ident.value
    assert len(ident.value) <= MAX_LENGTH
    assert normalize(kind, ident.value) == ident
    assert isinstance(mask(ident), str)


def test_huge_input_is_cheap() -> None:
    for kind in IdentifierKind:
        assert reason_of(kind.value, "\ufdfd" * 10_000_000) == "too_long"
