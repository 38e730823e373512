"""Members' webhooks: an HTTPS POST of a JSON payload signed with HMAC-SHA256.

Headers: ``X-Chorus-Timestamp: <unix seconds>`` and ``X-Chorus-Signature: sha256=<hex>`` where
the hex is HMAC-SHA256(secret, ``<timestamp>.<body>``). The receiver recomputes it with the
secret it was shown once, compares in constant time and refuses old timestamps (replays).
The address follows the regulator channel's rules (``chorus.netguard``): in production https
only and public addresses only, checked when saved and again right before each request, which
goes to the address checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from chorus import netguard

SIGNATURE_HEADER = "X-Chorus-Signature"
TIMESTAMP_HEADER = "X-Chorus-Timestamp"


class Transient(Exception):
    """Worth trying again later: a server error, a timeout, the network."""


class Refused(Exception):
    """The receiver answered 4xx, or the address may not be reached."""


def new_secret() -> str:
    return secrets.token_hex(32)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signed: str, *, now: float | None = None) -> bool:
    """What a receiver does (used by the tests' receiver too): the signature matches and the
    timestamp is within five minutes."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= 300 and hmac.compare_digest(signature(secret, timestamp, body), signed)


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


async def check_address(url: str, policy: netguard.Policy) -> None:
    """Raises ``netguard.Blocked`` / ``netguard.Unresolvable`` for an address that may not be used."""
    await netguard.allowed_addresses(url, policy)


async def post(
    url: str, secret: str, payload: dict[str, Any], *, policy: netguard.Policy, seconds: float
) -> int:
    """POST the signed payload; the answer's status (2xx). Raises ``Transient`` or ``Refused``."""
    import httpx  # here, not at the top: the web process, which only checks addresses, never loads it

    body = encode(payload)
    stamp = str(int(time.time()))
    request = httpx.Request(
        "POST",
        url,
        content=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "chorus-webhook/1",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: signature(secret, stamp, body),
        },
    )
    try:
        addresses = await netguard.allowed_addresses(url, policy)
    except netguard.Unresolvable as exc:
        raise Transient(f"unresolvable: {exc}") from exc
    except netguard.Blocked as exc:
        raise Refused(f"address_blocked: {exc}") from exc
    failure: Exception | None = None
    try:
        async with asyncio.timeout(seconds):
            async with httpx.AsyncClient(
                timeout=seconds, follow_redirects=False, trust_env=False, verify=netguard.certificates()
            ) as client:
                for address in addresses:
                    try:
                        response = await client.send(netguard.pinned(request, address))
                    except httpx.ConnectError as exc:
                        failure = exc
                        continue
                    except httpx.TransportError as exc:
                        raise Transient(f"{type(exc).__name__}: {exc}") from exc
                    code = response.status_code
                    if 200 <= code < 300:
                        return code
                    if code >= 500 or code in (408, 429):
                        raise Transient(f"{code}")
                    raise Refused(f"{code}")
    except TimeoutError as exc:
        raise Transient(f"timeout after {seconds:g} s") from exc
    raise Transient(f"{type(failure).__name__}: {failure}")
