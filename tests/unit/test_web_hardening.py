"""Issue 9, items 7 and 9 without I/O: which address is the client's, and the settings that
guard a production deployment."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chorus.settings import Settings, parse_networks
from chorus.web.middleware import client_address

PROXIES = parse_networks("10.0.0.0/8, 2001:db8::/32")
PROD: dict[str, Any] = {
    "env": "production",
    "secret_key": "s" * 40,
    "data_key": "d" * 40,
    "smtp_host": "mail.example.com",
}


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # an untrusted peer: whatever it writes is ignored
        ("198.51.100.7", ["1.2.3.4"], "198.51.100.7"),
        # a trusted proxy: the address it appended
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        # the client's own entries left of it prove nothing
        ("10.0.0.5", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        # two proxies, and the header split over two lines
        ("10.0.0.5", ["198.51.100.1", "10.1.2.3"], "198.51.100.1"),
        # every hop a proxy: the left-most one
        ("10.0.0.5", ["10.9.9.9, 10.1.1.1"], "10.9.9.9"),
        # garbage where an address belongs: the last hop that wrote one
        ("10.0.0.5", ["198.51.100.1, not-an-ip"], "10.0.0.5"),
        ("10.0.0.5", ["not-an-ip, 10.1.1.1"], "10.1.1.1"),
        # IPv6 proxies and clients
        ("2001:db8::1", ["2001:db9::42"], "2001:db9::42"),
        ("2001:db8::1", ["[2001:db9::42]"], "2001:db9::42"),
        # a trusted peer that forwards nothing
        ("10.0.0.5", [], "10.0.0.5"),
    ],
)
def test_client_address(peer: str, forwarded: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_address("10.0.0.5", ["198.51.100.1"], ()) == "10.0.0.5"


@given(
    st.lists(st.ip_addresses(v=4).map(str), max_size=6),
    st.ip_addresses(v=4).filter(lambda a: not any(a in n for n in PROXIES)).map(str),
)
def test_an_untrusted_client_cannot_choose_its_address(spoofed: list[str], real: str) -> None:
    """Whatever a client puts in the header, behind a trusted proxy it is known by the address
    that proxy saw."""
    assert client_address("10.0.0.5", [", ".join([*spoofed, real])], PROXIES) == real


def test_production_refuses_an_http_public_url() -> None:
    with pytest.raises(ValidationError, match="CHORUS_PUBLIC_URL must be https://"):
        Settings(**PROD, public_url="http://chorus.example.com")
    with pytest.raises(ValidationError, match="CHORUS_ALLOW_HTTP_PUBLIC_URL"):
        Settings(**PROD, public_url="chorus.example.com")
    assert (
        Settings(**PROD, public_url="https://chorus.example.com").public_origin
        == "https://chorus.example.com"
    )
    allowed = Settings(**PROD, public_url="http://10.1.1.1:8000", allow_http_public_url=True)
    assert allowed.public_origin == "http://10.1.1.1:8000"
    # development keeps http:// for the local default
    assert Settings(public_url="http://127.0.0.1:8000").public_url.startswith("http://")


def test_trusted_proxies_must_parse() -> None:
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="10.0.0.0/8, proxy.internal")
    assert Settings(trusted_proxies=" 10.0.0.5 ,::1").trusted_proxy_networks == parse_networks(
        "10.0.0.5/32, ::1/128"
    )
    assert Settings(trusted_proxies="").trusted_proxy_networks == ()


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Chorus.Example.com/", "https://chorus.example.com"),
        ("https://chorus.example.com:443/app", "https://chorus.example.com"),
        ("http://chorus.example.com:8080", "http://chorus.example.com:8080"),
        ("http://[::1]:80", "http://[::1]"),
    ],
)
def test_public_origin_is_what_browsers_send(url: str, origin: str) -> None:
    assert Settings(public_url=url).public_origin == origin


def test_account_rate_limit_spec_is_checked() -> None:
    with pytest.raises(ValidationError):
        Settings(auth_account_rate_limit="10 per hour")


async def _headers_for(
    path: str,
    content_type: str,
    *,
    own: dict[str, str] | None = None,
    request: dict[str, str] | None = None,
    opt: dict[str, Any] | None = None,
    public_url: str = "http://chorus.example.com",
) -> dict[str, str]:
    """What the security_headers hook makes of one response start."""
    from types import SimpleNamespace

    from chorus.web.middleware import security_headers

    raw = [
        (b"content-type", content_type.encode()),
        *((k.encode(), v.encode()) for k, v in (own or {}).items()),
    ]
    message: Any = {"type": "http.response.start", "status": 200, "headers": raw}
    scope: Any = {
        "type": "http",
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in (request or {}).items()],
        "route_handler": SimpleNamespace(opt=opt or {}),
    }
    await security_headers(Settings(public_url=public_url))(message, scope)
    return {k.decode(): v.decode() for k, v in message["headers"]}


async def test_a_pages_own_csp_is_kept_and_never_framed() -> None:
    own = {"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'"}
    got = await _headers_for("/api/v1/complaints/1/html", "text/html; charset=utf-8", own=own)
    assert (
        got["content-security-policy"]
        == "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    )
    assert got["cache-control"] == "no-store"


async def test_inline_styles_only_on_the_scalar_page() -> None:
    from chorus.web.middleware import PAGE_CSP, SCALAR_CSP

    assert (await _headers_for("/schema/", "text/html"))["content-security-policy"] == SCALAR_CSP
    assert (await _headers_for("/schema/swagger", "text/html"))["content-security-policy"] == PAGE_CSP
    assert (await _headers_for("/verify", "text/html"))["content-security-policy"] == PAGE_CSP
    assert (
        "unsafe-inline" not in PAGE_CSP
        and "'unsafe-inline'" in SCALAR_CSP.split("style-src")[1].split(";")[0]
    )


async def test_no_store_rules() -> None:
    assert "cache-control" not in await _headers_for("/verify", "text/html")  # anonymous page
    signed_in = {"cookie": "chorus_session=abc"}
    assert (await _headers_for("/", "text/html", request=signed_in))["cache-control"] == "no-store"
    bearer = {"authorization": "Bearer x"}
    assert (await _headers_for("/", "text/html", request=bearer))["cache-control"] == "no-store"
    assert "cache-control" not in await _headers_for("/app.css", "text/css", request=signed_in)
    api = await _headers_for("/api/v1/x", "application/json", own={"cache-control": "max-age=600"})
    assert api["cache-control"] == "no-store"  # a handler cannot make a personal answer cacheable by accident
    assert "cache-control" not in await _headers_for("/api/v1/x", "application/json", opt={"cacheable": True})
    https = await _headers_for("/healthz", "application/json", public_url="https://chorus.example.com")
    assert https["strict-transport-security"] == "max-age=63072000"
