"""Webhooks (a real receiver on a socket verifying the HMAC-SHA256 signature), the daily digest
(once per member and local day across two real arq workers), and a fan-out to 1,000 members
surviving a `chorus worker` killed with SIGKILL halfway."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from arq.worker import Worker

from chorus import db
from chorus.errors import Invalid
from chorus.notifications import service as notifications
from chorus.notifications.schemas import PreferencesUpdate
from chorus.notifications.tables import Delivery, Digest, NotifyEvent
from chorus.settings import Env
from tests.integration.cases_support import get_ok, ident, person, report, report_body
from tests.integration.notify_support import drain, seed_members, smtp_sink, webhook_receiver
from tests.support import run_jobs
from tests.toolkit import start_chorus, stop_process


async def webhook_case(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> tuple[Any, Any, int, Callable[[], Awaitable[int]]]:
    """An organizer and Bob in one case, the queue drained; and a worker run with quick retries
    (three tries per delivery)."""
    org = await person(client, mailbox, worker, "org@example.com", "组织者")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    case_id = (await report(client, org, report_body("星辰卡盟", [ident("qq", "2876543210")])))["case_id"]
    await report(client, bob, report_body("星辰卡盟", [ident("qq", "2876543210")]))
    fast = settings.model_copy(update={"notify_retry_seconds": 0.05, "notify_attempts": 3})

    async def run() -> int:
        return await run_jobs(redis_pool, fast)

    await drain(run)
    return org, bob, case_id, run


async def hook_up(client: Any, member: Any, hook: Any) -> str:
    """The member sends their updates to ``hook`` (and turns e-mail off); returns the secret."""
    r = await client.put(
        "/api/v1/me/preferences", json={"webhook_url": hook.url, "email": "off"}, headers=member.headers
    )
    assert r.status_code == 200, r.text
    secret: str = r.json()["webhook_secret"]
    return secret


async def set_case_status(client: Any, org: Any, case_id: int, status: str) -> None:
    r = await client.post(f"/api/v1/cases/{case_id}/status", json={"status": status}, headers=org.headers)
    assert r.status_code == 200, r.text


async def test_the_webhook_secret_is_shown_once(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    _, bob, _, _ = await webhook_case(client, mailbox, worker, redis_pool, settings)
    with webhook_receiver() as hook:
        secret = await hook_up(client, bob, hook)
    assert secret and len(secret) == 64
    # reading the preferences never shows it again
    assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["webhook_secret"] is None


async def test_a_webhook_call_is_signed_and_retried_after_a_server_error(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    org, bob, case_id, run = await webhook_case(client, mailbox, worker, redis_pool, settings)
    with webhook_receiver(statuses=[500, 200]) as hook:
        hook.secret = await hook_up(client, bob, hook)
        await set_case_status(client, org, case_id, "filing")
        await drain(run)
        assert hook.calls == 2  # a 500, then the retry
        assert hook.bad_signatures == 0
        (payload,) = hook.received
        assert payload["kind"] == "case.status_changed"
        assert payload["case_id"] == case_id
        assert payload["data"] == {"status": "filing"}
        assert "组织者" not in str(payload) and "org@example.com" not in str(payload)


async def test_a_webhook_failing_every_try_is_disabled_and_the_member_told(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    org, bob, case_id, run = await webhook_case(client, mailbox, worker, redis_pool, settings)
    with webhook_receiver(statuses=[200]) as hook:
        await hook_up(client, bob, hook)
        # a receiver holding the wrong secret sees a signature that does not verify, and refuses
        hook.secret = "not-the-secret"
        await set_case_status(client, org, case_id, "filing")
        await drain(run)
        assert hook.bad_signatures >= 1
        # after CHORUS_NOTIFY_ATTEMPTS tries the webhook is disabled, and Bob is told
        prefs = await get_ok(client, "/api/v1/me/preferences", bob.headers)
        assert prefs["webhook_active"] is False and prefs["webhook_url"] == hook.url
        kinds = [n["kind"] for n in (await get_ok(client, "/api/v1/notifications", bob.headers))["items"]]
        assert "account.webhook_disabled" in kinds
        calls = hook.calls
        await set_case_status(client, org, case_id, "gathering")
        await drain(run)
        assert hook.calls == calls  # disabled: not called again
        assert mailbox.to("bob@example.com")[1:] == []  # e-mail off: only the verification mail


async def test_webhook_addresses_follow_the_regulator_channel_rules_in_production(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    from chorus.accounts import service as accounts

    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    user = await accounts.get_or_raise(bob.id)
    production = settings.model_copy(update={"env": Env.production})
    for url, reason in (
        ("http://hooks.example.com/x", "scheme"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://169.254.169.254/latest", "metadata"),
    ):
        with pytest.raises(Invalid) as caught:
            await notifications.update_preferences(
                actor=user, data=PreferencesUpdate(webhook_url=url), settings=production
            )
        assert caught.value.errors[0].field == "webhook_url"
        assert caught.value.params["reason"] == reason
    assert (await notifications.get_preferences(actor=user)).webhook_url is None


async def digest_case(client: Any, mailbox: Any, worker: Any) -> tuple[Any, Any, datetime]:
    """Ann (Shanghai) and Ned (New York) take a daily digest in English; two status changes of
    their case wait for it, dated 00:00 UTC of today. Returns (ann, ned, the cron's time):
    00:30 UTC is 08:30 in Shanghai (the digest hour) and 19:30 in New York (not)."""
    org = await person(client, mailbox, worker, "org@example.com", "组织者")
    ann = await person(client, mailbox, worker, "ann@example.com", "Ann")
    ned = await person(client, mailbox, worker, "ned@example.com", "Ned")
    case_id = (await report(client, org, report_body("星辰卡盟", [ident("qq", "2876543210")])))["case_id"]
    for who, tz in ((ann, "Asia/Shanghai"), (ned, "America/New_York")):
        await report(client, who, report_body("星辰卡盟", [ident("qq", "2876543210")]))
        r = await client.put(
            "/api/v1/me/preferences",
            json={"email": "digest", "time_zone": tz, "locale": "en"},
            headers=who.headers,
        )
        assert r.status_code == 200, r.text
    for status in ("filing", "gathering"):
        await client.post(f"/api/v1/cases/{case_id}/status", json={"status": status}, headers=org.headers)
    await drain(worker)
    mailbox.clear()
    at = datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0)
    await Delivery.update({Delivery.created_at: at.replace(minute=0)}).where(Delivery.channel == "digest")
    return ann, ned, at


async def two_digest_workers(redis_pool: Any, settings: Any, at: datetime) -> None:
    """The digest cron fired on two real arq workers at once (each enqueues its own job)."""
    for n in (1, 2):
        await redis_pool.enqueue_job(
            "notify_digest", at=at.isoformat(), _job_id=f"digest-{n}-{time.monotonic()}"
        )
    from workers.settings import worker_settings

    made = []
    for _ in range(2):
        kwargs = worker_settings(settings)
        kwargs.update(
            redis_pool=redis_pool,
            burst=True,
            poll_delay=0.01,
            handle_signals=False,
            on_startup=None,
            on_shutdown=None,
            ctx={"settings": settings},
            cron_jobs=[],
        )
        kwargs.pop("redis_settings")
        made.append(Worker(**kwargs))
    await asyncio.gather(*(w.main() for w in made))
    for w in made:
        await w.run_check()


async def test_digest_members_updates_wait_for_the_digest(client: Any, mailbox: Any, worker: Any) -> None:
    await digest_case(client, mailbox, worker)
    assert await Delivery.count().where((Delivery.channel == "digest") & (Delivery.status == "pending")) == 4


async def test_the_daily_digest_goes_out_once_per_member_and_day_across_two_workers(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    ann, _, at = await digest_case(client, mailbox, worker)
    await two_digest_workers(redis_pool, settings, at)
    await two_digest_workers(redis_pool, settings, at)  # the cron of the next hour... the same local day
    assert len(mailbox.to("ann@example.com")) == 1
    assert await Digest.count() == 1
    assert await Delivery.count().where((Delivery.user == ann.id) & (Delivery.status == "sent")) == 2


async def test_the_digest_speaks_the_members_language_and_unsubscribes_in_one_click(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    _, _, at = await digest_case(client, mailbox, worker)
    await two_digest_workers(redis_pool, settings, at)
    (digest,) = mailbox.to("ann@example.com")
    assert digest["Subject"].startswith("Chorus daily digest: 2 update(s)")
    assert "Case #" in digest.get_body(preferencelist=("plain",)).get_content()
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_the_digest_waits_for_the_members_local_morning(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    _, ned, at = await digest_case(client, mailbox, worker)
    await two_digest_workers(redis_pool, settings, at)
    assert mailbox.to("ned@example.com") == []  # 19:30 in New York: tomorrow morning his time
    assert await Delivery.count().where((Delivery.user == ned.id) & (Delivery.status == "pending")) == 2


@dataclass
class KilledFanOut:
    """What a fan-out to 1,000 members left behind after its worker was killed and restarted."""

    held: int  # messages the SMTP server had taken when the first worker was killed
    recipients: list[str]  # every message the server took, in the end
    deliveries: int  # delivery rows of the event
    fanned_out: bool  # the event is marked fanned out
    log: str  # the workers' output, shown when an assertion fails


@pytest.fixture(scope="module")
async def killed_fan_out(
    database: None, redis_pool: Any, mailbox: Any, settings: Any, tmp_path_factory: Any
) -> KilledFanOut:
    """One status change to a case of 1,000 members, sent by a `chorus worker` killed with
    SIGKILL halfway (the SMTP server holds its answers from the 400th message on), then by a
    second one. Run once for the tests below, which each check one thing it left."""
    from tests.conftest import reset_world
    from tests.support import http_client

    await reset_world(redis_pool, mailbox)

    async def worker() -> int:
        return await run_jobs(redis_pool, settings)

    async with http_client(settings) as client:
        org = await person(client, mailbox, worker, "org@example.com", "组织者")
        case_id = (await report(client, org, report_body("星辰卡盟", [ident("qq", "2876543210")])))["case_id"]
    await seed_members(case_id, 999)
    await drain(worker)
    log = tmp_path_factory.mktemp("fan-out") / "worker.log"
    with smtp_sink(hold_at=400) as sink:
        env = {
            **os.environ,
            "CHORUS_SMTP_PORT": str(sink.port),
            "CHORUS_NOTIFY_BATCH_SIZE": "100",
            # short, so the second worker takes over the killed one's rows soon; not so short that
            # a stall of this host (jobs seen starting 4.65 s late under a full CI) outlasts a
            # live job's lease and lets the sweep give its rows to a second sender
            "CHORUS_NOTIFY_LEASE_SECONDS": "10",
            "CHORUS_OUTBOX_RELAY_SECONDS": "0.2",
        }
        async with db.transaction():
            event_id = await notifications.record(
                kind="case.filing_status",
                case_id=case_id,
                data={"filing_id": 1, "regulator_id": 1, "status": "accepted"},
                source="test:kill",
                audience="members",
            )

        async def sent() -> int:
            return await Delivery.count().where((Delivery.event == event_id) & (Delivery.status == "sent"))

        first = start_chorus(["worker"], log=log, env=env)
        try:
            reached = await asyncio.to_thread(sink.reached.wait, 120)
            assert reached, log.read_text()[-3000:]
            # The server answers nothing more; the worker records what it was told "250" for. Kill
            # it then: every message it has in flight is one the server never acknowledged. (A kill
            # between a "250" and its record repeats that one message, under the same Message-ID:
            # SMTP cannot do better; see chorus.notifications.delivery.)
            deadline = time.monotonic() + 60
            while await sent() < len(sink.recipients()) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            first.kill()  # SIGKILL: no clean-up of any kind
            first.wait(timeout=10)
        finally:
            stop_process(first)
        sink.epoch += 1  # what the killed worker had in flight never got its "250"
        sink.release.set()
        held = len(sink.recipients())

        second = start_chorus(["worker"], log=log, env=env)
        try:
            deadline = time.monotonic() + 180
            while await sent() < 1000 and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
        finally:
            stop_process(second)
    event = await NotifyEvent.select(NotifyEvent.fanned_out_at).where(NotifyEvent.id == event_id).first()
    return KilledFanOut(
        held=held,
        recipients=sink.recipients(),
        deliveries=await Delivery.count().where(Delivery.event == event_id),
        fanned_out=event is not None and event["fanned_out_at"] is not None,
        log=log.read_text()[-3000:],
    )


def test_the_worker_was_killed_halfway_through_the_fan_out(killed_fan_out: KilledFanOut) -> None:
    assert 300 <= killed_fan_out.held < 1000, killed_fan_out.log


def test_after_the_restart_every_member_got_exactly_one_email(killed_fan_out: KilledFanOut) -> None:
    recipients = killed_fan_out.recipients
    assert len(recipients) == 1000, (len(recipients), killed_fan_out.log)
    assert len(set(recipients)) == 1000


def test_the_fan_out_left_one_delivery_per_member_and_was_marked_done(killed_fan_out: KilledFanOut) -> None:
    assert killed_fan_out.deliveries == 1000
    assert killed_fan_out.fanned_out
