"""Account request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field, field_validator

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


class UserCreate(BaseModel):
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


class LoginRequest(BaseModel):
    email: str = Field(min_length=1, max_length=254)
    password: GivenPassword


class LoginRead(BaseModel):
    user: UserRead
    token: str


class VerifyRequest(BaseModel):
    token: str = Field(min_length=1, max_length=2000)


class ResendRequest(BaseModel):
    email: str = Field(min_length=1, max_length=254)


class RolesUpdate(BaseModel):
    roles: list[Literal["user", "moderator", "admin"]]


class PasswordForgot(BaseModel):
    email: str = Field(min_length=1, max_length=254)


class PasswordReset(BaseModel):
    token: str = Field(min_length=1, max_length=2000)
    password: NewPassword


class PasswordChange(BaseModel):
    current_password: GivenPassword
    password: NewPassword


class AccountDelete(BaseModel):
    password: GivenPassword
