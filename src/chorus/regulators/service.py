"""Regulator registry: seeded from data/regulators.json; admins add more."""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from chorus import db, freshness, netguard
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.errors import Conflict, Invalid, NotFound
from chorus.regulators import requirements
from chorus.regulators.schemas import (
    SHIPPED_FIELDS,
    RegulatorAdminRead,
    RegulatorCreate,
    RegulatorRead,
    RegulatorSource,
    RegulatorUpdate,
    TimeLimitRule,
)
from chorus.regulators.tables import Regulator
from chorus.settings import Settings

SEED_FILE = Path(__file__).resolve().parent.parent / "data" / "regulators.json"
# the time limits regulators.json entries name ("time_limits": "<set>"), as dated, cited rules
TIME_LIMITS_FILE = SEED_FILE.with_name("time_limits.json")


def _read(row: dict[str, Any]) -> RegulatorRead:
    return RegulatorRead(
        id=row["id"],
        name=row["name"],
        jurisdiction=row["jurisdiction"],
        channel=row["channel"],
        address=row["address"],
        locale=row["locale"],
        template_kind=row["template_kind"],
        contact_disclosure=row["contact_disclosure"],
        calendar=row["calendar"],
        accept_working_days=row["accept_working_days"],
        finish_working_days=row["finish_working_days"],
        min_poll_seconds=row["min_poll_seconds"],
        has_credentials=bool(row["credentials_env"]),
        note=row["note"],
        time_limits=time_limits_of(row["time_limits"]),
        routed_by=row["routed_by"],
        authorization_required=bool(row["authorization_required"]),
        required_details=list(requirements.required_fields(row["slug"], datetime.now(UTC).date())),
        complainant_requirements=list(requirements.rules_for(row["slug"])),
        active=bool(row["active"]),
        sources=sources_of(row["slug"]),
    )


def sources_of(slug: str) -> list[RegulatorSource]:
    """Where the shipped entry with this slug was sourced (data/regulators.json ``sources``; none
    for a regulator an admin added). They travel with the release, not in the database."""
    return list(_shipped_sources(str(SEED_FILE)).get(slug, ()))


@functools.cache
def _shipped_sources(path: str) -> dict[str, tuple[RegulatorSource, ...]]:
    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    read = RegulatorSource.model_validate
    return {e["slug"]: tuple(read(x) for x in e.get("sources", ())) for e in entries}


def time_limits_of(value: Any) -> list[TimeLimitRule]:
    """A regulator's ``time_limits`` column as rules (none when never set)."""
    return [TimeLimitRule.model_validate(r) for r in db.json_value(value) or []]


def _admin_read(row: dict[str, Any]) -> RegulatorAdminRead:
    return RegulatorAdminRead(
        **_read(row).model_dump(),
        credentials_env=row["credentials_env"],
        shipped=row["seed_revision"] is not None,
        admin_fields=sorted(_admin_fields(row) or ()),
    )


def _admin_fields(row: dict[str, Any]) -> set[str] | None:
    """The fields admins changed on this regulator (None: not known yet, see sync_shipped)."""
    value = db.json_value(row["admin_fields"])
    return None if value is None else {str(f) for f in value}


async def list_active() -> list[RegulatorRead]:
    """The regulators complaints can be built for and filed with (the public list): active, and
    for a bureau reached through a channel, that channel active too."""
    rows = await Regulator.select().order_by(Regulator.id)
    off = {r["id"] for r in rows if not r["active"]}
    return [_read(r) for r in rows if r["id"] not in off and r["routed_by"] not in off]


async def list_all() -> list[RegulatorAdminRead]:
    """Every regulator, deactivated ones too, as admins see them."""
    return [_admin_read(r) for r in await Regulator.select().order_by(Regulator.id)]


