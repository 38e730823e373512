"""Merchants, the names and identifiers they are known by, and merge proposals."""

from piccolo.columns import (
    JSON,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from chorus.accounts.tables import User

# A name or identifier brought by one reporter who joined a case by its id (not by a match) is
# only "claimed": shown to organizers and moderators and offered as a suggestion, never matched
# nor shown publicly, until another reporter names it too or a moderator confirms it.
CONFIRMED, CLAIMED = "confirmed", "claimed"


class Merchant(Table, tablename="merchant"):
    id: Serial
    name = Varchar(length=200, null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    # Set when a moderator merged this merchant into another; the row stays for history.
    merged_into = ForeignKey(references="self", null=True, default=None, on_delete=OnDelete.restrict)  # type: ignore[var-annotated]
    merged_at = Timestamptz(null=True, default=None)


class MerchantAlias(Table, tablename="merchant_alias"):
    """A name the merchant is known by (its display name is one of them)."""

    id: Serial
    merchant = ForeignKey(references=Merchant, null=False, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=200, null=False)
    name_key = Varchar(length=200, null=False, index=True)  # names.core_name
    pinyin_key = Varchar(length=400, null=False, index=True)  # names.pinyin_key
    # name_key with every character doubled: what the PostgreSQL name search's trigram index holds
    # (a two-character fragment, doubled, has trigrams); kept by merchants.service._alias_row
    name_doubled = Varchar(length=400, null=False, default="")
    status = Varchar(length=10, null=False, default=CONFIRMED)  # confirmed | claimed
    claimed_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    claimed_at = Timestamptz(null=True, default=None)

    merchant_alias_once = Unique([merchant, name_key])  # a name is recorded once per merchant


class MerchantIdentifier(Table, tablename="merchant_identifier"):
    """A normalized identifier. ``match_key`` is what two reports must share to be the same
    merchant; it is unique, so concurrent reports cannot create two merchants for one key.
    Weak identifiers (kind ``other``) have no match key."""

    id: Serial
    merchant = ForeignKey(references=Merchant, null=False, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=20, null=False)
    value = Varchar(length=500, null=False)
    match_key = Varchar(length=520, null=True, default=None, unique=True)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    status = Varchar(length=10, null=False, default=CONFIRMED)  # confirmed | claimed
    # A claimed strong identifier keeps its key here, not in ``match_key``: it matches nothing,
    # and the merchant a later report names it for may still take the key.
    claim_key = Varchar(length=520, null=True, default=None, index=True)
    claimed_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    claimed_at = Timestamptz(null=True, default=None)


class MergeProposal(Table, tablename="merge_proposal"):
    """Two merchants that one report tied together: a moderator decides."""

    id: Serial
    merchant_a = ForeignKey(references=Merchant, null=False, on_delete=OnDelete.cascade)
    merchant_b = ForeignKey(references=Merchant, null=False, on_delete=OnDelete.cascade)
    match_keys = JSON(default=[], null=False)
    status = Varchar(length=10, null=False, default="open", index=True)  # open | merged | rejected
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    decided_by = Integer(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    note = Text(null=True, default=None)

    merge_proposal_pair = Unique([merchant_a, merchant_b])  # one per pair, stored as (lower id, higher id)


class LinkProposal(Table, tablename="link_proposal"):
    """A report that reached a merchant by a strong identifier (a payee account, card, phone, QQ,
    WeChat, USCC) under a name the merchant did not bear (issue 16 item 2): a moderator confirms
    the name is the same seller's, or rejects it (the name leaves the merchant's public names).
    Nothing is merged, and a name alone never makes one."""

    id: Serial
    merchant = ForeignKey(references=Merchant, null=False, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=200, null=False)
    name_key = Varchar(length=200, null=False)  # names.core_name, as merchant_alias.name_key
    match_keys = JSON(default=[], null=False)  # the strong keys the report shared with the merchant
    case = Integer(null=True, default=None)  # the case the report joined
    status = Varchar(length=10, null=False, default="open", index=True)  # open | confirmed | rejected
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    decided_by = Integer(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)

    link_proposal_once = Unique([merchant, name_key])  # one proposal per merchant and name
