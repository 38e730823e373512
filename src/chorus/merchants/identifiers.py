"""Merchant identifier normalization, validation and masking.

Pure functions only: no I/O, no database, no network. Two spellings of the same
merchant identifier must normalize to the same ``Identifier`` so complaints about
one merchant can be grouped; anything that cannot be normalized raises
``InvalidIdentifier`` with a stable ``reason`` key (human texts live in the locale
catalogs).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from encodings import idna as _idna
from enum import StrEnum
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import phonenumbers
from publicsuffixlist import PublicSuffixList
from stdnum import luhn
from stdnum.cn import uscc as _uscc

__all__ = [
    "MAX_LENGTH",
    "MAX_OTHER_LENGTH",
    "REASONS",
    "SHARED_DOMAINS",
    "STRONG_KINDS",
    "Identifier",
    "IdentifierKind",
    "InvalidIdentifier",
    "is_personal",
    "mask",
    "normalize",
]


class IdentifierKind(StrEnum):
    """What an identifier value denotes."""

    DOMAIN = "domain"
    URL = "url"
    SHOP = "shop"
    PHONE = "phone"
    EMAIL = "email"
    QQ = "qq"
    WECHAT = "wechat"
    ALIPAY = "alipay"
    BANK_CARD = "bank_card"
    USCC = "uscc"
    OTHER = "other"


# "other" is free text: too fuzzy to merge merchants on by itself.
STRONG_KINDS: frozenset[IdentifierKind] = frozenset(IdentifierKind) - {IdentifierKind.OTHER}

_PERSONAL_KINDS: frozenset[IdentifierKind] = frozenset(
    {
        IdentifierKind.PHONE,
        IdentifierKind.EMAIL,
        IdentifierKind.QQ,
        IdentifierKind.WECHAT,
        IdentifierKind.ALIPAY,
        IdentifierKind.BANK_CARD,
    }
)

MAX_LENGTH = 500
MAX_OTHER_LENGTH = 200
# Refuse absurd inputs before NFKC (which may expand text up to 18x) does any work.
_MAX_RAW_LENGTH = 4 * MAX_LENGTH

# Every reason key ``InvalidIdentifier.reason`` can take; catalogs can be checked against it.
REASONS: frozenset[str] = frozenset(
    {
        "unknown_kind",
        "not_text",
        "empty",
        "too_long",
        "invalid_characters",
        # domain / url / shop hosts
        "invalid_domain",
        "ip_address",
        "single_label",
        "public_suffix",
        "unknown_tld",
        "unsupported_scheme",
        # shop
        "not_a_url",
        "item_link_not_shop",
        "unrecognized_shop_link",
        "invalid_shop_id",
        # personal kinds
        "invalid_phone",
        "invalid_email",
        "invalid_qq",
        "invalid_wechat",
        "invalid_alipay",
        # bank_card / uscc
        "not_digits",
        "invalid_length",
        "invalid_format",
        "bad_luhn",
        "bad_check_digit",
    }
)


class InvalidIdentifier(ValueError):
    """A value that cannot be normalized as the requested identifier kind."""

    def __init__(self, kind: str, value: str, reason: str) -> None:
        self.kind = kind
        self.value = value
        self.reason = reason
        # The raw value is deliberately left out of the message: it may be personal
        # data and exception messages end up in logs.
        super().__init__(f"invalid {kind} identifier ({reason})")


@dataclass(frozen=True)
class Identifier:
    """A normalized merchant identifier; equal identifiers denote the same merchant."""

    kind: IdentifierKind
    value: str


class _Fail(Exception):
    """Internal: carries a reason key up to ``normalize``, which adds kind and raw value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------
# Folding
# ---------------------------------------------------------------------------

# Separators people type inside numbers: spaces, dots, ASCII and Unicode dashes,
# minus sign, middle dot, katakana prolonged mark (IMEs produce it for "-").
_NUMERIC_SEPARATORS = re.compile(r"[\s.\-\u00b7\u2010-\u2015\u2212\u30fb\u30fc]+")
_URLISH_KINDS = frozenset(
    {IdentifierKind.DOMAIN, IdentifierKind.URL, IdentifierKind.SHOP, IdentifierKind.EMAIL}
)


