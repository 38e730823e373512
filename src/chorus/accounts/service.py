"""Account use cases: register, verify, log in and out, authenticate, roles."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from chorus import db, jobs, mail, security
from chorus.accounts.schemas import UserCreate, UserRead
from chorus.accounts.tables import AuthSession, User
from chorus.audit import service as audit
from chorus.errors import Conflict, Invalid, NotAuthenticated, NotFound
from chorus.i18n import t
from chorus.settings import Settings
from chorus.templating import render

VERIFY_PURPOSE = "verify-email"


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
    row = await User.select(*_USER_COLUMNS).where(User.id == user_id).first()
    return _read(row) if row else None


async def get_by_email(email: str) -> UserRead | None:
    """The account registered with exactly this address (as stored), if any."""
    row = await User.select(*_USER_COLUMNS).where(User.email == email).first()
    return _read(row) if row else None


async def contacts(user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What notifications need of many users at once: ``{id: {email, display_name, locale,
    verified}}`` (unknown ids are left out)."""
    out: dict[int, dict[str, Any]] = {}
    ids = sorted(set(user_ids))
    for start in range(0, len(ids), 1000):
        rows = await User.select(
            User.id, User.email, User.display_name, User.locale, User.email_verified_at
        ).where(User.id.is_in(ids[start : start + 1000]))
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
    *, data: UserCreate, settings: Settings, verified: bool = False, roles: tuple[str, ...] = ("user",)
) -> UserRead:
    """Create an account and (unless pre-verified) queue its verification e-mail."""
    password_hash = await security.hash_password(data.password)
    nonce = None if verified else secrets.token_hex(16)
    try:
        async with db.transaction():
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
                )
            await audit.record("user.registered", actor_id=user_id, object_type="user", object_id=user_id)
    except Exception as exc:
        if db.is_unique_violation(exc):  # a concurrent registration won the race
            raise Conflict("email_taken", field="email") from exc
        raise
    return await get_or_raise(user_id)


async def resend_verification(*, email: str) -> None:
    """Queue a fresh verification e-mail; silent for unknown or verified addresses so the
    answer never tells whether an address is registered."""
    async with db.transaction():
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
        )


def verification_link(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/verify?token={token}"


async def send_verification_email(*, user_id: int, nonce: str, settings: Settings) -> bool:
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
        link=verification_link(settings, token),
        hours=settings.verify_token_hours,
    )
    key = f"verify-email:{user_id}:{nonce}"
    message = mail.compose(
        settings=settings,
        to=row["email"],
        subject=t("email.verify.subject", locale),
        body=body,
        idempotency_key=key,
    )

    async def deliver() -> None:
        await mail.send(message, settings)

    return await jobs.once(key, deliver)


async def verify_email(*, token: str, settings: Settings) -> UserRead:
    try:
        payload = security.unsign(
            settings.signing_key(), VERIFY_PURPOSE, token, settings.verify_token_hours * 3600
        )
    except security.TokenExpired as exc:
        raise Invalid("token_expired", field="token") from exc
    except security.TokenInvalid as exc:
        raise Invalid("token_invalid", field="token") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        raise Invalid("token_invalid", field="token")
    async with db.transaction():
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
    row = await User.select(User.id, User.password_hash).where(User.email == email.strip().lower()).first()
    ok = await security.verify_password(row["password_hash"] if row else None, password)
    if row is None or not ok:
        raise NotAuthenticated("invalid_credentials")
    token = security.new_token()
    async with db.transaction():
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
    row = (
        await AuthSession.select(AuthSession.user, AuthSession.expires_at)
        .where((AuthSession.token_hash == security.token_digest(token)) & AuthSession.revoked_at.is_null())
        .first()
    )
    if row is None or row["expires_at"] <= datetime.now(UTC):
        return None
    return await get(row["user"])


async def set_roles(*, user_id: int, roles: list[str], actor_id: int) -> UserRead:
    """Replace a user's roles (``user`` is always kept)."""
    wanted = sorted({Role(r).value for r in roles} | {Role.user.value})
    async with db.transaction():
        updated = (
            await User.update({User.roles: " ".join(wanted)}).where(User.id == user_id).returning(User.id)
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
