"""A member's identity details for filing (issue 14 item 8): real name, phone, identity document
number, postal address — what a regulator may require of each complainant
(:mod:`chorus.regulators.requirements`).

Stored encrypted at rest (:mod:`chorus.crypto`): one random data key per member, wrapped by the
master key (CHORUS_DATA_KEY), seals their details; one more per member and case seals what of
them a filed bundle of that case keeps. Leaving a case destroys that case's key; deleting the
account destroys every key of the member and their details: every copy sealed under those keys
(a backup, a stored filed bundle) is unreadable from then on (crypto-shredding).

Given only with a separate consent (PIPL art. 29: the details include an identity document
number, sensitive personal information), whose text and version the member saw is recorded.
Other domains read the details through :func:`complainant_details` only, to render the version
sent to a regulator that requires them, never the case-wide complaint text.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from pydantic import BaseModel, ConfigDict
from stdnum.cn import ric

from chorus import crypto, db, freshness
from chorus.accounts.schemas import IdentityRead, IdentityUpdate, UserRead
from chorus.accounts.tables import IdentityKey, MemberIdentity
from chorus.audit import service as audit
from chorus.errors import Conflict, FieldError, Invalid
from chorus.i18n import t
from chorus.settings import get_settings

__all__ = [
    "CONSENT_VERSION",
    "FIELDS",
    "ComplainantDetails",
    "complainant_details",
    "consent_text",
    "delete",
    "forget_case",
    "forget_user",
    "get",
    "open_documents",
    "open_for_case",
    "put",
    "seal_documents",
    "seal_for_case",
]

# The details a regulator may require of a complainant, in the order they are shown.
FIELDS: tuple[str, ...] = ("real_name", "phone", "id_number", "address")
# The version of the consent text (catalog key identity.consent.text): change it with the text,
# and every member is asked again before their details are used.
CONSENT_VERSION = "1"
_PROFILE = 0  # IdentityKey.case_id of the key that seals the details themselves


class ComplainantDetails(BaseModel):
    """One member's decrypted details, only the fields asked for (the others are None)."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    real_name: str | None = None
    phone: str | None = None
    id_number: str | None = None
    id_type: str | None = None
    address: str | None = None


def consent_text(locale: str) -> str:
    """The words a member consents to (their SHA-256 is kept with the consent)."""
    return t("identity.consent.text", locale)


# --- keys ----------------------------------------------------------------------------------------


def _key_aad(user_id: int, case_id: int) -> str:
    return f"chorus identity-key user={user_id} case={case_id}"


def _details_aad(user_id: int) -> str:
    return f"chorus member-identity user={user_id}"


def _case_aad(user_id: int, case_id: int) -> str:
    return f"chorus case-identity user={user_id} case={case_id}"


async def _key(user_id: int, case_id: int, *, create: bool) -> bytes | None:
    """The member's data key for ``case_id`` (0: their details), made on first use when
    ``create``; None when there is none (never made, or destroyed)."""
    master = get_settings().data_master_key()
    row = (
        await IdentityKey.select(IdentityKey.wrapped)
        .where((IdentityKey.user == user_id) & (IdentityKey.case_id == case_id))
        .first()
    )
    if row is None:
        if not create:
            return None
        key = crypto.new_data_key()
        # two makers at once: the unique index keeps the first, and both use it
        await IdentityKey.insert(
            IdentityKey(
                user=user_id,
                case_id=case_id,
                wrapped=crypto.wrap_key(master, key, aad=_key_aad(user_id, case_id)),
            )
        ).on_conflict(target=(IdentityKey.user, IdentityKey.case_id), action="DO NOTHING")
        return await _key(user_id, case_id, create=False)
    return crypto.unwrap_key(master, row["wrapped"], aad=_key_aad(user_id, case_id))


# --- the member's own use cases (GET, PUT, DELETE /api/v1/me/identity) ---------------------------