def _fold(raw: str, kind: IdentifierKind) -> str:
    """NFKC-fold, drop invisible format characters, collapse whitespace."""
    text = raw if raw.isascii() else unicodedata.normalize("NFKC", raw)
    if text.isascii() and text.isprintable():
        # what most people type (or a full-width number folded): NFKC leaves it as it is, and it
        # holds no format or control character to look for one character at a time
        return " ".join(text.split())
    if kind in _URLISH_KINDS:
        # NFKC leaves the ideographic full stop alone; Chinese IMEs type it for ".".
        text = text.replace("\u3002", ".")
    out: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":
            # Zero-width spaces, BOMs and bidi marks ride along with copy-paste.
            continue
        if category == "Cs" or (category == "Cc" and not ch.isspace()):
            raise _Fail("invalid_characters")
        out.append(ch)
    # Again: removing a format character can leave a composable pair ("A", U+0300).
    return " ".join(unicodedata.normalize("NFKC", "".join(out)).split())


# ---------------------------------------------------------------------------
# Hosts, domains, URLs
# ---------------------------------------------------------------------------


@functools.cache
def _psl() -> PublicSuffixList:
    # Parsing the bundled list takes ~0.1 s, so build it once, on first use.
    # Unknown TLDs are rejected rather than guessed at ("shop.cmo" is a typo).
    return PublicSuffixList(accept_unknown=False)


_SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.\-]*)://", re.IGNORECASE)
_LABEL_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?$")
_TLD_RE = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9\-]{1,59})$")


@dataclass(frozen=True)
class _Url:
    host: str  # validated, lower-case, punycode
    path: str
    query: str
    fragment: str


def _split_url(text: str) -> _Url:
    """Split a scheme-optional http(s) URL or bare host with urllib.parse; validates the host."""
    match = _SCHEME_RE.match(text)
    if match:
        if match.group(1).lower() not in {"http", "https"}:
            raise _Fail("unsupported_scheme")
    elif not text.startswith("//"):
        text = "//" + text  # a bare "shop.com/x": urlsplit needs "//" to see the host
    # Browsers treat "\\" as "/" in http(s) URLs: "shop.com\\x" is shop.com's page /x.
    text = text.replace("\\", "/")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise _Fail("ip_address" if "[" in text else "invalid_domain") from None
    if parts.netloc.rpartition("@")[2].startswith("["):
        raise _Fail("ip_address")  # bracketed IPv6 literal
    return _Url(_validate_host(parts.hostname or ""), parts.path, parts.query, parts.fragment)


def _validate_host(host: str) -> str:
    """Lower-case, punycode and syntax-check a host name; reject IPs and bare suffixes."""
    return _checked_host(host)[0]


def _registrable(host: str) -> str:
    """eTLD+1 of a host (one :func:`_validate_host` accepts)."""
    return _checked_host(host)[1]


@functools.lru_cache(maxsize=4096)
def _checked_host(host: str) -> tuple[str, str]:
    """:func:`_validate_host` and :func:`_registrable` of ``host``, the public suffix list read
    once. Kept for the hosts seen last (a refusal is not kept): most addresses and shop links
    name a few hundred hosts (mail providers, platforms)."""
    host = host.lower().removesuffix(".")
    if not host or len(host) > 253:
        raise _Fail("invalid_domain")
    # an IPv6 address has a colon (no host name does); an IPv4 one is all decimal labels, below
    if ":" in host:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            raise _Fail("ip_address")
    labels = host.split(".")
    if all(label.isascii() and label.isdecimal() for label in labels):
        raise _Fail("ip_address")  # e.g. "127.1", legacy short IPv4 forms
    ascii_labels: list[str] = []
    for label in labels:
        if not label.isascii():
            try:
                # Builtin codec = IDNA 2003 (nameprep + punycode); good enough to compare.
                label = _idna.ToASCII(label).decode("ascii").lower()
            except (UnicodeError, ValueError):
                raise _Fail("invalid_domain") from None
        if not _LABEL_RE.match(label):
            raise _Fail("invalid_domain")
        ascii_labels.append(label)
    if len(ascii_labels) < 2:
        raise _Fail("single_label")
    if not _TLD_RE.match(ascii_labels[-1]):
        raise _Fail("invalid_domain")
    host = ".".join(ascii_labels)
    if len(host) > 253:
        raise _Fail("invalid_domain")
    psl = _psl()
    registrable = psl.privatesuffix(host)
    if registrable is None:  # the list read once for a good host, twice for a bad one
        raise _Fail("unknown_tld" if psl.publicsuffix(host) is None else "public_suffix")
    return host, str(registrable)


def _normalize_domain(text: str) -> str:
    text = "".join(text.split())  # a host cannot contain spaces: line-wrap artifacts
    return _registrable(_split_url(text).host)


# ---------------------------------------------------------------------------
# Shops
# ---------------------------------------------------------------------------
# A shop link becomes "platform:id" when the platform and its shop id are recognised, the
# link itself (host, path and the query without tracking parameters) on any other site, and
# a refusal for a platform link that names no shop (an item page, a search page).

