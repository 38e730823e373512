"""Requests to addresses an admin typed (a regulator's HTTP channel): which hosts they may reach.

In production (``strict``) a URL must be ``https://`` and its host must resolve only to public
addresses — not loopback, private, link-local, shared (CGNAT), reserved, multicast or a cloud
metadata service. The check runs when the address is saved and again right before every
connection, on the very addresses the connection then uses: a name that resolved to a public
address yesterday and to 127.0.0.1 today (DNS rebinding) is refused at connection time.

:func:`pinned` turns a request into one sent to a checked address, keeping the name for the
``Host`` header and for TLS (SNI and certificate checks), so nothing resolves the name again.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from chorus.settings import Env, Settings

if TYPE_CHECKING:  # imported where a request is sent (the worker): the web process only checks addresses
    import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services: AWS/GCP/Azure/OpenStack (169.254.169.254, link-local anyway), AWS ECS
# task metadata, Alibaba Cloud, Azure's wire server (a public address!), AWS's IPv6 endpoint.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "168.63.129.16", "fd00:ec2::254")
)


class Blocked(Exception):
    """The URL may not be requested: ``reason`` is ``scheme``, ``host`` or an address class."""

    def __init__(self, reason: str, url: str, address: str | None = None) -> None:
        self.reason = reason
        self.url = url
        self.address = address
        where = f" ({address})" if address else ""
        super().__init__(f"{reason}{where}")


class Unresolvable(OSError):
    """The host name does not resolve (now): may be temporary."""


@dataclass(frozen=True)
class Policy:
    """``strict``: https only, public addresses only (production)."""

    strict: bool


def policy(settings: Settings) -> Policy:
    """Strict in production; in development anything goes (a regulator stand-in on 127.0.0.1)."""
    return Policy(strict=settings.env is Env.production)


def address_refusal(address: IPAddress) -> str | None:
    """Why a connection to ``address`` is refused under the strict policy; None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:  # ::ffff:127.0.0.1 and friends reach an IPv4 address
            return address_refusal(embedded)
    if address in METADATA:
        return "metadata"
    for reason, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link_local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return reason
    if not address.is_global:  # shared address space (100.64.0.0/10) and the like
        return "reserved"
    return None


def _parts(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise Blocked("host", url) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Blocked("scheme" if parts.hostname else "host", url)
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (a literal address: itself), in the resolver's order."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unresolvable(f"{host}: {exc.strerror or exc}") from exc
    seen: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # drop an IPv6 zone
        if address not in seen:
            seen.append(address)
    if not seen:
        raise Unresolvable(host)
    return seen


async def allowed_addresses(url: str, policy: Policy) -> list[IPAddress]:
    """Resolve the URL's host and check it: the addresses a connection may use.

    Raises ``Blocked`` (scheme, or any address refused — one bad address refuses the name, since
    the resolver may hand out any of them) or ``Unresolvable``."""
    scheme, host, port = _parts(url)
    if policy.strict and scheme != "https":
        raise Blocked("scheme", url)
    addresses = await resolve(host, port)
    if policy.strict:
        for address in addresses:
            reason = address_refusal(address)
            if reason is not None:
                raise Blocked(reason, url, str(address))
    return addresses


def pinned(request: httpx.Request, address: IPAddress) -> httpx.Request:
    """The same request, sent to ``address``: the Host header and TLS (SNI, certificate check)
    still use the name, so no second lookup can change where it goes."""
    import httpx

    url = request.url
    host = url.host
    target = url.copy_with(host=str(address))
    headers = httpx.Headers(request.headers)
    headers["Host"] = request.headers.get("Host") or url.netloc.decode("ascii")
    extensions = dict(request.extensions)
    if url.scheme == "https":
        extensions["sni_hostname"] = host
    return httpx.Request(
        request.method, target, headers=headers, content=request.content, extensions=extensions
    )


@functools.cache
def certificates() -> ssl.SSLContext:
    """The TLS settings with the trusted certificates for every request sent out (a regulator's
    server, a member's webhook), loaded once per process: loading them costs about 20 ms of CPU,
    which a client made per request (a webhook to each member) would pay each time."""
    import httpx

    return httpx.create_ssl_context(trust_env=False)


__all__ = [
    "METADATA",
    "Blocked",
    "IPAddress",
    "Policy",
    "Unresolvable",
    "address_refusal",
    "allowed_addresses",
    "certificates",
    "pinned",
    "policy",
    "resolve",
]