async def require_active(regulator_id: int) -> dict[str, Any]:
    """A regulator a new complaint may be built for: 404 unknown, 409 deactivated (or reached
    through a channel that is)."""
    row = await get_or_raise(regulator_id)
    channel = await get_or_raise(row["routed_by"]) if row["routed_by"] else row
    if not row["active"] or not channel["active"]:
        raise Conflict("regulator_inactive", field="regulator_id")
    return row


async def get_or_raise(regulator_id: int) -> dict[str, Any]:
    row = await Regulator.select().where(Regulator.id == regulator_id).first()
    if row is None:
        raise NotFound("regulator_not_found", field="regulator_id")
    return dict(row)


async def get_for_admin(regulator_id: int) -> RegulatorAdminRead:
    """A regulator as an admin edits it (with the name of its credentials variable)."""
    return _admin_read(await get_or_raise(regulator_id))


async def channel_of(regulator_id: int) -> int:
    """The channel a regulator's complaints go through: its own id, or for a bureau 12315 routes
    complaints to, the id of that channel (``routed_by``)."""
    row = await get_or_raise(regulator_id)
    return int(row["routed_by"] or row["id"])


async def channel_family(regulator_id: int) -> list[int]:
    """Every regulator reached through the same channel as this one: the channel and the bureaus
    it routes to. A case files one complaint per channel (never once per bureau)."""
    channel = await channel_of(regulator_id)
    rows = await Regulator.select(Regulator.id).where(
        (Regulator.id == channel) | (Regulator.routed_by == channel)
    )
    return sorted(int(r["id"]) for r in rows)


async def routing_targets(regulator_id: int) -> list[RegulatorRead]:
    """The bureaus a channel routes complaints to (where the merchant is registered or operates)."""
    channel = await channel_of(regulator_id)
    rows = (
        await Regulator.select()
        .where((Regulator.routed_by == channel) & (Regulator.active == True))  # noqa: E712
        .order_by(Regulator.id)
    )
    return [_read(r) for r in rows]


async def id_of(slug: str) -> int | None:
    """The regulator with this slug, if any."""
    row = await Regulator.select(Regulator.id).where(Regulator.slug == slug).first()
    return int(row["id"]) if row else None


def check_address(channel: str, address: str) -> str:
    address = address.strip()
    if channel == "email":
        try:
            return validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise Invalid("regulator_address_email", field="address") from exc
    parts = urlsplit(address)
    if channel == "http" or address.startswith(("http://", "https://")):
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Invalid("regulator_address_url", field="address")
        return address.rstrip("/") if channel == "http" else address
    return address


async def check_reachable(address: str, settings: Settings) -> None:
    """An HTTP channel's address, where the worker will send complaints and API keys: in
    production ``https://`` to a host with public addresses only (checked again at each request)."""
    policy = netguard.policy(settings)
    if not policy.strict:
        return
    try:
        await netguard.allowed_addresses(address, policy)
    except netguard.Blocked as exc:
        if exc.reason == "scheme":
            raise Invalid("regulator_address_https", field="address") from exc
        raise Invalid(
            "regulator_address_blocked", field="address", address=exc.address or "", reason=exc.reason
        ) from exc
    except netguard.Unresolvable as exc:
        raise Invalid("regulator_address_unresolvable", field="address") from exc


async def _check_routed_by(routed_by: int | None, *, regulator_id: int = 0) -> None:
    """A bureau is routed through a channel of its own standing: an existing regulator that is
    not itself routed through another (and not the bureau itself), with no bureaus routed
    through the bureau."""
    if routed_by is None:
        return
    row = await Regulator.select(Regulator.id, Regulator.routed_by).where(Regulator.id == routed_by).first()
    if row is None or row["routed_by"] is not None or routed_by == regulator_id:
        raise Invalid("regulator_routed_by_invalid", field="routed_by")
    if regulator_id and await Regulator.exists().where(Regulator.routed_by == regulator_id):
        raise Invalid("regulator_routed_by_invalid", field="routed_by")


def _name_shown_anew(changes: dict[str, Any]) -> None:
    """Inside the transaction changing a regulator: the public case summaries name the regulator
    of each filing, so a new name is shown anew everywhere (a rare admin edit); nothing else a
    regulator holds is public."""
    if "name" in changes:
        freshness.everything()
    else:
        freshness.nothing_public()


