"""Account use cases: register, verify, log in and out, authenticate, roles, password reset and
change, and the account's own part of deleting it (:mod:`chorus.accounts.lifecycle` holds the
use cases that span domains: leaving a case, deleting an account)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from chorus import db, freshness, jobs, mail, security
from chorus.accounts.schemas import UserCreate, UserRead
from chorus.accounts.tables import AuthSession, User
from chorus.audit import service as audit
from chorus.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound
from chorus.i18n import DEFAULT_LOCALE, t
from chorus.settings import Settings
from chorus.templating import render

VERIFY_PURPOSE = "verify-email"
RESET_PURPOSE = "password-reset"
# What a deleted account's password hash becomes: no password verifies against it.
UNUSABLE_PASSWORD = "!deleted"  # noqa: S105 - not a password: a value no password hashes to


class Role(StrEnum):
    user = "user"
    moderator = "moderator"
    admin = "admin"


def _read(row: dict[str, Any]) -> UserRead:
    return UserRead(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        locale=row["locale"],
        roles=sorted(row["roles"].split()),
        email_verified=row["email_verified_at"] is not None,
        created_at=row["created_at"],
    )


_USER_COLUMNS = (
    User.id,
    User.email,
    User.display_name,
    User.locale,
    User.roles,
    User.email_verified_at,
    User.created_at,
)


async def get(user_id: int) -> UserRead | None:
    """The account, unless it does not exist or was deleted."""
    row = await User.select(*_USER_COLUMNS).where((User.id == user_id) & User.deleted_at.is_null()).first()
    return _read(row) if row else None


async def get_by_email(email: str) -> UserRead | None:
    """The account registered with exactly this address (as stored), if any."""
    row = await User.select(*_USER_COLUMNS).where(User.email == email).first()
    return _read(row) if row else None


async def contacts(user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What notifications need of many users at once: ``{id: {email, display_name, locale,
    verified}}`` (unknown ids and deleted accounts are left out)."""
    out: dict[int, dict[str, Any]] = {}
    ids = sorted(set(user_ids))
    for start in range(0, len(ids), 1000):
        rows = await User.select(
            User.id, User.email, User.display_name, User.locale, User.email_verified_at
        ).where(User.id.is_in(ids[start : start + 1000]) & User.deleted_at.is_null())
        for r in rows:
            out[r["id"]] = {
                "email": r["email"],
                "display_name": r["display_name"],
                "locale": r["locale"],
                "verified": r["email_verified_at"] is not None,
            }
    return out


async def set_locale(user_id: int, locale: str) -> None:
    """The account's language (e-mails, pages); inside the caller's transaction."""
    await User.update({User.locale: locale}).where(User.id == user_id)


async def get_or_raise(user_id: int) -> UserRead:
    user = await get(user_id)
    if user is None:
        raise NotFound("user_not_found")
    return user


async def register(
    *,
    data: UserCreate,
    settings: Settings,
    verified: bool = False,
    roles: tuple[str, ...] = ("user",),
    then: str | None = None,
) -> UserRead:
    """Create an account and (unless pre-verified) queue its verification e-mail; ``then``, the
    page of this site they were on their way to (``/report?name=…``), rides in its link."""
    password_hash = await security.hash_password(data.password)
    nonce = None if verified else secrets.token_hex(16)
    try:
        async with db.transaction():
            freshness.nothing_public()
            if await User.exists().where(User.email == data.email):
                raise Conflict("email_taken", field="email")
            rows = await User.insert(
                User(
                    email=data.email,
                    password_hash=password_hash,
                    display_name=data.display_name,
                    locale=data.locale or settings.default_locale,
                    roles=" ".join(sorted(set(roles))),
                    email_verified_at=datetime.now(UTC) if verified else None,
                    verify_nonce=nonce,
                )
            ).returning(User.id)
            user_id = rows[0]["id"]
            if nonce is not None:
                await jobs.defer(
                    jobs.Job.send_verification_email,
                    f"verify-email:{user_id}:{nonce}",
                    user_id=user_id,
                    nonce=nonce,
                    then=then,
                )
            await audit.record("user.registered", actor_id=user_id, object_type="user", object_id=user_id)
    except Exception as exc:
        if db.is_unique_violation(exc):  # a concurrent registration won the race
            raise Conflict("email_taken", field="email") from exc
        raise
    return await get_or_raise(user_id)


async def resend_verification(*, email: str, then: str | None = None) -> None:
    """Queue a fresh verification e-mail; silent for unknown or verified addresses so the
    answer never tells whether an address is registered."""
    async with db.transaction():
        freshness.nothing_public()
        row = (
            await User.select(User.id, User.email_verified_at)
            .where(User.email == email.strip().lower())
            .first()
        )
        if row is None or row["email_verified_at"] is not None:
            return
        nonce = secrets.token_hex(16)
        await User.update({User.verify_nonce: nonce}).where(User.id == row["id"])
        await jobs.defer(
            jobs.Job.send_verification_email,
            f"verify-email:{row['id']}:{nonce}",
            user_id=row["id"],
            nonce=nonce,
            then=then,
        )