_NUMERIC_ID = re.compile(r"^[0-9]{1,20}$")
_SUBDOMAIN_ID = re.compile(r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$")
_OPAQUE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
# 1688 names a shop by its sub-domain ("shop1434c3b44s531") or its member id ("b2b-2206…").
_ALIBABA_ID = re.compile(r"^(?:b2b-[a-z0-9]{1,40}|[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?)$")
# Account ids in profile links (Douyin's sec_uid is ~76 characters of base64url).
_PROFILE_ID = re.compile(r"^[A-Za-z0-9_\-.]{1,128}$")

_SHOP_ID_RES: dict[str, re.Pattern[str]] = {
    "taobao": _NUMERIC_ID,
    "tmall": _SUBDOMAIN_ID,
    "tmallhk": _SUBDOMAIN_ID,
    "jd": _NUMERIC_ID,
    "pdd": _NUMERIC_ID,
    "xianyu": _OPAQUE_ID,
    "weidian": _NUMERIC_ID,
    "youzan": _NUMERIC_ID,
    "douyin": _OPAQUE_ID,
    "kuaishou": _OPAQUE_ID,
    "1688": _ALIBABA_ID,
}
_LOWER_CASE_IDS = frozenset({"tmall", "tmallhk", "1688"})
_PLATFORM_FORM = re.compile(r"^([a-z0-9]+):(.*)$", re.IGNORECASE)

# Tmall sub-domains that belong to the platform, not to a store.
_TMALL_RESERVED = frozenset(
    {
        "www", "m", "detail", "mdetail", "list", "login", "chaoshi", "cart", "buy", "s",
        "search", "pages", "vip", "err", "help", "service", "h5", "shop", "brand", "jx",
        "miao", "fx", "food", "mei", "3c", "ju", "seller", "member", "register", "ai",
        "world", "global", "intl", "wap",
    }
)  # fmt: skip
_1688_RESERVED = frozenset(
    {
        "www", "m", "h5", "wap", "detail", "s", "search", "login", "work", "page", "show",
        "air", "dj", "re", "sale", "winport", "offer", "cart", "trade", "member", "home",
        "info", "club", "help", "service", "p4p", "fuwu", "view", "shop", "qr", "go",
    }
)  # fmt: skip
_RESERVED_IDS: dict[str, frozenset[str]] = {
    "tmall": _TMALL_RESERVED,
    "tmallhk": _TMALL_RESERVED,
    "1688": _1688_RESERVED,
}
# Labels between a shop's own label and the platform's domain that change nothing: the
# mobile and international editions of the same shop (shop123.m.taobao.com,
# shop123.world.taobao.com, uniqlo.m.tmall.com).
_EDITION_LABELS = frozenset({"m", "h5", "wap", "world", "intl", "global"})

# The last path segment names a single listing (the historical test, kept as is for Tmall
# store hosts, where "/category-1.htm" or "/p/rd1.htm" are store pages).
_ITEM_PATH = re.compile(r"(?:^|/)(?:item|detail|goods|product)[^/]*$|/i\d+\.htm", re.IGNORECASE)
# Anywhere in the path: used once a link has been found to name no shop.
_ITEM_WORDS = re.compile(r"item|detail|goods|product|offer|/i\d+\.htm", re.IGNORECASE)

# Link shorteners: the shop behind the code cannot be known offline, so the link is kept as
# given (host and case-sensitive code), never guessed.
_SHORT_LINK_DOMAINS = frozenset({"tb.cn", "3.cn", "t.cn", "url.cn", "dwz.cn", "xhslink.com"})
_SHORT_LINK_HOSTS = frozenset(
    {
        "u.jd.com", "v.douyin.com", "v.kuaishou.com", "p.pinduoduo.com", "p.yangkeduo.com",
        "j.youzan.com", "k.youshop10.com", "qr.1688.com",
    }
)  # fmt: skip

# Query parameters that say who shared a link, from where, or which campaign: never which
# shop. Dropped from links kept as links; platform links only read their shop parameter.
_TRACKING_PARAMS = frozenset(
    {
        "spm", "scm", "from", "fr", "ref", "referer", "referrer", "source", "src", "wfr",
        "wxfrom", "isappinstalled", "nsukey", "sm", "tk", "ttid", "pvid", "abbucket", "ns",
        "ut_sk", "un", "sp_tk", "cpp", "suid", "bxsign", "clicktime", "enterid", "gclid",
        "fbclid", "msclkid", "yclid", "dclid", "mc_cid", "mc_eid", "igshid", "timestamp",
        "ts", "sharer", "shareid", "sharetoken", "shareurl", "sourcetype", "tbsocialpopkey",
        "u_code", "did", "iid", "mid", "app", "appid", "scene", "chksm", "bc_fl_src",
        "price", "sku_properties", "origin_type", "vd_source", "wxshare_count",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "share_", "spm_", "ali_", "refer_", "_")

# Apps' own links: the scheme names the app, the rest is a page of its web site or a
# parameter holding one (a JSON object for JD, a web address for tbopen).
_APP_SCHEMES = frozenset({"openapp.jdmobile", "taobao", "tmall", "tbopen", "pinduoduo", "fleamarket"})
_APP_WEB_HOSTS = {"pinduoduo": "mobile.yangkeduo.com", "fleamarket": "www.goofish.com"}

# A link inside the text a share button copies ("【淘宝】https://m.tb.cn/h.5x 「星辰卡盟」点击链接…").
_LINK_IN_TEXT = re.compile(r"(?<![!-~])[a-z][a-z0-9+.\-]*://[^\s「」【】《》『』、]+", re.IGNORECASE)
_WORDS_AFTER_SPACE = re.compile(r"\s\S*[^!-~\s]")

# Characters left unescaped in a normalized path (RFC 3986 pchar minus '%', plus '/'), and in
# a normalized query's names and values (pchar minus the '&', '=' and '+' the query syntax uses).
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/:@!$'()*,;-._~"


@dataclass(frozen=True)
class _Link:
    """A recognised platform's link, taken apart."""

    subs: list[str]  # labels left of the platform's registrable domain, e.g. ["shop1", "m"]
    path: str
    params: dict[str, str]  # keys lower-cased

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]

    def param(self, *keys: str) -> str | None:
        for key in keys:
            if self.params.get(key):
                return self.params[key]
        return None

    def names_item(self, *keys: str) -> bool:
        """The link is a single listing: an item word in its path or an item parameter (a search
        page, "search_product.htm", lists many)."""
        if "search" in self.path.lower():
            return False
        return _ITEM_WORDS.search(self.path) is not None or any(k in self.params for k in keys)

    def store_label(self, pattern: str) -> str | None:
        """The shop's own host label (matching ``pattern``) when the rest is an edition label."""
        if not self.subs or not all(s in _EDITION_LABELS for s in self.subs[1:]):
            return None
        match = re.fullmatch(pattern, self.subs[0])
        return match.group(1) if match else None


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key in _TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES)


