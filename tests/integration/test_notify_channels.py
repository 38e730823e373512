"""Webhooks (a real receiver on a socket verifying the HMAC-SHA256 signature), the daily digest
(once per member and local day across two real arq workers), and a fan-out to 1,000 members
surviving a `chorus worker` killed with SIGKILL halfway."""

from __future__ import annotations

import asyncio
import os
import time
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


async def test_webhook_is_signed_retried_and_disabled_after_repeated_failures(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    org = await person(client, mailbox, worker, "org@example.com", "组织者")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    case_id = (await report(client, org, report_body("星辰卡盟", [ident("qq", "2876543210")])))["case_id"]
    await report(client, bob, report_body("星辰卡盟", [ident("qq", "2876543210")]))
    fast = settings.model_copy(update={"notify_retry_seconds": 0.05, "notify_attempts": 3})

    async def run() -> int:
        return await run_jobs(redis_pool, fast)

    await drain(run)
    with webhook_receiver(statuses=[500, 200]) as hook:
        r = await client.put(
            "/api/v1/me/preferences", json={"webhook_url": hook.url, "email": "off"}, headers=bob.headers
        )
        assert r.status_code == 200, r.text
        secret = r.json()["webhook_secret"]
        assert secret and len(secret) == 64
        # shown once: reading the preferences never shows it again
        assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["webhook_secret"] is None
        hook.secret = secret

        await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "filing"}, headers=org.headers)
        await drain(run)
        assert hook.calls == 2  # a 500, then the retry
        assert hook.bad_signatures == 0
        (payload,) = hook.received
        assert payload["kind"] == "case.status_changed"
        assert payload["case_id"] == case_id
        assert payload["data"] == {"status": "filing"}
        assert "组织者" not in str(payload) and "org@example.com" not in str(payload)

        # a receiver holding the wrong secret sees a signature that does not verify
        hook.secret = "not-the-secret"
        hook.statuses, hook.calls = [200], 0
        await client.post(
            f"/api/v1/cases/{case_id}/status", json={"status": "gathering"}, headers=org.headers
        )
        await drain(run)
        assert hook.bad_signatures >= 1

        # it keeps failing: after CHORUS_NOTIFY_ATTEMPTS tries the webhook is disabled, and Bob is told
        prefs = await get_ok(client, "/api/v1/me/preferences", bob.headers)
        assert prefs["webhook_active"] is False and prefs["webhook_url"] == hook.url
        kinds = [n["kind"] for n in (await get_ok(client, "/api/v1/notifications", bob.headers))["items"]]
        assert "account.webhook_disabled" in kinds
        calls = hook.calls
        await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "filing"}, headers=org.headers)
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


async def test_the_daily_digest_goes_out_once_per_member_and_day_across_two_workers(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
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
    assert await Delivery.count().where((Delivery.channel == "digest") & (Delivery.status == "pending")) == 4

    # 00:30 UTC is 08:30 in Shanghai (the digest hour) and 19:30 in New York (not)
    at = datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0)
    await Delivery.update({Delivery.created_at: at.replace(minute=0)}).where(Delivery.channel == "digest")

    async def two_workers() -> None:
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

    await two_workers()
    await two_workers()  # the cron of the next hour... the same local day: nothing more
    (digest,) = mailbox.to("ann@example.com")
    assert digest["Subject"].startswith("Chorus daily digest: 2 update(s)")
    assert "Case #" in digest.get_body(preferencelist=("plain",)).get_content()
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mailbox.to("ned@example.com") == []  # 19:30 in New York: tomorrow morning his time
    assert await Digest.count() == 1
    assert await Delivery.count().where((Delivery.user == ann.id) & (Delivery.status == "sent")) == 2


async def test_a_fan_out_to_1000_members_survives_a_worker_killed_halfway(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any, tmp_path: Any
) -> None:
    org = await person(client, mailbox, worker, "org@example.com", "组织者")
    case_id = (await report(client, org, report_body("星辰卡盟", [ident("qq", "2876543210")])))["case_id"]
    await seed_members(case_id, 999)
    await drain(worker)
    with smtp_sink(hold_at=400) as sink:
        env = {
            **os.environ,
            "CHORUS_SMTP_PORT": str(sink.port),
            "CHORUS_NOTIFY_BATCH_SIZE": "100",
            "CHORUS_NOTIFY_LEASE_SECONDS": "3",
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
        log = tmp_path / "worker.log"
        first = start_chorus(["worker"], log=log, env=env)
        try:
            reached = await asyncio.to_thread(sink.reached.wait, 120)
            assert reached, log.read_text()[-3000:]
            # The server answers nothing more; the worker records what it was told "250" for. Kill
            # it then: every message it has in flight is one the server never acknowledged. (A kill
            # between a "250" and its record repeats that one message, under the same Message-ID:
            # SMTP cannot do better; see chorus.notifications.delivery.)
            deadline = time.monotonic() + 20
            while (
                await Delivery.count().where((Delivery.event == event_id) & (Delivery.status == "sent"))
                < len(sink.recipients())
                and time.monotonic() < deadline
            ):
                await asyncio.sleep(0.05)
            first.kill()  # SIGKILL: no clean-up of any kind
            first.wait(timeout=10)
        finally:
            stop_process(first)
        sink.epoch += 1  # what the killed worker had in flight never got its "250"
        sink.release.set()
        held = len(sink.recipients())
        assert 300 <= held < 1000

        second = start_chorus(["worker"], log=log, env=env)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                done = await Delivery.count().where(
                    (Delivery.event == event_id) & (Delivery.status == "sent")
                )
                if done == 1000:
                    break
                await asyncio.sleep(0.25)
        finally:
            stop_process(second)
    recipients = sink.recipients()
    assert len(recipients) == 1000, (len(recipients), log.read_text()[-3000:])
    assert len(set(recipients)) == 1000
    assert await Delivery.count().where(Delivery.event == event_id) == 1000
    assert (await NotifyEvent.select(NotifyEvent.fanned_out_at).where(NotifyEvent.id == event_id).first())[
        "fanned_out_at"
    ] is not None