def verification_link(settings: Settings, token: str, then: str | None = None) -> str:
    """The address the verification e-mail links to; ``then`` is where the new member was going
    (a path of this site, checked again when used)."""
    link = f"{settings.public_url.rstrip('/')}/verify?token={token}"
    return f"{link}&{urlencode({'next': then})}" if then else link


async def send_verification_email(
    *, user_id: int, nonce: str, settings: Settings, then: str | None = None
) -> bool:
    """The job: mail the link for ``nonce`` unless it is stale or already sent. True if sent."""
    row = (
        await User.select(
            User.email, User.display_name, User.locale, User.verify_nonce, User.email_verified_at
        )
        .where(User.id == user_id)
        .first()
    )
    if row is None or row["email_verified_at"] is not None or row["verify_nonce"] != nonce:
        return False  # verified meanwhile, or superseded by a newer request
    token = security.sign(settings.signing_key(), VERIFY_PURPOSE, {"u": user_id, "n": nonce})
    locale = row["locale"]
    body = render(
        "email",
        "verify_email.txt",
        locale,
        greeting=t("email.greeting", locale, name=row["display_name"]),
        link=verification_link(settings, token, then),
        hours=settings.verify_token_hours,
    )
    return await _mail_once(
        f"verify-email:{user_id}:{nonce}",
        to=row["email"],
        subject=t("email.verify.subject", locale),
        body=body,
        settings=settings,
    )


async def _mail_once(key: str, *, to: str, subject: str, body: str, settings: Settings) -> bool:
    """Send one account e-mail unless the mail with this key went already; True if sent."""
    message = mail.compose(settings=settings, to=to, subject=subject, body=body, idempotency_key=key)

    async def deliver() -> None:
        await mail.send(message, settings)

    return await jobs.once(key, deliver)


def _token_payload(settings: Settings, purpose: str, token: str, max_age_seconds: int) -> dict[str, Any]:
    """The payload (``{"u": user id, ...}``) of a token the mailed link carried; 422 naming the
    field when it is expired (``token_expired``) or not ours (``token_invalid``)."""
    try:
        payload = security.unsign(settings.signing_key(), purpose, token, max_age_seconds)
    except security.TokenExpired as exc:
        raise Invalid("token_expired", field="token") from exc
    except security.TokenInvalid as exc:
        raise Invalid("token_invalid", field="token") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        raise Invalid("token_invalid", field="token")
    return payload


async def verify_email(*, token: str, settings: Settings) -> UserRead:
    payload = _token_payload(settings, VERIFY_PURPOSE, token, settings.verify_token_hours * 3600)
    async with db.transaction():
        freshness.nothing_public()
        updated = (
            await User.update({User.email_verified_at: datetime.now(UTC), User.verify_nonce: None})
            .where(
                (User.id == payload["u"])
                & (User.verify_nonce == str(payload.get("n")))
                & User.email_verified_at.is_null()
            )
            .returning(User.id)
        )
        if not updated:
            raise Invalid("token_invalid", field="token")
        await audit.record("user.verified", actor_id=payload["u"], object_type="user", object_id=payload["u"])
    return await get_or_raise(payload["u"])


async def login(*, email: str, password: str, settings: Settings) -> tuple[UserRead, str]:
    """Check the password and open a session; the same error for unknown e-mail and bad password."""
    row = (
        await User.select(User.id, User.password_hash)
        .where((User.email == email.strip().lower()) & User.deleted_at.is_null())
        .first()
    )
    ok = await security.verify_password(row["password_hash"] if row else None, password)
    if row is None or not ok:
        raise NotAuthenticated("invalid_credentials")
    token = security.new_token()
    async with db.transaction():
        freshness.nothing_public()
        if security.needs_rehash(row["password_hash"]):
            new_hash = await security.hash_password(password)
            await User.update({User.password_hash: new_hash}).where(User.id == row["id"])
        await AuthSession.insert(
            AuthSession(
                token_hash=security.token_digest(token),
                user=row["id"],
                expires_at=datetime.now(UTC) + timedelta(days=settings.session_days),
            )
        )
    return await get_or_raise(row["id"]), token


async def logout(*, token: str) -> None:
    await AuthSession.update({AuthSession.revoked_at: datetime.now(UTC)}).where(
        (AuthSession.token_hash == security.token_digest(token)) & AuthSession.revoked_at.is_null()
    )