def _params(url: _Url) -> dict[str, str]:
    """Query parameters, keys lower-cased; also those after '?' in the fragment (SPA links)."""
    pairs = parse_qsl(url.query, keep_blank_values=False)
    _, sep, fragment_query = url.fragment.partition("?")
    if sep:
        pairs += parse_qsl(fragment_query, keep_blank_values=False)
    params: dict[str, str] = {}
    for key, value in pairs:
        params.setdefault(key.lower(), value.strip())
    return params


def _shop_value(platform: str, shop_id: str) -> str:
    if platform in _LOWER_CASE_IDS:
        shop_id = shop_id.lower()
    if not _SHOP_ID_RES[platform].match(shop_id) or shop_id in _RESERVED_IDS.get(platform, ()):
        raise _Fail("invalid_shop_id")
    return f"{platform}:{shop_id}"


def _profile(prefix: str, account: str) -> str:
    if not _PROFILE_ID.match(account):
        raise _Fail("invalid_shop_id")
    return f"{prefix}/{account}"


def _sub_labels(host: str, registrable: str) -> list[str]:
    if host == registrable:
        return []
    return host.removesuffix(registrable).removesuffix(".").split(".")


def _taobao(link: _Link) -> str:
    # Xianyu's legacy hosts (2.taobao.com) and pages (…/idleFish-F2e/…) live under taobao.com.
    if (link.subs and link.subs[-1] in {"2", "xianyu"}) or "idlefish" in link.path.lower():
        return _xianyu(link)
    shop = link.store_label(r"shop(\d+)")
    if shop:
        return _shop_value("taobao", shop)
    shop_id = link.param("user_number_id", "shop_id", "shopid")
    if shop_id:
        return _shop_value("taobao", shop_id)
    if (link.subs and link.subs[0] in {"item", "detail"}) or link.names_item("id", "item_id", "itemid"):
        raise _Fail("item_link_not_shop")
    raise _Fail("unrecognized_shop_link")


def _tmall(platform: str, link: _Link) -> str:
    if {"detail", "mdetail"} & set(link.subs) or _ITEM_PATH.search(link.path):
        raise _Fail("item_link_not_shop")
    store = link.store_label(r"([a-z0-9\-]+)")
    if store and store not in _TMALL_RESERVED:
        return _shop_value(platform, store)
    # A Tmall store is a Taobao shop: its shop_id is the one of shop{id}.taobao.com.
    shop_id = link.param("shop_id", "shopid")
    if shop_id:
        return _shop_value("taobao", shop_id)
    if link.names_item("id", "item_id", "itemid"):
        raise _Fail("item_link_not_shop")
    raise _Fail("unrecognized_shop_link")


