"""Account request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field, field_validator

from chorus.inputs import Input

Locale = Literal["zh-CN", "en"]
# A new password, wherever one is chosen (register, reset, change): taken exactly as typed, no
# stripping, any characters.
NewPassword = Annotated[str, Field(min_length=10, max_length=256)]
# A password given to prove who one is: never judged by today's rules, only compared.
GivenPassword = Annotated[str, Field(min_length=1, max_length=256)]


class UserRead(BaseModel):
    id: int
    email: str
    display_name: str
    locale: str
    roles: list[str]
    email_verified: bool
    created_at: datetime

    def has_role(self, role: str) -> bool:
        """Whether the user holds ``role``; an admin holds every role."""
        return role in self.roles or "admin" in self.roles


class UserCreate(Input):
    email: EmailStr = Field(max_length=254)
    password: NewPassword
    display_name: str = Field(min_length=1, max_length=60)
    locale: Locale | None = None

    @field_validator("email", mode="before")
    @classmethod
    def _fold_email(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("display_name", mode="before")
    @classmethod
    def _strip_name(cls, v: object) -> object:
        return " ".join(v.split()) if isinstance(v, str) else v


class LoginRequest(Input):
    email: str = Field(min_length=1, max_length=254)
    password: GivenPassword


class LoginRead(BaseModel):
    user: UserRead
    token: str


class VerifyRequest(Input):
    token: str = Field(min_length=1, max_length=2000)


class ResendRequest(Input):
    email: str = Field(min_length=1, max_length=254)


class RolesUpdate(Input):
    roles: list[Literal["user", "moderator", "admin"]]


class PasswordForgot(Input):
    email: str = Field(min_length=1, max_length=254)


class PasswordReset(Input):
    token: str = Field(min_length=1, max_length=2000)
    password: NewPassword


class PasswordChange(Input):
    current_password: GivenPassword
    password: NewPassword


class AccountDelete(Input):
    password: GivenPassword


# --- identity details for filing (chorus.accounts.identity) ------------------------------------

IdType = Literal["cn_resident_id", "passport", "other"]


def _tidy(v: object) -> object:
    """Spaces folded; an empty value is no value."""
    if isinstance(v, str):
        v = " ".join(v.split())
        return v or None
    return v


class IdentityUpdate(Input):
    """What a member gives for filing on their behalf (``PUT /api/v1/me/identity``): it replaces
    what was given before (a field left out is removed). ``consent`` must be true and
    ``consent_version`` the version of the consent text shown (409 when it changed since)."""

    real_name: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=30)
    id_type: IdType | None = None
    id_number: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=200)
    consent: bool = False
    consent_version: str = Field(min_length=1, max_length=20)

    @field_validator("real_name", "phone", "id_number", "address", "id_type", mode="before")
    @classmethod
    def _tidy_value(cls, v: object) -> object:
        return _tidy(v)


class IdentityRead(BaseModel):
    """A member's own details as given (only they see them) and their consent."""

    real_name: str | None = None
    phone: str | None = None
    id_type: IdType | None = None
    id_number: str | None = None
    address: str | None = None
    fields: list[str] = Field(default_factory=list)
    consent_version: str | None = None
    consented_at: datetime | None = None
    current_consent_version: str
    updated_at: datetime | None = None