async def authenticate(token: str) -> UserRead | None:
    """The user a live session token belongs to, or None."""
    if not token or len(token) > 200:
        return None
    # one plain statement: every signed-in request asks this
    rows = await db.fetch(
        AuthSession,
        "SELECT s.expires_at, u.id, u.email, u.display_name, u.locale, u.roles, u.email_verified_at, "
        'u.created_at FROM auth_session s JOIN app_user u ON u.id = s."user" '
        "WHERE s.token_hash = {} AND s.revoked_at IS NULL AND u.deleted_at IS NULL LIMIT 1",
        security.token_digest(token),
    )
    row = rows[0] if rows else None
    if row is None or row["expires_at"] <= datetime.now(UTC):
        return None
    return _read(row)


def _holding(role: Role) -> Any:
    """The live accounts holding ``role`` (roles are stored as words: "admin moderator user")."""
    return User.deleted_at.is_null() & User.roles.like(f"%{role.value}%")


async def list_staff() -> list[UserRead]:
    """Admins: the accounts holding a role beyond ``user`` (moderators and admins), oldest first."""
    rows = (
        await User.select(*_USER_COLUMNS)
        .where(_holding(Role.admin) | _holding(Role.moderator))
        .order_by(User.id)
    )
    return [_read(r) for r in rows]


async def set_roles(*, user_id: int, roles: list[str], actor_id: int) -> UserRead:
    """Replace a user's roles (``user`` is always kept). The last admin keeps the role (409
    ``last_admin``): otherwise no one could appoint another but the server's operator."""
    wanted = sorted({Role(r).value for r in roles} | {Role.user.value})
    async with db.transaction():
        if Role.admin.value not in wanted:
            # the admins, locked (PostgreSQL; SQLite's IMMEDIATE transaction serializes writers):
            # two admins taking the role from each other at once leave one of them an admin
            admins = User.select(User.id).where(_holding(Role.admin))
            held = {r["id"] for r in await (admins if db.is_sqlite() else admins.lock_rows("UPDATE"))}
            if held == {user_id}:
                raise Conflict("last_admin")
        freshness.nothing_public()
        updated = (
            await User.update({User.roles: " ".join(wanted)})
            .where((User.id == user_id) & User.deleted_at.is_null())
            .returning(User.id)
        )
        if not updated:
            raise NotFound("user_not_found")
        await audit.record(
            "user.roles_set", actor_id=actor_id, object_type="user", object_id=user_id, roles=wanted
        )
    return await get_or_raise(user_id)


async def create_admin(*, email: str, password: str, display_name: str, settings: Settings) -> UserRead:
    """Create a verified admin, or make an existing account one (CLI)."""
    existing = await User.select(User.id, User.roles).where(User.email == email.strip().lower()).first()
    if existing is None:
        data = UserCreate(email=email, password=password, display_name=display_name)
        return await register(data=data, settings=settings, verified=True, roles=(Role.user, Role.admin))
    roles = sorted(set(existing["roles"].split()) | {Role.admin.value})
    return await set_roles(user_id=existing["id"], roles=roles, actor_id=existing["id"])


# --- passwords: forgotten, reset, changed ------------------------------------------------------