def _jd(link: _Link) -> str:
    if link.subs and "item" in link.subs[0]:
        raise _Fail("item_link_not_shop")
    match = re.search(r"(?:^|/)index-(\d+)\.html?$", link.path)
    if match and link.subs and link.subs[0] == "mall":
        return _shop_value("jd", match.group(1))
    shop_id = link.param("shopid", "shop_id")
    if shop_id:
        return _shop_value("jd", shop_id)
    # venderId is another number than the shop id: never taken for it.
    if link.names_item("wareid", "skuid", "sku"):
        raise _Fail("item_link_not_shop")
    raise _Fail("unrecognized_shop_link")


def _pdd(link: _Link) -> str:
    # An explicit mall_id names the shop even on a goods page.
    mall_id = link.param("mall_id", "mallid")
    if mall_id:
        return _shop_value("pdd", mall_id)
    if link.names_item("goods_id", "goodsid"):
        raise _Fail("item_link_not_shop")
    raise _Fail("unrecognized_shop_link")


def _xianyu(link: _Link) -> str:
    user = link.param("userid", "user_id", "sellerid", "seller_id")
    if user:
        return _shop_value("xianyu", user)
    if link.names_item("itemid", "item_id", "id"):
        raise _Fail("item_link_not_shop")
    raise _Fail("unrecognized_shop_link")


def _weidian(link: _Link) -> str:
    match = re.fullmatch(r"shop(\d+)", link.subs[0]) if link.subs else None
    if match and all(s in _EDITION_LABELS | {"v"} for s in link.subs[1:]):
        return _shop_value("weidian", match.group(1))
    user = link.param("userid", "user_id")
    if user:
        return _shop_value("weidian", user)
    match = re.match(r"^/s/(\d+)/?$", link.path)
    if match:
        return _shop_value("weidian", match.group(1))
    if link.names_item("itemid", "item_id"):
        raise _Fail("item_link_not_shop")
    raise _Fail("unrecognized_shop_link")


def _youzan(link: _Link) -> str:
    shop = link.store_label(r"shop(\d+)")
    if shop:
        return _shop_value("youzan", shop)
    # kdt_id is the shop's number on every Youzan page, a goods page included.
    kdt_id = link.param("kdt_id", "kdtid")
    if kdt_id:
        return _shop_value("youzan", kdt_id)
    if link.names_item("goods_id", "goodsid", "alias"):
        raise _Fail("item_link_not_shop")
    raise _Fail("unrecognized_shop_link")


def _douyin(link: _Link) -> str:
    """Douyin's shops (抖店, pages on jinritemai.com) and its accounts' profiles."""
    shop_id = link.param("shop_id", "shopid")
    segments = link.segments
    if not shop_id and "shop" in segments and not _ITEM_WORDS.search(link.path):
        shop_id = link.param("id")
    if shop_id:
        return _shop_value("douyin", shop_id)
    sec_uid = link.param("sec_uid")
    if segments[:1] == ["user"] and len(segments) == 2:
        return _profile("douyin.com/user", segments[1])
    if segments[:2] == ["share", "user"] and len(segments) == 3:
        # iesdouyin.com share pages: the numeric uid, or the sec_uid douyin.com/user/ shows.
        if sec_uid:
            return _profile("douyin.com/user", sec_uid)
        return _profile("iesdouyin.com/share/user", segments[2])
    if link.names_item("product_id", "item_id", "goods_id"):
        raise _Fail("item_link_not_shop")
    raise _Fail("unrecognized_shop_link")


def _kuaishou(link: _Link) -> str:
    """Kuaishou's shops (快手小店, kwaixiaodian.com) and its accounts' profiles."""
    seller = link.param("sellerid", "seller_id", "shopid", "shop_id")
    if seller:
        return _shop_value("kuaishou", seller)
    segments = link.segments
    for prefix in (["profile"], ["fw", "user"], ["u"]):
        if segments[: len(prefix)] == prefix and len(segments) == len(prefix) + 1:
            return _profile("kuaishou.com/profile", segments[-1])
    if link.names_item("itemid", "item_id", "id"):
        raise _Fail("item_link_not_shop")
    raise _Fail("unrecognized_shop_link")


