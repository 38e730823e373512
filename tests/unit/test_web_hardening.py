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
PROD: dict[str, Any] = {"env": "production", "secret_key": "s" * 40, "smtp_host": "mail.example.com"}


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