async def create(*, data: RegulatorCreate, actor: UserRead, settings: Settings) -> RegulatorRead:
    await _check_routed_by(data.routed_by)
    address = check_address(data.channel, data.address)
    if data.channel == "http":
        await check_reachable(address, settings)
    name, jurisdiction = data.name.strip(), data.jurisdiction.strip()
    slug = "r-" + hashlib.sha256(f"{name}|{jurisdiction}".encode()).hexdigest()[:16]
    try:
        async with db.transaction():
            freshness.nothing_public()
            if await _name_taken(name, jurisdiction, other_than=0):
                raise Conflict("regulator_exists", field="name")
            if await Regulator.exists().where(Regulator.slug == slug):
                # the name a regulator had before an admin renamed it (slugs never change)
                slug = f"{slug}-{secrets.token_hex(3)}"
            rows = await Regulator.insert(
                Regulator(
                    slug=slug,
                    name=name,
                    jurisdiction=jurisdiction,
                    channel=data.channel,
                    address=address,
                    locale=data.locale,
                    template_kind=data.template_kind,
                    contact_disclosure=data.contact_disclosure,
                    credentials_env=data.credentials_env,
                    calendar=data.calendar,
                    accept_working_days=data.accept_working_days,
                    finish_working_days=data.finish_working_days,
                    min_poll_seconds=data.min_poll_seconds,
                    note=data.note,
                    time_limits=_stored(data.time_limits),
                    routed_by=data.routed_by,
                    authorization_required=data.authorization_required,
                )
            ).returning(Regulator.id)
            await audit.record(
                "regulator.created",
                actor_id=actor.id,
                object_type="regulator",
                object_id=rows[0]["id"],
                channel=data.channel,
            )
    except Exception as exc:
        if db.is_unique_violation(exc):
            raise Conflict("regulator_exists", field="name") from exc
        raise
    return _read(await get_or_raise(rows[0]["id"]))


async def _name_taken(name: str, jurisdiction: str, *, other_than: int) -> bool:
    """Another regulator (not ``other_than``) has this name in this jurisdiction."""
    return bool(
        await Regulator.exists().where(
            (Regulator.id != other_than) & (Regulator.name == name) & (Regulator.jurisdiction == jurisdiction)
        )
    )