def _alibaba1688(link: _Link) -> str:
    if link.subs and link.subs[0] == "detail":
        raise _Fail("item_link_not_shop")
    store = link.store_label(r"([a-z0-9\-]+)")
    if store and store not in _1688_RESERVED:
        return _shop_value("1688", store)
    member = link.param("memberid", "member_id")
    if member:
        return _shop_value("1688", member)
    match = re.search(r"/winport/(b2b-[0-9a-z]+)\.html?$", link.path, re.IGNORECASE)
    if match:
        return _shop_value("1688", match.group(1))
    if link.names_item("offerid", "offer_id"):
        raise _Fail("item_link_not_shop")
    raise _Fail("unrecognized_shop_link")


_PLATFORMS: dict[str, Callable[[_Link], str]] = {
    "taobao.com": _taobao,
    "tmall.com": functools.partial(_tmall, "tmall"),
    "tmall.hk": functools.partial(_tmall, "tmallhk"),
    "jd.com": _jd,
    "jd.hk": _jd,
    "pinduoduo.com": _pdd,
    "yangkeduo.com": _pdd,
    "goofish.com": _xianyu,
    "xianyu.com": _xianyu,
    "weidian.com": _weidian,
    "youzan.com": _youzan,
    "douyin.com": _douyin,
    "iesdouyin.com": _douyin,
    "jinritemai.com": _douyin,
    "kuaishou.com": _kuaishou,
    "kwaixiaodian.com": _kuaishou,
    "chenzhongtech.com": _kuaishou,
    "gifshow.com": _kuaishou,
    "1688.com": _alibaba1688,
}


# Registrable domains whose pages belong to many merchants (the platforms above and the link
# shorteners): as a domain or url identifier they say nothing about *which* merchant.
SHARED_DOMAINS: frozenset[str] = frozenset(_PLATFORMS) | _SHORT_LINK_DOMAINS | {"youshop10.com"}


def _link_in_text(text: str) -> str:
    """The link in what a share button copied; ``text`` itself when it is only a link (a
    line-wrapped one is joined again by the caller)."""
    match = _LINK_IN_TEXT.search(text)
    if match is None or (match.start() == 0 and not _WORDS_AFTER_SPACE.search(text)):
        return text
    return match.group().rstrip(".,;:!?")


def _app_shop(scheme: str, text: str) -> str:
    """A shop from an app's own link (openApp.jdMobile://virtual?params={…}, taobao://…)."""
    try:
        parts = urlsplit(text)
    except ValueError:
        raise _Fail("unrecognized_shop_link") from None
    params = {k.lower(): v for k, v in reversed(parse_qsl(parts.query))}
    rest = text[len(scheme) + 3 :]
    if scheme == "openapp.jdmobile":
        return _jd_app(params.get("params", ""))
    if scheme in _APP_WEB_HOSTS:
        page = f"{parts.netloc}{parts.path}" if scheme == "fleamarket" else parts.path.lstrip("/")
        query = f"?{parts.query}" if parts.query else ""
        return _normalize_shop_url(f"https://{_APP_WEB_HOSTS[scheme]}/{page}{query}")
    web = params.get("h5url") or params.get("url") or ""
    if web.lower().startswith(("http://", "https://")):
        return _normalize_shop_url(web)
    if scheme in {"taobao", "tmall"} and "." in parts.netloc:
        return _normalize_shop_url(f"https://{rest}")
    raise _Fail("unrecognized_shop_link")


def _jd_app(params_json: str) -> str:
    """JD's app link carries a JSON object: its shopId is the shop, a skuId an item."""
    if params_json.startswith("%"):
        params_json = unquote(params_json)  # encoded twice by some share sheets
    try:
        data = json.loads(params_json)
    except (ValueError, RecursionError):
        raise _Fail("unrecognized_shop_link") from None
    if not isinstance(data, dict):
        raise _Fail("unrecognized_shop_link")
    fields = {str(k).lower(): v for k, v in data.items()}
    shop_id = fields.get("shopid")
    if isinstance(shop_id, (str, int)) and not isinstance(shop_id, bool) and str(shop_id):
        return _shop_value("jd", str(shop_id))
    if "skuid" in fields or str(fields.get("des", "")).lower() == "productdetail":
        raise _Fail("item_link_not_shop")
    raise _Fail("unrecognized_shop_link")


def _clean_path(path: str) -> str:
    # Decode then re-encode so "%E5%BA%97" and "店" compare equal.
    return quote(unquote(path), safe=_PATH_SAFE).rstrip("/")


def _normalize_shop_url(text: str) -> str:
    url = _split_url(text)
    host = url.host
    registrable = _registrable(host)
    if registrable in _SHORT_LINK_DOMAINS or host in _SHORT_LINK_HOSTS:
        path = _clean_path(url.path)
        if not path.strip("/"):
            raise _Fail("unrecognized_shop_link")
        return host + path  # the code is in the path; the query is the sharer's
    platform = _PLATFORMS.get(registrable)
    if platform is not None:
        return platform(_Link(_sub_labels(host, registrable), url.path, _params(url)))
    if host.startswith("www.") and _psl().privatesuffix(host[4:]) is not None:
        host = host[4:]
    kept = sorted((k, v) for k, v in parse_qsl(url.query) if not _is_tracking(k))
    query = f"?{urlencode(kept, quote_via=quote, safe=_QUERY_SAFE)}" if kept else ""
    return host + _clean_path(url.path) + query