def _checked(data: IdentityUpdate) -> dict[str, str]:
    """The details to keep, validated; every refusal names its field (422, nothing written)."""
    errors: list[FieldError] = []
    if not data.consent:
        errors.append(FieldError("consent", "identity_consent_required"))
    values = {
        "real_name": data.real_name,
        "phone": data.phone,
        "id_type": data.id_type,
        "id_number": data.id_number,
        "address": data.address,
    }
    if data.phone is not None:
        try:
            parsed = phonenumbers.parse(data.phone, "CN")
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            errors.append(FieldError("phone", "identity_phone_invalid"))
        else:
            values["phone"] = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if data.id_number is not None:
        if data.id_type is None:
            errors.append(FieldError("id_type", "identity_id_type_required"))
        elif data.id_type == "cn_resident_id":
            if not ric.is_valid(data.id_number):
                errors.append(FieldError("id_number", "identity_id_number_invalid"))
            else:
                values["id_number"] = ric.compact(data.id_number).upper()
    elif data.id_type is not None:
        values["id_type"] = None  # a type without a number says nothing
    if errors:
        raise Invalid("validation", errors=errors)
    kept = {k: v for k, v in values.items() if v is not None}
    if not set(kept) & set(FIELDS):
        raise Invalid("identity_empty", field="real_name")
    return kept


def _read(row: dict[str, Any] | None, values: dict[str, str]) -> IdentityRead:
    if row is None:
        return IdentityRead(current_consent_version=CONSENT_VERSION)
    return IdentityRead(
        real_name=values.get("real_name"),
        phone=values.get("phone"),
        id_type=values.get("id_type"),  # type: ignore[arg-type]
        id_number=values.get("id_number"),
        address=values.get("address"),
        fields=list(db.json_value(row["fields"]) or []),
        consent_version=row["consent_version"],
        consented_at=row["consented_at"],
        current_consent_version=CONSENT_VERSION,
        updated_at=row["updated_at"],
    )


async def _values(user_id: int, row: dict[str, Any]) -> dict[str, str] | None:
    """The details of ``row`` decrypted; None when their key is gone or does not open them."""
    try:
        key = await _key(user_id, _PROFILE, create=False)
        if key is None:
            return None
        plain = crypto.open_sealed(key, base64.b64decode(row["sealed"]), aad=_details_aad(user_id))
    except crypto.DecryptionFailed:
        return None
    loaded: dict[str, str] = json.loads(plain)
    return loaded


async def _row(user_id: int) -> dict[str, Any] | None:
    row = await MemberIdentity.select().where(MemberIdentity.user == user_id).first()
    return dict(row) if row else None


async def get(*, actor: UserRead) -> IdentityRead:
    """The caller's details as they gave them (empty when none) and the consent version asked for."""
    row = await _row(actor.id)
    values = await _values(actor.id, row) if row else None
    return _read(row if values is not None else None, values or {})


async def put(*, actor: UserRead, data: IdentityUpdate) -> IdentityRead:
    """Give (or replace) the caller's details with the separate consent: 422 without consent or
    with a bad value (each on its field), 409 ``identity_consent_outdated`` when the consent
    text changed since it was shown; nothing is written then."""
    values = _checked(data)
    if data.consent_version != CONSENT_VERSION:
        raise Conflict("identity_consent_outdated", field="consent_version", current=CONSENT_VERSION)
    now = datetime.now(UTC)
    fields = [f for f in FIELDS if f in values]
    text_sha = hashlib.sha256(consent_text(actor.locale).encode("utf-8")).hexdigest()
    async with db.transaction():
        freshness.nothing_public()
        key = await _key(actor.id, _PROFILE, create=True)
        assert key is not None
        sealed = base64.b64encode(
            crypto.seal(
                key, json.dumps(values, ensure_ascii=False).encode("utf-8"), aad=_details_aad(actor.id)
            )
        ).decode("ascii")
        changes: dict[Any, Any] = {
            MemberIdentity.sealed: sealed,
            MemberIdentity.fields: fields,
            MemberIdentity.consent_version: CONSENT_VERSION,
            MemberIdentity.consent_sha256: text_sha,
            MemberIdentity.consented_at: now,
            MemberIdentity.updated_at: now,
        }
        updated = (
            await MemberIdentity.update(changes)
            .where(MemberIdentity.user == actor.id)
            .returning(MemberIdentity.id)
        )
        if not updated:
            await MemberIdentity.insert(
                MemberIdentity(
                    user=actor.id,
                    sealed=sealed,
                    fields=fields,
                    consent_version=CONSENT_VERSION,
                    consent_sha256=text_sha,
                    consented_at=now,
                    updated_at=now,
                )
            )
        # what was given, never the values
        await audit.record(
            "identity.given", actor_id=actor.id, object_type="user", object_id=actor.id, fields=fields
        )
    return await get(actor=actor)