async def update(
    regulator_id: int, *, actor: UserRead, data: RegulatorUpdate, settings: Settings
) -> RegulatorRead:
    """Admins change a regulator: only the fields ``data`` sets, checked as :func:`create` checks
    them (the address against the resulting channel; an HTTP channel's reachability in
    production). Complaint versions and filings already made keep what they were made with;
    a live filing's next request uses the new channel and address. ``restore_shipped`` hands
    fields of a shipped regulator back to data/regulators.json: they take its value now and
    follow its corrections again (409 for a regulator not shipped; 422 with a value for them)."""
    current = await get_or_raise(regulator_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    restore = set(changes.pop("restore_shipped", None) or ())
    if restore & set(changes):
        raise Invalid("regulator_restore_and_change", field="restore_shipped")
    for key in ("name", "jurisdiction"):
        if key in changes:
            changes[key] = changes[key].strip()
    channel = changes.get("channel", current["channel"])
    if "channel" in changes or "address" in changes:
        address = check_address(channel, changes.get("address", current["address"]))
        if channel == "http":
            await check_reachable(address, settings)
        changes["address"] = address
    if "time_limits" in changes:  # the whole list: null or [] removes every rule
        rules, was = _stored(data.time_limits or []), current["time_limits"]
        # set, even to none: `chorus migrate` fills only those never set
        changes["time_limits"] = rules if was is None or rules != _stored(time_limits_of(was)) else was
    if changes.get("routed_by") is not None:
        await _check_routed_by(changes["routed_by"], regulator_id=regulator_id)
    changes = {k: v for k, v in changes.items() if current[k] != v}
    restored = await _shipped_values_of(current, restore) if restore else {}
    changes |= restored
    if "name" in changes or "jurisdiction" in changes:
        name = changes.get("name", current["name"])
        jurisdiction = changes.get("jurisdiction", current["jurisdiction"])
        if await _name_taken(name, jurisdiction, other_than=regulator_id):
            raise Conflict("regulator_exists", field="name")
    # what an admin changed is theirs: a later correction of the shipped data leaves it alone
    admin_fields = sorted(((_admin_fields(current) or set()) | set(changes)) - restore)
    if changes or admin_fields != sorted(_admin_fields(current) or ()):
        action = "regulator.updated"
        if "active" in changes:
            action = "regulator.reactivated" if changes["active"] else "regulator.deactivated"
        async with db.transaction():
            _name_shown_anew(changes)
            await Regulator.update(
                {getattr(Regulator, k): v for k, v in changes.items()}
                | {Regulator.admin_fields: json.dumps(admin_fields)}
            ).where(Regulator.id == regulator_id)
            await audit.record(
                action,
                actor_id=actor.id,
                object_type="regulator",
                object_id=regulator_id,
                fields=sorted(set(changes) - restore),
                **({"restored": sorted(restore)} if restore else {}),
            )
    return _read(await get_or_raise(regulator_id))


async def _shipped_values_of(current: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """The values data/regulators.json gives these fields of a shipped regulator, where they
    differ from what it holds (409 ``regulator_not_shipped`` for one an admin added)."""
    entry = next((e for e in _entries() if e["slug"] == current["slug"]), None)
    if entry is None or current["seed_revision"] is None:
        raise Conflict("regulator_not_shipped", field="restore_shipped")
    ids = {r["slug"]: int(r["id"]) for r in await Regulator.select(Regulator.slug, Regulator.id)}
    values = _shipped_values(entry, seed_time_limits(), ids)
    return {f: values[f] for f in fields if not _same(f, current[f], values[f])}


def _stored(rules: list[TimeLimitRule]) -> str:
    """Rules as the ``time_limits`` column keeps them (JSON text, dates as ISO days)."""
    return json.dumps([r.model_dump(mode="json") for r in rules], ensure_ascii=False)


def seed_time_limits() -> dict[str, list[TimeLimitRule]]:
    """The sets of rules in data/time_limits.json, by name (each rule validated)."""
    sets = json.loads(TIME_LIMITS_FILE.read_text(encoding="utf-8"))["sets"]
    return {name: [TimeLimitRule.model_validate(r) for r in rules] for name, rules in sets.items()}


# the audit entries an admin's change to a regulator leaves, with the fields it changed
_ADMIN_ACTIONS = ("regulator.updated", "regulator.deactivated", "regulator.reactivated")


@dataclass(frozen=True)
class ShippedSync:
    """What `chorus migrate` did with data/regulators.json: regulators added, and regulators whose
    entry changed since it was last applied, corrected (``corrected``) where admins had not
    changed the fields (``kept``: how many corrected fields were left as an admin set them)."""

    added: int
    corrected: int
    kept: int


def _entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    return entries


def revision_of(entry: dict[str, Any], rule_sets: dict[str, list[TimeLimitRule]]) -> str:
    """An entry's revision: the SHA-256 of the entry and of the rules it names (a change to either
    is a correction to apply)."""
    rules = rule_sets.get(entry.get("time_limits") or "", [])
    content = {"entry": entry, "rules": [r.model_dump(mode="json") for r in rules]}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _shipped_values(
    entry: dict[str, Any], rule_sets: dict[str, list[TimeLimitRule]], ids: dict[str, int]
) -> dict[str, Any]:
    """An entry as the columns of SHIPPED_FIELDS (its channel, ``routed_by``, by id)."""
    values = {f: entry.get(f) for f in SHIPPED_FIELDS}
    values["note"] = entry.get("note", "")
    values["authorization_required"] = bool(entry.get("authorization_required", False))
    values["active"] = bool(entry.get("active", True))
    values["routed_by"] = ids.get(entry["routed_by"]) if entry.get("routed_by") else None
    named = entry.get("time_limits")
    values["time_limits"] = _stored(rule_sets[named]) if named else None
    return values


def _same(field: str, stored: Any, shipped: Any) -> bool:
    if field == "time_limits":
        return (stored is None and shipped is None) or (
            stored is not None and shipped is not None and time_limits_of(stored) == time_limits_of(shipped)
        )
    if field in ("authorization_required", "active"):
        return bool(stored) == bool(shipped)
    return bool(stored == shipped)


async def _changed_by_admins(row: dict[str, Any]) -> set[str]:
    """The fields admins changed on a regulator: those recorded on it, or for a regulator from
    before they were recorded, those its audit entries name."""
    known = _admin_fields(row)
    if known is not None:
        return known
    entries = await audit.data_of(object_type="regulator", object_id=row["id"], actions=_ADMIN_ACTIONS)
    return {str(f) for e in entries for f in e.get("fields", [])}


async def sync_shipped() -> ShippedSync:
    """Apply data/regulators.json: add the regulators it holds that are missing (by slug), and
    where an entry changed since it was last applied to its regulator (its revision), write the
    fields that differ except those an admin changed, each correction audited
    (``regulator.corrected``, no actor). Runs at every `chorus migrate`; an unchanged entry
    costs no write."""
    entries, rule_sets = _entries(), seed_time_limits()
    rows = {r["slug"]: dict(r) for r in await Regulator.select()}
    ids = {slug: int(r["id"]) for slug, r in rows.items()}
    added = corrected = kept = 0
    for e in entries:  # a channel comes before the bureaus it routes to
        revision, values = revision_of(e, rule_sets), _shipped_values(e, rule_sets, ids)
        row = rows.get(e["slug"])
        if row is None:
            inserted = (
                await Regulator.insert(
                    Regulator(
                        slug=e["slug"],
                        seed_revision=revision,
                        admin_fields=json.dumps([]),
                        **values,
                    )
                )
                .on_conflict(target=Regulator.slug, action="DO NOTHING")
                .returning(Regulator.id)
            )
            added += len(inserted)
            if inserted:
                ids[e["slug"]] = int(inserted[0]["id"])
            continue
        fields = set(SHIPPED_FIELDS)
        if row["seed_revision"] == revision:  # applied; only rules never set (null) are copied
            if row["time_limits"] is not None or not values["time_limits"]:
                continue
            fields = {"time_limits"}
        admin = await _changed_by_admins(row)
        differ = {k for k in fields if not _same(k, row[k], values[k])}
        change = {k: values[k] for k in differ - admin}
        if ("name" in change or "jurisdiction" in change) and await _name_taken(
            change.get("name", row["name"]),
            change.get("jurisdiction", row["jurisdiction"]),
            other_than=row["id"],
        ):  # an admin's own regulator has that name there: theirs stays unique
            change.pop("name", None)
            change.pop("jurisdiction", None)
        async with db.transaction():
            _name_shown_anew(change)
            await Regulator.update(
                {getattr(Regulator, k): v for k, v in change.items()}
                | {Regulator.seed_revision: revision, Regulator.admin_fields: json.dumps(sorted(admin))}
            ).where(Regulator.id == row["id"])
            if change or differ & admin:
                await audit.record(
                    "regulator.corrected",
                    actor_id=None,
                    object_type="regulator",
                    object_id=row["id"],
                    fields=sorted(change),
                    kept=sorted(differ & admin),
                    revision=revision,
                )
        corrected += bool(change)
        kept += len(differ & admin)
    return ShippedSync(added=added, corrected=corrected, kept=kept)


async def seed_defaults() -> int:
    """Apply data/regulators.json (:func:`sync_shipped`); returns how many regulators were added."""
    return (await sync_shipped()).added
