"""`chorus seed-demo`: something to see on a fresh install. Idempotent."""

from __future__ import annotations

from chorus.accounts import service as accounts
from chorus.accounts.schemas import UserCreate
from chorus.accounts.tables import User
from chorus.settings import Settings

DEMO_PASSWORD = "chorus-demo-2026"  # noqa: S105 - published demo credential, development data
DEMO_USERS = [
    ("demo@example.com", "演示用户", "zh-CN"),
]


async def seed(settings: Settings) -> list[str]:
    lines = []
    for email, name, locale in DEMO_USERS:
        if not await User.exists().where(User.email == email):
            await accounts.register(
                data=UserCreate(email=email, password=DEMO_PASSWORD, display_name=name, locale=locale),  # type: ignore[arg-type]
                settings=settings,
                verified=True,
            )
        lines.append(f"demo user: {email} / {DEMO_PASSWORD}")
    return lines
