"""An account e-mail (the verification link, a password reset) the mail server does not take at
once is tried again later, not lost: arq retries a job only when it raises Retry. A server saying
"try later" (4xx) gets the message on a later try; one refusing the address for good (5xx) is
not asked again. Real SMTP server, real arq worker."""

from __future__ import annotations

from typing import Any

import pytest
from arq.worker import FailedJobs

from tests.integration.notify_support import Sink
from tests.support import register, run_jobs, token_from
from tests.toolkit import free_port

pytestmark = pytest.mark.usefixtures("clean")


class BusyOnce(Sink):
    """Answers the first RCPT for each address with 451 (greylisting, a full queue), then takes it."""

    def __init__(self) -> None:
        super().__init__()
        self.tries: dict[str, int] = {}

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.tries[address] = self.tries.get(address, 0) + 1
        if self.tries[address] == 1 or address in self.refuse:
            return "451 4.7.1 try again later" if address not in self.refuse else "550 5.1.1 no such mailbox"
        return await super().handle_RCPT(server, session, envelope, address, options)


def serving(sink: Sink) -> Any:
    from aiosmtpd.controller import Controller

    sink.port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    return controller


async def test_a_verification_link_the_server_deferred_arrives_on_the_next_try(
    client: Any, settings: Any, redis_pool: Any
) -> None:
    sink = BusyOnce()
    controller = serving(sink)
    try:
        await register(client, "ann@example.com")
        busy = settings.model_copy(update={"smtp_port": sink.port, "notify_retry_seconds": 0.05})
        await run_jobs(redis_pool, busy)  # the burst waits for the deferred retry too
        assert sink.tries["ann@example.com"] == 2
        (msg,) = sink.to("ann@example.com")  # once, on the second try
        r = await client.post("/api/v1/auth/verify", json={"token": token_from(msg)})
        assert r.status_code == 200, r.text
    finally:
        controller.stop()


async def test_a_password_reset_refused_for_good_is_not_sent_again(
    client: Any, settings: Any, redis_pool: Any, mailbox: Any
) -> None:
    await register(client, "bob@example.com")
    await run_jobs(redis_pool, settings)  # the verification link, through the suite's server
    sink = BusyOnce()
    sink.refuse.add("bob@example.com")
    controller = serving(sink)
    try:
        r = await client.post("/api/v1/auth/password/forgot", json={"email": "bob@example.com"})
        assert r.status_code == 202, r.text
        refusing = settings.model_copy(update={"smtp_port": sink.port, "notify_retry_seconds": 0.05})
        with pytest.raises(FailedJobs):  # the job failed, once
            await run_jobs(redis_pool, refusing)
        assert sink.tries["bob@example.com"] == 1  # a 5xx: asking again would not help
        assert sink.to("bob@example.com") == []
    finally:
        controller.stop()
