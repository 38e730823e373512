"""Client of the regulator HTTP channel, protocol v1 (API.md): submit a complaint, ask its status.

    POST {base}/complaints        Authorization: Bearer {api_key}, Idempotency-Key: {filing id}
                                  → 200|201 {reference, status}; a repeated key answers the same
    GET  {base}/complaints/{ref}  → 200 {reference, status, updated_at, message?}

5xx answers, timeouts and connection failures are ``Transient`` (retry later under the same key);
any other answer is ``Refused`` with the server's message, shown to organizers. The host is
checked (``chorus.netguard``: in production https and public addresses only) right before each
connection, which goes to a checked address; ``netguard.Blocked`` reaches the caller. At most
``Outbound.max_bytes`` of an answer are read: a longer one is refused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from chorus import netguard

REMOTE_STATUSES = frozenset({"received", "accepted", "rejected", "in_mediation", "resolved", "closed"})
MAX_MESSAGE = 2000


class Transient(Exception):
    """Worth trying again later (server error, timeout, network)."""


class Refused(Exception):
    """The regulator's server said no; retrying the same request will not help."""

    def __init__(self, status_code: int, message: str) -> None:
        self.status_code = status_code
        self.message = message[:MAX_MESSAGE]
        super().__init__(f"{status_code}: {self.message}")


@dataclass(frozen=True)
class Outbound:
    """How requests to a regulator are made: the time one exchange may take (connecting,
    sending, reading the answer), the most of an answer read, and the host policy."""

    seconds: float
    max_bytes: int
    policy: netguard.Policy


@dataclass(frozen=True)
class Receipt:
    reference: str
    status: str  # one of REMOTE_STATUSES
    message: str = ""


@dataclass(frozen=True)
class Answer:
    """A server's answer, read in full (it is never longer than ``Outbound.max_bytes``)."""

    status_code: int
    reason: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


def _message(answer: Answer) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text.strip()[:MAX_MESSAGE] or answer.reason
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "title"):
            if isinstance(body.get(key), str) and body[key].strip():
                return str(body[key]).strip()[:MAX_MESSAGE]
    return answer.text.strip()[:MAX_MESSAGE]


def _receipt(answer: Answer) -> Receipt:
    try:
        body = answer.json()
        reference, status = str(body["reference"]).strip(), str(body["status"]).strip()
    except (ValueError, KeyError, TypeError) as exc:
        raise Refused(answer.status_code, f"unreadable answer: {answer.text[:200]}") from exc
    if not reference or len(reference) > 200 or status not in REMOTE_STATUSES:
        raise Refused(answer.status_code, f"unexpected answer: {answer.text[:200]}")
    message = body.get("message") if isinstance(body.get("message"), str) else ""
    return Receipt(reference, status, message[:MAX_MESSAGE])


class _TooLong(Exception):
    pass


async def _read(response: httpx.Response, limit: int) -> bytes:
    """The answer's body, or ``_TooLong`` as soon as it passes ``limit`` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLong
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise _TooLong
    return bytes(body)


@asynccontextmanager
async def session(out: Outbound) -> AsyncIterator[httpx.AsyncClient]:
    """A client for several requests to one regulator's server (the status sweep asks about
    each of its filings in turn): connections are kept alive between them. Every request is
    still checked and sent to the address checked (a connection is reused only for that address)."""
    async with httpx.AsyncClient(
        timeout=out.seconds, follow_redirects=False, trust_env=False, verify=netguard.certificates()
    ) as client:
        yield client


async def _exchange(request: httpx.Request, out: Outbound, client: httpx.AsyncClient | None) -> Answer:
    if client is None:
        async with session(out) as own:
            return await _exchange(request, out, own)
    try:
        addresses = await netguard.allowed_addresses(str(request.url), out.policy)
    except netguard.Unresolvable as exc:
        raise Transient(f"unresolvable: {exc}") from exc
    failure: Exception | None = None
    for address in addresses:  # the checked addresses, in the resolver's order
        try:
            response = await client.send(netguard.pinned(request, address), stream=True)
        except httpx.ConnectError as exc:
            failure = exc
            continue
        except httpx.TimeoutException as exc:
            raise Transient(f"timeout after {out.seconds:g} s") from exc
        except httpx.TransportError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        try:
            return Answer(response.status_code, response.reason_phrase, await _read(response, out.max_bytes))
        except _TooLong:
            code = response.status_code
            if code >= 500 or code in (408, 429):
                raise Transient(f"{code}: answer_too_large (more than {out.max_bytes} bytes)") from None
            raise Refused(code, f"answer_too_large: more than {out.max_bytes} bytes") from None
        except httpx.TimeoutException as exc:
            raise Transient(f"timeout after {out.seconds:g} s") from exc
        except httpx.TransportError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        finally:
            await response.aclose()
    raise Transient(f"{type(failure).__name__}: {failure}")


async def _call(request: httpx.Request, out: Outbound, client: httpx.AsyncClient | None = None) -> Answer:
    try:
        async with asyncio.timeout(out.seconds):  # the whole exchange, however slowly it trickles
            answer = await _exchange(request, out, client)
    except TimeoutError as exc:
        raise Transient(f"timeout after {out.seconds:g} s") from exc
    if answer.status_code >= 500 or answer.status_code in (408, 429):
        raise Transient(f"{answer.status_code}: {_message(answer)[:200]}")
    if answer.status_code not in (200, 201):
        raise Refused(answer.status_code, _message(answer))
    return answer


def _headers(api_key: str | None) -> dict[str, str]:
    headers = {
        "Accept": "application/json",
        "Accept-Encoding": "identity",  # what is read is what was sent: the size cap holds
        "User-Agent": "chorus/1 (protocol v1)",
    }
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


async def submit(
    base_url: str, api_key: str | None, idempotency_key: str, payload: dict[str, Any], out: Outbound
) -> Receipt:
    request = httpx.Request(
        "POST",
        f"{base_url.rstrip('/')}/complaints",
        json=payload,
        headers={**_headers(api_key), "Idempotency-Key": idempotency_key},
    )
    return _receipt(await _call(request, out))


async def status(
    base_url: str,
    api_key: str | None,
    reference: str,
    out: Outbound,
    *,
    client: httpx.AsyncClient | None = None,
) -> Receipt:
    """A complaint's status; ``client``: a :func:`session` shared by several requests."""
    request = httpx.Request(
        "GET", f"{base_url.rstrip('/')}/complaints/{quote(reference, safe='')}", headers=_headers(api_key)
    )
    return _receipt(await _call(request, out, client))
