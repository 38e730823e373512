"""Accounts and their login sessions."""

from piccolo.columns import JSON, ForeignKey, Integer, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
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


class IdentityKey(Table, tablename="identity_key"):
    """A member's data key, wrapped by the master key (``chorus.crypto``; only
    ``chorus.accounts.identity`` reads or writes it). ``case_id`` 0: the key of their identity
    details; a case's id: the key their details in that case's filed bundles are sealed under.
    Deleting the row destroys the key, and with it every copy sealed under it (crypto-shredding):
    on leaving that case, or on deleting the account (all of them)."""

    id: Serial
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade)
    case_id = Integer(null=False, default=0)
    wrapped = Text(null=False, secret=True)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)

    identity_key_once = Unique([user, case_id])


class MemberIdentity(Table, tablename="member_identity"):
    """A member's identity details for filing (real name, phone, ID number, address), sealed as
    one JSON object under their case-0 :class:`IdentityKey`; ``fields`` names those given (names
    only, so what is missing can be said without decrypting). Given with a separate consent
    (PIPL art. 29): the version of the consent text and its SHA-256, and when."""

    id: Serial
    user = ForeignKey(references=User, null=False, unique=True, on_delete=OnDelete.cascade)
    sealed = Text(null=False, secret=True)
    fields = JSON(default=[], null=False)
    consent_version = Varchar(length=20, null=False)
    consent_sha256 = Varchar(length=64, null=False)
    consented_at = Timestamptz(null=False)
    updated_at = Timestamptz(default=TimestamptzNow(), null=False)
