"""Representative election and authorization request and response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from chorus.ids import Id
from chorus.inputs import Input

# The identity details an authorization may share (chorus.accounts.identity.FIELDS: repeated here,
# the schema has no business importing the store).
DETAIL_FIELDS = ("real_name", "phone", "id_number", "address")
# The version of the authorization's wording (templates/authorizations/<locale>/authorization.md.j2):
# bumped when the text changes, so an authorization always says which words the member agreed to.
TEXT_VERSION = "2026-12-01"


class PersonRef(BaseModel):
    user_id: int
    display_name: str


class CandidateRead(PersonRef):
    votes: int
    stood_at: datetime


class RepresentativeRead(BaseModel):
    """The case's election: who stands, how many votes each has (never who voted for whom), and
    the representative if one is elected — more than half of the votes cast, once at least a
    third of the members have voted (``quorum``)."""

    representative: PersonRef | None
    candidates: list[CandidateRead]
    members: int
    votes_cast: int
    quorum: int
    my_vote: int | None  # the candidate the caller voted for
    standing: bool  # the caller stands


class VoteCreate(Input):
    candidate_id: Id


class AuthorizationCreate(Input):
    """Authorize the case's representative to file this complaint version (its channel is the
    version's regulator) for me, sharing these of my identity details."""

    complaint_id: Id
    fields: list[str] = Field(default_factory=list, max_length=len(DETAIL_FIELDS))


class ChannelRef(BaseModel):
    id: int
    name: str


class AuthorizationRead(BaseModel):
    """One authorization. Organizers of the case see who authorized which version for which
    channel and when (``fields`` empty for them: what a member shares is not theirs to see)."""

    id: int
    case_id: int
    user_id: int
    display_name: str
    regulator: ChannelRef
    complaint_id: int
    complaint_version: int
    representative: PersonRef
    fields: list[str]
    text_version: str
    given_at: datetime
    revoked_at: datetime | None
    used_by_filing: int | None
    # it covers the version a filing would send now: not revoked, for the latest version, naming
    # the representative the case has now
    current: bool = False


class AuthorizationList(BaseModel):
    items: list[AuthorizationRead]


class AuthorizationOption(BaseModel):
    """A version the caller may authorize: the latest for a channel that expects an authorization.
    ``named``: the caller is named in it (only then can they authorize it); ``authorization``:
    their live authorization of it, if any."""

    complaint_id: int
    version: int
    regulator: ChannelRef
    named: bool
    authorization: AuthorizationRead | None


class FilingPartiesRead(BaseModel):
    """Who a filing was made for: ``included`` of the ``named`` members of the version (a member
    without an authorization for the channel is left out), by the representative."""

    included: int
    named: int
    representative: PersonRef | None
    bureau: ChannelRef | None
    authorization_required: bool
