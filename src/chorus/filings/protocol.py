"""Client of the regulator HTTP channel, protocol v1 (API.md): submit a complaint, ask its status.

    POST {base}/complaints        Authorization: Bearer {api_key}, Idempotency-Key: {filing id}
                                  → 200|201 {reference, status}; a repeated key answers the same
    GET  {base}/complaints/{ref}  → 200 {reference, status, updated_at, message?}

5xx answers, timeouts and connection failures are ``Transient`` (retry later under the same key);
any other answer is ``Refused`` with the server's message, shown to organizers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

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
class Receipt:
    reference: str
    status: str  # one of REMOTE_STATUSES
    message: str = ""


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:MAX_MESSAGE] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "title"):
            if isinstance(body.get(key), str) and body[key].strip():
                return str(body[key]).strip()
    return response.text.strip()[:MAX_MESSAGE]


def _receipt(response: httpx.Response) -> Receipt:
    try:
        body = response.json()
        reference, status = str(body["reference"]).strip(), str(body["status"]).strip()
    except (ValueError, KeyError, TypeError) as exc:
        raise Refused(response.status_code, f"unreadable answer: {response.text[:200]}") from exc
    if not reference or len(reference) > 200 or status not in REMOTE_STATUSES:
        raise Refused(response.status_code, f"unexpected answer: {response.text[:200]}")
    message = body.get("message") if isinstance(body.get("message"), str) else ""
    return Receipt(reference, status, message[:MAX_MESSAGE])


async def _call(request: httpx.Request, seconds: float) -> httpx.Response:
    async with httpx.AsyncClient(timeout=seconds, follow_redirects=False) as client:
        try:
            response = await client.send(request)
        except httpx.TimeoutException as exc:
            raise Transient(f"timeout after {seconds:g} s") from exc
        except httpx.TransportError as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise Transient(f"{response.status_code}: {_message(response)[:200]}")
    if response.status_code not in (200, 201):
        raise Refused(response.status_code, _message(response))
    return response


def _headers(api_key: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": "chorus/1 (protocol v1)"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


async def submit(
    base_url: str, api_key: str | None, idempotency_key: str, payload: dict[str, Any], seconds: float
) -> Receipt:
    request = httpx.Request(
        "POST",
        f"{base_url.rstrip('/')}/complaints",
        json=payload,
        headers={**_headers(api_key), "Idempotency-Key": idempotency_key},
    )
    return _receipt(await _call(request, seconds))


async def status(base_url: str, api_key: str | None, reference: str, seconds: float) -> Receipt:
    request = httpx.Request(
        "GET", f"{base_url.rstrip('/')}/complaints/{quote(reference, safe='')}", headers=_headers(api_key)
    )
    return _receipt(await _call(request, seconds))
