"""Envelope encryption of personal data at rest (issue 14 item 8): pure, no I/O.

A master key (from CHORUS_DATA_KEY, :meth:`chorus.settings.Settings.data_master_key`) wraps one
random data key per member (and per member and case); the data key encrypts that member's
details. Destroying a wrapped data key makes everything sealed under it unreadable wherever a
copy lies (a database backup, a stored bundle): crypto-shredding.

AES-256-GCM (``cryptography``'s AEAD), a random 96-bit nonce per message, and associated data
that binds a ciphertext to its place (whose key, which field), so a ciphertext moved to another
row or member does not decrypt. A sealed value: ``b"\\x01" + nonce + ciphertext-and-tag``.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "KEY_BYTES",
    "DecryptionFailed",
    "derive_master_key",
    "new_data_key",
    "open_sealed",
    "seal",
    "unwrap_key",
    "wrap_key",
]

KEY_BYTES = 32
_VERSION = b"\x01"
_NONCE_BYTES = 12


class DecryptionFailed(Exception):
    """The ciphertext does not open with this key and associated data (a wrong or destroyed key,
    a ciphertext moved elsewhere, or altered bytes)."""


def derive_master_key(secret: str, *, purpose: str = "chorus data key v1") -> bytes:
    """A 256-bit key from an operator's secret (HKDF-SHA256): any long random string will do, and
    two purposes never share a key."""
    if not secret:
        raise ValueError("empty secret")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode()).derive(
        secret.encode("utf-8")
    )


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, *, aad: str) -> bytes:
    """``plaintext`` encrypted and authenticated under ``key``, bound to ``aad``."""
    nonce = os.urandom(_NONCE_BYTES)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad.encode("utf-8"))


def open_sealed(key: bytes, sealed: bytes, *, aad: str) -> bytes:
    """The plaintext of :func:`seal`'s output; :class:`DecryptionFailed` when it does not open."""
    if len(sealed) < 1 + _NONCE_BYTES + 16 or sealed[:1] != _VERSION:
        raise DecryptionFailed("not a sealed value")
    nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad.encode("utf-8"))
    except InvalidTag as exc:
        raise DecryptionFailed("wrong key or altered data") from exc


def wrap_key(master: bytes, data_key: bytes, *, aad: str) -> str:
    """A data key wrapped by the master key, as text for a database column."""
    return base64.b64encode(seal(master, data_key, aad=aad)).decode("ascii")


def unwrap_key(master: bytes, wrapped: str, *, aad: str) -> bytes:
    """The data key :func:`wrap_key` wrapped (:class:`DecryptionFailed` under another master key)."""
    try:
        raw = base64.b64decode(wrapped.encode("ascii"), validate=True)
    except ValueError as exc:
        raise DecryptionFailed("not a wrapped key") from exc
    return open_sealed(master, raw, aad=aad)
