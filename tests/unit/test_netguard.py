"""Which hosts a regulator's HTTP channel may reach (chorus.netguard): literal addresses and names
resolved for real (nothing is sent anywhere), and the pinned request that reaches a checked address."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from chorus import netguard
from chorus.netguard import Blocked, Policy, address_refusal, allowed_addresses, pinned
from chorus.regulators.schemas import credentials_env_allowed
from chorus.settings import Env, Settings

STRICT = Policy(strict=True)
LENIENT = Policy(strict=False)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.1.2.3", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "metadata"),  # AWS, GCP, Azure, OpenStack
        ("100.100.100.200", "metadata"),  # Alibaba Cloud
        ("fd00:ec2::254", "metadata"),  # AWS over IPv6
        ("168.63.129.16", "metadata"),  # Azure's wire server: a public address
        ("169.254.1.1", "link_local"),
        ("fe80::1", "link_local"),
        ("100.64.0.1", "reserved"),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6 reaches IPv4 loopback
        ("::ffff:169.254.169.254", "metadata"),
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "203.0.114.1"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://127.0.0.1/v1", "127.0.0.1"),
        ("https://10.0.0.1/v1", "10.0.0.1"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("https://[::1]:8443/v1", "::1"),
        ("https://localhost/v1", "127.0.0.1"),  # a name that resolves to loopback
        ("https://LOCALHOST:9000/v1", "127.0.0.1"),
    ],
)
async def test_strict_policy_resolves_and_refuses(url: str, address: str) -> None:
    with pytest.raises(Blocked) as caught:
        await allowed_addresses(url, STRICT)
    assert caught.value.address == address and caught.value.reason != "scheme"


async def test_strict_policy_requires_https() -> None:
    with pytest.raises(Blocked) as caught:
        await allowed_addresses("http://8.8.8.8/v1", STRICT)
    assert caught.value.reason == "scheme"
    for bad in ("ftp://8.8.8.8/", "https:///v1", "https://8.8.8.8:99999/"):
        with pytest.raises(Blocked):
            await allowed_addresses(bad, STRICT)


async def test_strict_policy_passes_public_addresses() -> None:
    assert await allowed_addresses("https://8.8.8.8/v1", STRICT) == [ipaddress.ip_address("8.8.8.8")]


async def test_development_allows_loopback() -> None:
    assert await allowed_addresses("http://localhost:8000/v1", LENIENT) == [ipaddress.ip_address("127.0.0.1")]


def test_the_policy_is_strict_in_production_only() -> None:
    dev = Settings()
    assert netguard.policy(dev) == LENIENT
    assert netguard.policy(dev.model_copy(update={"env": Env.production})) == STRICT


def test_a_pinned_request_goes_to_the_address_and_keeps_the_name_for_host_and_tls() -> None:
    request = httpx.Request(
        "POST",
        "https://gateway.example.gov.cn:8443/v1/complaints",
        json={"a": 1},
        headers={"Authorization": "Bearer k", "Idempotency-Key": "7"},
    )
    sent = pinned(request, ipaddress.ip_address("203.0.114.9"))
    assert str(sent.url) == "https://203.0.114.9:8443/v1/complaints"
    assert sent.headers["host"] == "gateway.example.gov.cn:8443"
    assert sent.extensions["sni_hostname"] == "gateway.example.gov.cn"  # certificate checked for the name
    assert sent.headers["authorization"] == "Bearer k" and sent.headers["idempotency-key"] == "7"
    assert sent.content == request.content and sent.method == "POST"
    six = pinned(
        httpx.Request("GET", "http://gw.example/v1/complaints/R1"), ipaddress.ip_address("2001:db8::5")
    )
    assert str(six.url) == "http://[2001:db8::5]/v1/complaints/R1" and six.headers["host"] == "gw.example"
    assert "sni_hostname" not in six.extensions


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("CHORUS_REGULATOR_KEY_SAMR", True),
        ("CHORUS_REGULATOR_KEY_12315_GATEWAY", True),
        ("CHORUS_REGULATOR_KEY_", False),
        ("CHORUS_SECRET_KEY", False),
        ("CHORUS_DATABASE_URL", False),
        ("AWS_SECRET_ACCESS_KEY", False),
        ("chorus_regulator_key_x", False),
        ("CHORUS_REGULATOR_KEY_X\n", False),
    ],
)
def test_api_keys_come_only_from_regulator_key_variables(name: str, allowed: bool) -> None:
    assert credentials_env_allowed(name) is allowed


def test_organizers_are_told_why_a_request_was_not_sent() -> None:
    from chorus.filings.submit import blocked_message

    assert blocked_message(Blocked("scheme", "http://gw.example/v1")) == (
        "address_blocked: https:// is required (http://gw.example/v1)"
    )
    assert blocked_message(Blocked("loopback", "https://gw.example/v1", "127.0.0.1")) == (
        "address_blocked: https://gw.example/v1 leads to 127.0.0.1 (loopback);"
        " only public servers are reached"
    )
    assert "not a usable address (host)" in blocked_message(Blocked("host", "https://gw.example:99999/"))
