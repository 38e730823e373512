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
import re
import unicodedata
from dataclasses import dataclass
from encodings import idna as _idna
from enum import StrEnum
from urllib.parse import parse_qsl, quote, unquote

import phonenumbers
from publicsuffixlist import PublicSuffixList
from stdnum import luhn
from stdnum.cn import uscc as _uscc

__all__ = [
    "MAX_LENGTH",
    "MAX_OTHER_LENGTH",
    "REASONS",
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
    text = unicodedata.normalize("NFKC", raw)
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
_AUTHORITY_END = re.compile(r"[/?#\\]")


@dataclass(frozen=True)
class _Url:
    host: str  # validated, lower-case, punycode
    path: str
    query: str
    fragment: str


def _split_url(text: str) -> _Url:
    """Split a scheme-optional http(s) URL or bare host; validates the host."""
    match = _SCHEME_RE.match(text)
    if match:
        if match.group(1).lower() not in {"http", "https"}:
            raise _Fail("unsupported_scheme")
        rest = text[match.end() :]
    elif text.startswith("//"):
        rest = text[2:]
    else:
        rest = text
    end = _AUTHORITY_END.search(rest)
    authority, remainder = (rest[: end.start()], rest[end.start() :]) if end else (rest, "")
    remainder, _, fragment = remainder.partition("#")
    path, _, query = remainder.partition("?")
    path = path.replace("\\", "/")  # browsers treat "\\" as "/" in http(s) URLs
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        raise _Fail("ip_address")  # bracketed IPv6 literal
    if ":" in host:
        host, _, port = host.rpartition(":")
        if (port and not port.isdecimal()) or ":" in host:
            raise _Fail("invalid_domain")
    return _Url(_validate_host(host), path, query, fragment)


def _validate_host(host: str) -> str:
    """Lower-case, punycode and syntax-check a host name; reject IPs and bare suffixes."""
    host = host.lower().removesuffix(".")
    if not host or len(host) > 253:
        raise _Fail("invalid_domain")
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
    if psl.publicsuffix(host) is None:
        raise _Fail("unknown_tld")
    if psl.privatesuffix(host) is None:
        raise _Fail("public_suffix")
    return host


def _registrable(host: str) -> str:
    """eTLD+1 of an already validated host."""
    result = _psl().privatesuffix(host)
    if result is None:  # pragma: no cover - _validate_host guarantees it exists
        raise _Fail("public_suffix")
    return str(result)


def _normalize_domain(text: str) -> str:
    text = "".join(text.split())  # a host cannot contain spaces: line-wrap artifacts
    return _registrable(_split_url(text).host)


# ---------------------------------------------------------------------------
# Shops
# ---------------------------------------------------------------------------

_NUMERIC_ID = re.compile(r"^[0-9]{1,20}$")
_SUBDOMAIN_ID = re.compile(r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$")
_OPAQUE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")

_SHOP_ID_RES: dict[str, re.Pattern[str]] = {
    "taobao": _NUMERIC_ID,
    "tmall": _SUBDOMAIN_ID,
    "jd": _NUMERIC_ID,
    "pdd": _NUMERIC_ID,
    "xianyu": _OPAQUE_ID,
    "weidian": _NUMERIC_ID,
}
_PLATFORM_FORM = re.compile(r"^([a-z]+):(.*)$", re.IGNORECASE)

# Tmall sub-domains that belong to the platform, not to a store.
_TMALL_RESERVED = frozenset(
    {
        "www", "m", "detail", "mdetail", "list", "login", "chaoshi", "cart", "buy", "s",
        "search", "pages", "vip", "err", "help", "service", "h5", "shop", "brand", "jx",
        "miao", "fx", "food", "mei", "3c", "ju", "seller", "member", "register", "ai",
    }
)  # fmt: skip

_ITEM_PATH = re.compile(r"(?:^|/)(?:item|detail|goods|product)[^/]*$|/i\d+\.htm", re.IGNORECASE)


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
    if platform == "tmall":
        shop_id = shop_id.lower()
    if not _SHOP_ID_RES[platform].match(shop_id):
        raise _Fail("invalid_shop_id")
    if platform == "tmall" and shop_id in _TMALL_RESERVED:
        raise _Fail("invalid_shop_id")
    return f"{platform}:{shop_id}"


def _first_param(params: dict[str, str], *keys: str) -> str | None:
    for key in keys:
        if params.get(key):
            return params[key]
    return None


def _sub_labels(host: str, registrable: str) -> list[str]:
    if host == registrable:
        return []
    return host.removesuffix(registrable).removesuffix(".").split(".")


def _platform_shop(url: _Url) -> str | None:
    """'platform:id' for a recognised platform link, None if the platform is unknown."""
    host = url.host
    registrable = _registrable(host)
    params = _params(url)
    path = url.path
    subs = _sub_labels(host, registrable)

    # Xianyu first: its legacy host 2.taobao.com lives under taobao.com.
    if registrable in {"goofish.com", "xianyu.com"} or (
        registrable == "taobao.com" and subs and subs[-1] in {"2", "xianyu"}
    ):
        user = _first_param(params, "userid", "user_id", "sellerid", "seller_id")
        if user:
            return _shop_value("xianyu", user)
        if _ITEM_PATH.search(path) or "itemid" in params or "id" in params:
            raise _Fail("item_link_not_shop")
        raise _Fail("unrecognized_shop_link")

    if registrable == "taobao.com":
        match = re.fullmatch(r"shop(\d+)", subs[0]) if subs else None
        if match and subs[1:] in ([], ["m"]):
            return _shop_value("taobao", match.group(1))
        shop_id = _first_param(params, "user_number_id", "shop_id", "shopid")
        if shop_id:
            return _shop_value("taobao", shop_id)
        if (subs and subs[0] in {"item", "detail"}) or _ITEM_PATH.search(path):
            raise _Fail("item_link_not_shop")
        raise _Fail("unrecognized_shop_link")

    if registrable == "tmall.com":
        if (subs and subs[0] in {"detail", "mdetail"}) or _ITEM_PATH.search(path):
            raise _Fail("item_link_not_shop")
        is_store_host = len(subs) == 1 or (len(subs) == 2 and subs[1] == "m")
        if is_store_host and subs[0] not in _TMALL_RESERVED:
            return _shop_value("tmall", subs[0])
        raise _Fail("unrecognized_shop_link")

    if registrable in {"jd.com", "jd.hk"}:
        match = re.search(r"(?:^|/)index-(\d+)\.html?$", path)
        if match and subs and subs[0] == "mall":
            return _shop_value("jd", match.group(1))
        shop_id = _first_param(params, "shopid", "shop_id")
        if shop_id and not (subs and "item" in subs[0]):
            return _shop_value("jd", shop_id)
        if (subs and "item" in subs[0]) or _ITEM_PATH.search(path):
            raise _Fail("item_link_not_shop")
        raise _Fail("unrecognized_shop_link")

    if registrable in {"pinduoduo.com", "yangkeduo.com"}:
        # An explicit mall_id names the shop even on a goods page.
        mall_id = _first_param(params, "mall_id", "mallid")
        if mall_id:
            return _shop_value("pdd", mall_id)
        if "goods_id" in params or _ITEM_PATH.search(path):
            raise _Fail("item_link_not_shop")
        raise _Fail("unrecognized_shop_link")

    if registrable == "weidian.com":
        match = re.fullmatch(r"shop(\d+)", subs[0]) if subs else None
        if match and subs[1:] in ([], ["v"]):
            return _shop_value("weidian", match.group(1))
        user = _first_param(params, "userid", "user_id")
        if user:
            return _shop_value("weidian", user)
        match = re.match(r"^/s/(\d+)/?$", path)
        if match:
            return _shop_value("weidian", match.group(1))
        if "itemid" in params or _ITEM_PATH.search(path):
            raise _Fail("item_link_not_shop")
        raise _Fail("unrecognized_shop_link")

    return None


# Characters left unescaped in a normalized path (RFC 3986 pchar minus '%', plus '/').
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _normalize_shop(text: str) -> str:
    text = "".join(text.split())  # URLs cannot contain raw spaces: line-wrap artifacts
    form = _PLATFORM_FORM.match(text)
    if form and form.group(1).lower() in _SHOP_ID_RES:
        return _shop_value(form.group(1).lower(), form.group(2))
    try:
        url = _split_url(text)
    except _Fail as failure:
        if not _SCHEME_RE.match(text) and "." not in text:
            raise _Fail("not_a_url") from None
        raise failure from None
    platform_value = _platform_shop(url)
    if platform_value is not None:
        return platform_value
    host = url.host
    if host.startswith("www.") and _psl().privatesuffix(host[4:]) is not None:
        host = host[4:]
    # Decode then re-encode so "%E5%BA%97" and "店" compare equal.
    path = quote(unquote(url.path), safe=_PATH_SAFE).rstrip("/")
    return host + path


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
