"""Operator settings, read from the environment (prefix ``CHORUS_``) and nowhere else.

Every name here is part of the operator contract and is documented in the README.
"""

from __future__ import annotations

import ipaddress
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Env(StrEnum):
    development = "development"
    production = "production"


class Settings(BaseSettings):
    """All configuration of a Chorus process."""

    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore")

    env: Env = Env.development
    database_url: str = "sqlite:///var/chorus.sqlite"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    redis_url: str | None = None
    secret_key: SecretStr | None = None
    # Wraps the per-member keys that encrypt members' identity details (real name, phone, ID
    # number, address) at rest; required in production. Losing it loses those details.
    data_key: SecretStr | None = Field(default=None, min_length=32)
    var_dir: Path = Path("var")
    storage_dir: Path = Path("var/storage")
    # Where evidence blobs live: file:///absolute/dir (unset: CHORUS_STORAGE_DIR) or
    # s3://bucket/prefix on an S3-compatible service (credentials: the AWS_* environment variables).
    storage_url: str | None = Field(default=None, pattern=r"^(file|s3)://")
    s3_endpoint_url: str | None = None  # unset: AWS itself; e.g. http://127.0.0.1:9000 for MinIO
    s3_region: str | None = None
    s3_allow_http: bool = False  # an endpoint on plain http:// (a test or a private network)
    public_url: str = "http://127.0.0.1:8000"

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    mail_from: str = "Chorus <noreply@chorus.localhost>"

    outbox_relay_seconds: float = Field(default=1.0, gt=0)
    default_locale: Literal["zh-CN", "en"] = "zh-CN"
    session_days: int = Field(default=30, ge=1)
    verify_token_hours: int = Field(default=48, ge=1)
    # Lifetime of a password reset link (it also stops working once used: the password changed).
    password_reset_minutes: int = Field(default=60, ge=1)
    # "<count>/<second|minute|hour|day>" per client address, shared across processes via Redis.
    auth_rate_limit: str = Field(default="10/minute", pattern=r"^\d+/(second|minute|hour|day)$")
    # Per account e-mail, whatever the address: failed logins, and requests to register, resend a
    # verification link, or ask for / use a password reset ("<count>/<unit>", shared via Redis).
    auth_account_rate_limit: str = Field(default="10/hour", pattern=r"^\d+/(second|minute|hour|day)$")
    # Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For is believed;
    # none by default: the client address is the peer of the connection.
    trusted_proxies: str = ""
    # Production refuses a public URL that is not https:// unless this is set (e.g. a closed LAN).
    allow_http_public_url: bool = False
    secure_cookies: bool | None = None
    log_level: str = "INFO"
    log_json: bool | None = None
    upload_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    # The public reads (a case's summary, the merchant search and page, as JSON and as pages) are
    # answered to anonymous callers from a cache in Redis shared by all processes: a change is
    # seen within a second, and nothing cached is older than this many seconds, which is also the
    # max-age CDNs and browsers are given. 0: no cache.
    public_cache_seconds: int = Field(default=5, ge=0, le=60)
    # How often an organizer's filings page asks (htmx) for the news of a filing still being sent
    # or tracked; without JavaScript its reload link does the same.
    live_refresh_seconds: int = Field(default=30, ge=2, le=3600)
    # Regulators' HTTP channel (protocol v1): per-request timeout, tries of a submission before
    # the filing fails, and the first wait between tries (doubling, at most an hour).
    filing_http_timeout_seconds: float = Field(default=30.0, gt=0)
    filing_submit_attempts: int = Field(default=8, ge=1, le=50)
    filing_retry_seconds: float = Field(default=30.0, gt=0)
    # The most of a regulator's answer read (and stored); a longer answer fails the attempt.
    filing_http_max_answer_bytes: int = Field(default=64 * 1024, ge=1024)
    # How often the workers' status sweep asks regulators' HTTP channels about live filings: a
    # divisor of a minute, an hour or a day (the sweep runs at those clock times on every worker,
    # once per tick). Each regulator also has a minimum interval between polls of one filing.
    status_poll_seconds: int = Field(default=900, ge=1, le=86400)
    # Regulators' e-mail replies: complaints sent by e-mail carry a Reply-To at this domain, whose
    # mail server hands replies to POST /api/v1/inbound/email with this bearer secret.
    inbound_domain: str | None = None
    inbound_secret: SecretStr | None = None
    inbound_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # A reply address is accepted while its filing is live and for this many days after it ended.
    inbound_reply_days: int = Field(default=30, ge=0, le=3650)
    # Sent outbox rows and done markers (idempotency keys of mails, filings, replies) are purged
    # by a daily worker job once they are this old.
    purge_after_days: int = Field(default=7, ge=1)
    # Member notifications: recipients per delivery job (one SMTP connection each), how long a job
    # holds the deliveries it claimed (a killed worker's are taken over after it), the first wait
    # before retrying a transient failure (doubling) and the tries before a delivery fails, the
    # local hour of the daily digest, and the time one webhook request may take.
    notify_batch_size: int = Field(default=200, ge=1, le=5000)
    notify_lease_seconds: float = Field(default=300.0, gt=0)
    notify_retry_seconds: float = Field(default=30.0, gt=0)
    notify_attempts: int = Field(default=6, ge=1, le=30)
    notify_digest_hour: int = Field(default=8, ge=0, le=23)
    notify_webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Reading receipts (the [ocr] extra): images one worker process reads at once (a job finding
    # them all busy comes back later rather than holding a job slot) and the CPU threads one read
    # uses; the seconds such a job waits before it looks again.
    ocr_concurrency: int = Field(default=1, ge=1, le=16)
    ocr_threads: int = Field(default=1, ge=1, le=16)
    ocr_retry_seconds: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _production_requirements(self) -> Settings:
        if self.env is Env.production:
            if self.secret_key is None:
                raise ValueError("CHORUS_SECRET_KEY is required when CHORUS_ENV=production")
            if self.data_key is None:
                raise ValueError("CHORUS_DATA_KEY is required when CHORUS_ENV=production")
            if not self.smtp_host:
                raise ValueError("CHORUS_SMTP_HOST is required when CHORUS_ENV=production")
            if not self.public_url.startswith("https://") and not self.allow_http_public_url:
                raise ValueError(
                    "CHORUS_PUBLIC_URL must be https:// when CHORUS_ENV=production "
                    "(or set CHORUS_ALLOW_HTTP_PUBLIC_URL=true)"
                )
        return self

    @field_validator("status_poll_seconds")
    @classmethod
    def _poll_divides_the_clock(cls, value: int) -> int:
        poll_clock_times(value)  # a period the clock cannot repeat must stop the start
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        parse_networks(value)  # a typo must stop the start, not silently trust nobody
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def public_origin(self) -> str:
        """``scheme://host[:port]`` of CHORUS_PUBLIC_URL, as browsers send it in ``Origin``."""
        url = urlsplit(self.public_url)
        host = url.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = url.port if url.port not in (None, {"http": 80, "https": 443}.get(url.scheme)) else None
        return f"{url.scheme}://{host}" + (f":{port}" if port else "")

    @property
    def outbox_dir(self) -> Path:
        """Where development mail lands as .eml files when no SMTP server is set."""
        return self.var_dir / "outbox"

    @property
    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.public_url.startswith("https://")

    @property
    def logs_as_json(self) -> bool:
        return self.log_json if self.log_json is not None else self.env is Env.production

    def signing_key(self) -> str:
        """The secret that signs tokens; in development it is made once and kept under var/."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return _development_key(self.var_dir)

    def data_master_key(self) -> bytes:
        """The key that wraps members' data keys (chorus.crypto): from CHORUS_DATA_KEY; in
        development derived from the signing key (a purpose of its own, never the same key)."""
        from chorus.crypto import derive_master_key

        if self.data_key is not None:
            return derive_master_key(self.data_key.get_secret_value())
        return derive_master_key(self.signing_key(), purpose="chorus development data key v1")


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def poll_clock_times(seconds: int) -> dict[str, set[int]]:
    """The clock times (arq cron's ``hour``/``minute``/``second`` sets) of a sweep every
    ``seconds``: every N seconds of a minute, every N minutes of an hour (at minute 2 and on, off
    the top of the hour where the hourly jobs run) or every N hours of a day (at 00:02). A period
    that does not divide a minute, an hour or a day would drift against the clock: ValueError."""
    if 1 <= seconds <= 60 and 60 % seconds == 0:
        return {"second": set(range(0, 60, seconds))}
    minutes, hours = seconds // 60, seconds // 3600
    if seconds % 60 == 0 and seconds <= 3600 and 60 % minutes == 0:
        return {"minute": {(2 + m) % 60 for m in range(0, 60, minutes)}, "second": {0}}
    if seconds % 3600 == 0 and seconds <= 86400 and 24 % hours == 0:
        return {"hour": set(range(0, 24, hours)), "minute": {2}, "second": {0}}
    raise ValueError(
        "CHORUS_STATUS_POLL_SECONDS must divide a minute, an hour or a day "
        "(e.g. 5, 30, 60, 300, 900, 3600, 21600)"
    )


@lru_cache(maxsize=32)
def parse_networks(spec: str) -> tuple[IPNetwork, ...]:
    """``"10.0.0.5, 192.168.0.0/16, ::1"`` → networks (a bare address is a one-address network)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


@lru_cache(maxsize=8)
def _development_key(var_dir: Path) -> str:
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Create exclusively so two processes starting together agree on one key.
    try:
        with path.open("x") as fh:
            fh.write(key)
        path.chmod(0o600)
    except FileExistsError:
        return path.read_text().strip()
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
