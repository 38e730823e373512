"""Accounts and their login sessions."""

from piccolo.columns import ForeignKey, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class User(Table, tablename="app_user"):
    id: Serial
    email = Varchar(length=254, unique=True, null=False)
    password_hash = Text(null=False, secret=True)
    display_name = Varchar(length=60, null=False)
    locale = Varchar(length=8, null=False, default="zh-CN")
    # Space-separated role names, e.g. "user moderator"; small, fixed vocabulary (Role).
    roles = Varchar(length=100, null=False, default="user")
    email_verified_at = Timestamptz(null=True, default=None)
    # Random value bound into the verification token; cleared once used, so a token works once.
    verify_nonce = Varchar(length=32, null=True, default=None, secret=True)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    # Set when the account was deleted: the row stays as a tombstone (evidence frozen by a filing,
    # the audit trail and filed complaints refer to its id), emptied of everything personal.
    deleted_at = Timestamptz(null=True, default=None)


class AuthSession(Table, tablename="auth_session"):
    """One login: the bearer token and the session cookie are the same opaque secret,
    stored only as its SHA-256."""

    id: Serial
    token_hash = Varchar(length=64, unique=True, null=False, secret=True)
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    expires_at = Timestamptz(null=False)
    revoked_at = Timestamptz(null=True, default=None)
