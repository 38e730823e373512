"""Passwords (argon2id), opaque session tokens and signed, expiring tokens."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import secrets
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

# Set by the test suite (tests/conftest.py) for its throw-away accounts: argon2id at the lowest
# cost (one pass over 8 KiB instead of three over 64 MiB with 4 lanes; the test suite makes
# thousands of accounts and logins). Never honoured with CHORUS_ENV=production.
CHEAP_HASHES_ENV = "CHORUS_TEST_CHEAP_PASSWORD_HASHES"


def make_hasher(environ: Mapping[str, str] = os.environ) -> PasswordHasher:
    """argon2id with the library's current recommended parameters (RFC 9106, low memory)."""
    production = environ.get("CHORUS_ENV", "").strip().lower() == "production"
    if environ.get(CHEAP_HASHES_ENV) == "1" and not production:
        cheapest = dataclasses.replace(
            profiles.RFC_9106_LOW_MEMORY, time_cost=1, memory_cost=8, parallelism=1
        )
        return PasswordHasher.from_parameters(cheapest)
    return PasswordHasher()


_hasher = make_hasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so both failures cost the same time. Made
    on first use, not at import: one full-cost hash is ~0.13 s that every `chorus` command and
    worker process would otherwise spend starting."""
    return _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-work check; a missing hash is checked against a dummy and fails."""

    def check() -> bool:
        try:
            return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(check)


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def new_token() -> str:
    """An opaque 256-bit bearer/session token."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What we store instead of the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenExpired(Exception):
    pass


class TokenInvalid(Exception):
    pass


def sign(secret: str, purpose: str, payload: Any) -> str:
    """A URL-safe signed, timestamped token for ``purpose`` (the salt)."""
    return URLSafeTimedSerializer(secret, salt=purpose).dumps(payload)


def unsign(secret: str, purpose: str, token: str, max_age_seconds: int) -> Any:
    try:
        return URLSafeTimedSerializer(secret, salt=purpose).loads(token, max_age=max_age_seconds)
    except SignatureExpired as exc:
        raise TokenExpired from exc
    except BadSignature as exc:
        raise TokenInvalid from exc