async def delete(*, actor: UserRead) -> None:
    """Withdraw the consent: the caller's details and their key go (nothing to do when none were
    given: withdrawing twice is the same as once). Filed bundles keep theirs under the case keys
    until the member leaves the case or deletes the account."""
    async with db.transaction():
        freshness.nothing_public()
        gone = (
            await MemberIdentity.delete().where(MemberIdentity.user == actor.id).returning(MemberIdentity.id)
        )
        await IdentityKey.delete().where((IdentityKey.user == actor.id) & (IdentityKey.case_id == _PROFILE))
        if gone:
            await audit.record(
                "identity.withdrawn", actor_id=actor.id, object_type="user", object_id=actor.id
            )


# --- for other domains -------------------------------------------------------------------------


async def complainant_details(*, user_ids: list[int], fields: list[str]) -> dict[int, ComplainantDetails]:
    """The decrypted details of the members asked for, limited to ``fields`` (names from
    :data:`FIELDS`; ``id_number`` brings ``id_type`` along), for members who gave them with the
    current consent; members without details (or whose key was destroyed) are left out.
    Unknown field names raise ValueError. Never log what this returns."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown identity fields: {unknown}")
    wanted = set(fields) | ({"id_type"} if "id_number" in fields else set())
    out: dict[int, ComplainantDetails] = {}
    ids = sorted(set(user_ids))
    for start in range(0, len(ids), 500):
        rows = await MemberIdentity.select().where(
            MemberIdentity.user.is_in(ids[start : start + 500])
            & (MemberIdentity.consent_version == CONSENT_VERSION)
        )
        for row in rows:
            values = await _values(row["user"], row)
            if values is None:
                continue
            out[row["user"]] = ComplainantDetails(
                user_id=row["user"], **{k: v for k, v in values.items() if k in wanted}
            )
    return out


async def seal_for_case(*, case_id: int, user_id: int, data: bytes) -> bytes:
    """``data`` (a member's part of a filed bundle) sealed under the member's key for this case,
    made on first use. Leaving the case or deleting the account destroys that key."""
    if case_id == _PROFILE:
        raise ValueError("case_id 0 is the key of the details themselves")
    key = await _key(user_id, case_id, create=True)
    assert key is not None
    return crypto.seal(key, data, aad=_case_aad(user_id, case_id))


async def open_for_case(*, case_id: int, user_id: int, sealed: bytes) -> bytes | None:
    """What :func:`seal_for_case` sealed; None once the key is destroyed (the member left the
    case or deleted the account) or when it does not open."""
    if case_id == _PROFILE:
        return None
    try:
        key = await _key(user_id, case_id, create=False)
        return None if key is None else crypto.open_sealed(key, sealed, aad=_case_aad(user_id, case_id))
    except crypto.DecryptionFailed:
        return None


SEALED_SUFFIX = ".sealed"


async def seal_documents(*, case_id: int, documents: dict[str, tuple[int, bytes]]) -> dict[str, bytes]:
    """Per-member documents of a filed bundle that carry identity details (``{name: (user_id,
    bytes)}``), each sealed under its member's key for the case, as ``{name + ".sealed":
    ciphertext}``: what a stored bundle keeps of them (its manifest hashes the ciphertext, so
    the bundle stays verifiable after the key is destroyed)."""
    return {
        name + SEALED_SUFFIX: await seal_for_case(case_id=case_id, user_id=user_id, data=data)
        for name, (user_id, data) in documents.items()
    }


async def open_documents(*, case_id: int, documents: dict[str, tuple[int, bytes]]) -> dict[str, bytes | None]:
    """What :func:`seal_documents` sealed (``{name: (user_id, ciphertext)}``, the ``.sealed``
    suffix taken off the names); None for a member whose key is gone."""
    return {
        name.removesuffix(SEALED_SUFFIX): await open_for_case(case_id=case_id, user_id=user_id, sealed=data)
        for name, (user_id, data) in documents.items()
    }


async def forget_case(*, case_id: int, user_id: int) -> None:
    """The member left ``case_id``: their key for it goes (inside the caller's transaction), and
    with it their details in that case's filed bundles."""
    if case_id != _PROFILE:
        await IdentityKey.delete().where((IdentityKey.user == user_id) & (IdentityKey.case_id == case_id))


async def forget_user(user_id: int) -> None:
    """The account is deleted: the member's details and every key of theirs go (inside the
    caller's transaction)."""
    await MemberIdentity.delete().where(MemberIdentity.user == user_id)
    await IdentityKey.delete().where(IdentityKey.user == user_id)