def _password_mark(password_hash: str) -> str:
    """What a reset link binds of the password it replaces: once the password changes (this
    reset, another, a change, a deletion) every link sent before it stops working, so a link
    works once without a table of used links."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:32]


def password_reset_link(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/password/reset?token={token}"


async def request_password_reset(*, email: str) -> None:
    """Queue a reset link for the account of ``email`` (verified or not: following the link
    proves the address). Silent for unknown and deleted addresses, so the answer never tells
    whether an address is registered; the mail itself goes from a worker either way."""
    nonce = secrets.token_hex(16)  # one mail per request (its job id), nothing stored
    async with db.transaction():
        freshness.nothing_public()
        row = (
            await User.select(User.id)
            .where((User.email == email.strip().lower()) & User.deleted_at.is_null())
            .first()
        )
        if row is None:
            return
        await jobs.defer(
            jobs.Job.send_password_reset_email,
            f"password-reset:{row['id']}:{nonce}",
            user_id=row["id"],
            nonce=nonce,
        )


async def send_password_reset_email(*, user_id: int, nonce: str, settings: Settings) -> bool:
    """The job: mail a reset link, signed now (it expires CHORUS_PASSWORD_RESET_MINUTES from
    now) and bound to the current password. True if sent."""
    row = (
        await User.select(User.email, User.display_name, User.locale, User.password_hash)
        .where((User.id == user_id) & User.deleted_at.is_null())
        .first()
    )
    if row is None:
        return False  # deleted meanwhile
    token = security.sign(
        settings.signing_key(), RESET_PURPOSE, {"u": user_id, "p": _password_mark(row["password_hash"])}
    )
    locale = row["locale"]
    body = render(
        "email",
        "password_reset.txt",
        locale,
        greeting=t("email.greeting", locale, name=row["display_name"]),
        link=password_reset_link(settings, token),
        minutes=settings.password_reset_minutes,
    )
    return await _mail_once(
        f"password-reset:{user_id}:{nonce}",
        to=row["email"],
        subject=t("email.password_reset.subject", locale),
        body=body,
        settings=settings,
    )


async def reset_password(*, token: str, password: str, settings: Settings) -> UserRead:
    """Set a new password with the token of a reset link: 422 ``token_expired`` or
    ``token_invalid`` (forged, or used: the password it was bound to changed). Every session of
    the account ends; the e-mail address counts as verified (the link reached it)."""
    payload = _token_payload(settings, RESET_PURPOSE, token, settings.password_reset_minutes * 60)
    user_id: int = payload["u"]
    new_hash = await security.hash_password(password)
    async with db.transaction():
        freshness.nothing_public()
        row = (
            await User.select(User.password_hash, User.email_verified_at)
            .where((User.id == user_id) & User.deleted_at.is_null())
            .first()
        )
        bound = str(payload.get("p"))
        if row is None or not hmac.compare_digest(_password_mark(row["password_hash"]), bound):
            raise Invalid("token_invalid", field="token")
        changes: dict[Any, Any] = {User.password_hash: new_hash}
        if row["email_verified_at"] is None:
            changes.update({User.email_verified_at: datetime.now(UTC), User.verify_nonce: None})
        # conditional: of two uses of one link at once, one changes the password, the other nothing
        updated = (
            await User.update(changes)
            .where((User.id == user_id) & (User.password_hash == row["password_hash"]))
            .returning(User.id)
        )
        if not updated:
            raise Invalid("token_invalid", field="token")
        await _end_sessions(user_id)
        await audit.record("user.password_reset", actor_id=user_id, object_type="user", object_id=user_id)
    return await get_or_raise(user_id)


async def check_password(*, actor: UserRead, password: str, field: str = "password") -> str:
    """The caller's password, confirmed before something that needs it (changing it, deleting
    the account): 403 ``wrong_password`` naming ``field``. Returns the stored hash it matched."""
    row = (
        await User.select(User.password_hash).where((User.id == actor.id) & User.deleted_at.is_null()).first()
    )
    if row is None or not await security.verify_password(row["password_hash"], password):
        raise Forbidden("wrong_password", field=field)
    stored: str = row["password_hash"]
    return stored


async def change_password(
    *, actor: UserRead, current_password: str, password: str, keep_token: str | None
) -> None:
    """A signed-in user changes their password (knowing the current one): every other session
    ends, the one of ``keep_token`` (the caller's) lives on; reset links sent before stop working."""
    old_hash = await check_password(actor=actor, password=current_password, field="current_password")
    new_hash = await security.hash_password(password)
    async with db.transaction():
        freshness.nothing_public()
        updated = (
            await User.update({User.password_hash: new_hash})
            .where((User.id == actor.id) & (User.password_hash == old_hash))
            .returning(User.id)
        )
        if not updated:  # changed meanwhile (a reset): what was confirmed is no longer the password
            raise Forbidden("wrong_password", field="current_password")
        await _end_sessions(actor.id, keep_token=keep_token)
        await audit.record("user.password_changed", actor_id=actor.id, object_type="user", object_id=actor.id)


async def _end_sessions(user_id: int, *, keep_token: str | None = None) -> None:
    """Revoke the user's live sessions, but ``keep_token``'s (inside the caller's transaction)."""
    where = (AuthSession.user == user_id) & AuthSession.revoked_at.is_null()
    if keep_token:
        where &= AuthSession.token_hash != security.token_digest(keep_token)
    await AuthSession.update({AuthSession.revoked_at: datetime.now(UTC)}).where(where)


# --- deletion ----------------------------------------------------------------------------------


def tombstone_email(user_id: int) -> str:
    """A deleted account's address: unique, no one's, and refused at registration (``.invalid``
    is a reserved domain), so the real address is free to register again."""
    return f"deleted-{user_id}@deleted.invalid"


async def erase(user_id: int) -> None:
    """The account's own part of deleting it (inside the caller's transaction, see
    :func:`chorus.accounts.lifecycle.delete_account`): the row stays as a tombstone for the
    foreign keys that must hold, emptied of the e-mail address, name, password, language and
    roles; every session is gone."""
    await User.update(
        {
            User.email: tombstone_email(user_id),
            User.display_name: "",
            User.password_hash: UNUSABLE_PASSWORD,
            User.locale: DEFAULT_LOCALE,
            User.roles: Role.user.value,
            User.email_verified_at: None,
            User.verify_nonce: None,
            User.deleted_at: datetime.now(UTC),
        }
    ).where(User.id == user_id)
    await AuthSession.delete().where(AuthSession.user == user_id)