def _normalize_shop(text: str) -> str:
    # URLs cannot contain raw spaces: what is left after taking a link out of share text is a
    # line-wrapped link.
    text = "".join(_link_in_text(text).split())
    scheme = _SCHEME_RE.match(text)
    if scheme and scheme.group(1).lower() in _APP_SCHEMES:
        return _app_shop(scheme.group(1).lower(), text)
    form = _PLATFORM_FORM.match(text)
    if form and form.group(1).lower() in _SHOP_ID_RES:
        return _shop_value(form.group(1).lower(), form.group(2))
    if not _SCHEME_RE.match(text) and "." not in text:
        raise _Fail("not_a_url")
    return _normalize_shop_url(text)


# ---------------------------------------------------------------------------
# Personal kinds
# ---------------------------------------------------------------------------

_PHONE_CHARS = re.compile(r"^\+?[0-9]+$")


def _normalize_phone(text: str) -> str:
    text = re.sub(r"^tel:", "", text, flags=re.IGNORECASE)
    # phonenumbers would turn letters into digits (vanity numbers), so pre-filter.
    text = re.sub(r"[()\[\]/]", "", _NUMERIC_SEPARATORS.sub("", text))
    if not _PHONE_CHARS.match(text) or len(text) > 20:
        raise _Fail("invalid_phone")
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise _Fail("invalid_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise _Fail("invalid_phone")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


# Practical RFC 5322 dot-atom local part, ASCII only (that is what mail providers issue).
_EMAIL_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~\-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~\-]+)*$")


def _normalize_email(text: str) -> str:
    text = "".join(text.split()).lower()
    text = text.removeprefix("mailto:")
    local, sep, domain = text.rpartition("@")
    if not sep or not local or len(local) > 64 or not _EMAIL_LOCAL.match(local):
        raise _Fail("invalid_email")
    try:
        host = _validate_host(domain)
    except _Fail:
        raise _Fail("invalid_email") from None
    return f"{local}@{host}"


_QQ_RE = re.compile(r"^[1-9][0-9]{4,10}$")
_WECHAT_ID_RE = re.compile(r"^[a-z][a-z0-9_\-]{5,19}$")


def _normalize_qq(text: str) -> str:
    text = _NUMERIC_SEPARATORS.sub("", text)
    if not _QQ_RE.match(text):
        raise _Fail("invalid_qq")
    return text


def _normalize_wechat(text: str) -> str:
    candidate = "".join(text.split()).lower()
    if _WECHAT_ID_RE.match(candidate):
        return candidate
    try:
        return _normalize_phone(text)
    except _Fail:
        raise _Fail("invalid_wechat") from None


def _normalize_alipay(text: str) -> str:
    try:
        return _normalize_email(text) if "@" in text else _normalize_phone(text)
    except _Fail:
        raise _Fail("invalid_alipay") from None


def _normalize_bank_card(text: str) -> str:
    text = _NUMERIC_SEPARATORS.sub("", text)
    if not text.isascii() or not text.isdigit():
        raise _Fail("not_digits")
    if not 12 <= len(text) <= 19:
        raise _Fail("invalid_length")
    if not luhn.is_valid(text):
        raise _Fail("bad_luhn")
    return text


# GB 32100-2015 code alphabet (no I, O, S, V, Z).
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Chars 1-2 (registration authority, entity type) may be letters, e.g. "N2" for rural
# collectives, which stdnum's validate() rejects; 3-8 are the region code.
_USCC_RE = re.compile(rf"^[{_USCC_ALPHABET}]{{2}}[0-9]{{6}}[{_USCC_ALPHABET}]{{10}}$")


def _normalize_uscc(text: str) -> str:
    text = _NUMERIC_SEPARATORS.sub("", text).upper()
    if len(text) != 18:
        raise _Fail("invalid_length")
    if not _USCC_RE.match(text):
        raise _Fail("invalid_format")
    if _uscc.calc_check_digit(text[:17]) != text[17]:
        raise _Fail("bad_check_digit")
    return text


def _normalize_other(text: str) -> str:
    # Lower-casing can un-normalize ("İ" -> "i" + U+0307) and NFKC can re-case; a few
    # rounds reach the fixed point that makes normalize() idempotent.
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", text.lower())
        if folded == text:
            break
        text = folded
    if len(text) > MAX_OTHER_LENGTH:
        raise _Fail("too_long")
    return text


