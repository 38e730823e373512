"""Regulator request and response models."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
TemplateKind = Literal["samr", "consumer_association", "payment_platform", "police", "ftc"]


class RegulatorRead(BaseModel):
    id: int
    name: str
    jurisdiction: str
    channel: str
    address: str
    locale: str
    template_kind: str
    contact_disclosure: str
    calendar: str
    accept_working_days: int | None
    finish_working_days: int | None
    has_credentials: bool
    note: str


class RegulatorList(BaseModel):
    items: list[RegulatorRead]


class RegulatorCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    jurisdiction: str = Field(min_length=1, max_length=200)
    channel: Literal["email", "http", "manual"]
    address: str = Field(min_length=1, max_length=500)
    locale: Literal["zh-CN", "en"] = "zh-CN"
    credentials_env: str | None = Field(default=None, max_length=100)
    template_kind: TemplateKind = "samr"
    contact_disclosure: Literal["masked", "full"] = "masked"
    calendar: Literal["CN", "US"] = "CN"
    accept_working_days: int | None = Field(default=None, ge=1, le=365)
    finish_working_days: int | None = Field(default=None, ge=1, le=3650)
    note: str = Field(default="", max_length=2000)

    @field_validator("credentials_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not ENV_NAME.match(v):
            raise ValueError("must be an environment variable name such as REGULATOR_API_KEY")
        return v