_NORMALIZERS = {
    IdentifierKind.DOMAIN: _normalize_domain,
    IdentifierKind.URL: _normalize_domain,
    IdentifierKind.SHOP: _normalize_shop,
    IdentifierKind.PHONE: _normalize_phone,
    IdentifierKind.EMAIL: _normalize_email,
    IdentifierKind.QQ: _normalize_qq,
    IdentifierKind.WECHAT: _normalize_wechat,
    IdentifierKind.ALIPAY: _normalize_alipay,
    IdentifierKind.BANK_CARD: _normalize_bank_card,
    IdentifierKind.USCC: _normalize_uscc,
    IdentifierKind.OTHER: _normalize_other,
}


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _coerce_kind(kind: object) -> IdentifierKind | None:
    if isinstance(kind, IdentifierKind):
        return kind
    if isinstance(kind, str):
        try:
            return IdentifierKind(kind.strip().lower())
        except ValueError:
            return None
    return None


def normalize(kind: str | IdentifierKind, value: str) -> Identifier:
    """Normalize ``value`` as an identifier of ``kind``; raises ``InvalidIdentifier``."""
    ident_kind = _coerce_kind(kind)
    if ident_kind is None:
        raise InvalidIdentifier(str(kind), value if isinstance(value, str) else "", "unknown_kind")
    if not isinstance(value, str):
        raise InvalidIdentifier(ident_kind.value, repr(value), "not_text")
    return _normalized(ident_kind, value)


@functools.lru_cache(maxsize=2048)
def _normalized(ident_kind: IdentifierKind, value: str) -> Identifier:
    """:func:`normalize` of a text, kept for the identifiers seen last (a refusal is not kept): when
    a shop's link goes round, the crowd checks and reports the same few identifiers. At most
    2,048 values of at most 2,000 characters each."""
    try:
        if len(value) > _MAX_RAW_LENGTH:
            raise _Fail("too_long")
        text = _fold(value, ident_kind)
        if not text:
            raise _Fail("empty")
        if len(text) > MAX_LENGTH:
            raise _Fail("too_long")
        normalized = _NORMALIZERS[ident_kind](text)
        if len(normalized) > MAX_LENGTH:
            raise _Fail("too_long")
    except _Fail as failure:
        raise InvalidIdentifier(ident_kind.value, value, failure.reason) from None
    return Identifier(ident_kind, normalized)


def is_personal(kind: str | IdentifierKind) -> bool:
    """True if values of this kind identify a natural person and must be masked in public."""
    ident_kind = _coerce_kind(kind)
    if ident_kind is None:
        raise InvalidIdentifier(str(kind), "", "unknown_kind")
    return ident_kind in _PERSONAL_KINDS


def _mask_middle(text: str) -> str:
    if len(text) <= 4:
        return "***"
    return f"{text[:2]}***{text[-2:]}"


def _mask_phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        return _mask_middle(value)
    national = str(phonenumbers.national_significant_number(number))
    if len(national) >= 8:
        shown = f"{national[:3]}****{national[-4:]}"
    elif len(national) >= 5:
        shown = f"{national[:1]}****{national[-2:]}"
    else:
        shown = "****"
    return f"+{number.country_code} {shown}"


def _mask_email(value: str) -> str:
    local, sep, domain = value.rpartition("@")
    if not sep or not local:
        return _mask_middle(value)
    return f"{local[0]}***@{domain}"


def mask(identifier: Identifier) -> str:
    """Public display form: personal kinds masked, others unchanged."""
    kind, value = identifier.kind, identifier.value
    if kind not in _PERSONAL_KINDS:
        return value
    if kind == IdentifierKind.BANK_CARD:
        # Fixed-width mask: the card's length is not revealed either.
        return f"**** **** **** {value[-4:]}" if len(value) >= 8 else "****"
    if kind == IdentifierKind.EMAIL or (kind == IdentifierKind.ALIPAY and "@" in value):
        return _mask_email(value)
    if kind == IdentifierKind.PHONE or (
        kind in {IdentifierKind.WECHAT, IdentifierKind.ALIPAY} and value.startswith("+")
    ):
        return _mask_phone(value)
    return _mask_middle(value)


def shown_identifier(kind: str, value: str, full_disclosure: bool) -> str:
    """A merchant identifier as a regulator is shown it: in full (it is the merchant's, not a
    victim's), except a bank card, to its last 4 digits unless the regulator needs it whole."""
    if kind == IdentifierKind.BANK_CARD and not full_disclosure:
        return mask(Identifier(IdentifierKind.BANK_CARD, value))
    return value
