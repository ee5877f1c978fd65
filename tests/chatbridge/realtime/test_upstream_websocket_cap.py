"""A chat never holds more Connect websockets than Connect allows its participant
(WebsocketsPerParticipant), even while a takeover overlaps the socket of a holder that only
stalled: the new holder, refused at the cap, backs off through the budget and connects once
a socket closes; a stalled holder that resumes opens no socket once its lease is gone."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from chatbridge.chats.handoff import handoff
from chatbridge.chats.service import get_chat_service
from chatbridge.realtime.leases import Fence
from chatbridge.realtime.upstream import Upstream
from chatbridge.redis import keys
from chatbridge.runtime import upstream_config
from tests.support.participant_socket import subscribed
from tests.support.redis_waits import until_key, until_members

pytestmark = pytest.mark.django_db(transaction=True)

# Failure guard only: each condition is normally reached within a backoff (about 1 s).
GUARD = 30.0
OWNER = "this-process"


@pytest.fixture(autouse=True)
def _quotas_off_again(emulator):
    """The session's emulator runs without quotas for every other test."""
    yield
    emulator.reset()


def calls(operation: str) -> float:
    labels = {"operation": operation, "outcome": "ok"}
    return REGISTRY.get_sample_value("chatbridge_connect_calls_total", labels) or 0.0


class LogSignal(logging.Handler):
    """Set once a log line of the upstream contains `text`."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


@contextlib.asynccontextmanager
async def logged(text: str) -> AsyncIterator[asyncio.Event]:
    signal = LogSignal(text)
    upstream_logger = logging.getLogger("chatbridge.realtime.upstream")
    upstream_logger.addHandler(signal)
    try:
        yield signal.seen
    finally:
        upstream_logger.removeHandler(signal)


async def until_connected(redis_client, chat_id: str) -> None:
    """Returns once the chat's upstream status says connected (the upstream writes it)."""

    async def reached() -> bool:
        status = await redis_client.get(keys().chat(chat_id, "upstream-status"))
        return status is not None and status.startswith(b"connected|")

    await until_key(redis_client, keys().chat(chat_id, "upstream-status"), reached)


async def upstream_of(runtime, chat_id: str) -> Upstream:
    """An upstream holding the chat's lease as OWNER, with no supervisor to take it back."""
    await runtime.supervisor.stop()
    lease = runtime.supervisor.lease(chat_id)
    await runtime.service.store.redis.set(lease.key, OWNER)
    return Upstream(
        chat_id,
        service=get_chat_service(background=True),
        relay=runtime.relay,
        log=runtime.log,
        config=upstream_config(),
        fence=Fence(lease.key, OWNER),
    )


async def test_an_upstream_refused_at_the_websocket_cap_backs_off_then_connects(
    runtime, emulator, redis_client
):
    emulator.set_quotas(WebsocketsPerParticipant=1)
    chat = await runtime.service.start_chat(display_name="Ada")
    contact_id = chat.session.contact_id
    upstream = await upstream_of(runtime, chat.session.chat_id)
    # The socket of a holder that stalled, still open at Connect.
    _, stale = await runtime.service.open_connection(chat.session)
    async with subscribed(stale.websocket_url):
        before = calls("create_participant_connection")
        async with logged("upstream reconnecting") as refused:
            task = asyncio.create_task(upstream.run())
            async with asyncio.timeout(GUARD):
                await refused.wait()
        assert upstream.state == "backing_off"
        assert calls("create_participant_connection") == before + 1
        assert len(emulator.contact(contact_id)["websockets"]) == 1
    await until_connected(redis_client, chat.session.chat_id)
    contact = emulator.contact(contact_id)
    assert (len(contact["websockets"]), contact["websocket_peak"]) == (1, 1)
    assert contact["websockets_refused"] >= 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_holder_whose_lease_moved_while_it_waited_opens_no_websocket(
    runtime, settings, redis_client
):
    settings.CHATBRIDGE_CONNECT_RATES = "CreateParticipantConnection=0.01/1"
    chat = await runtime.service.start_chat(display_name="Ada")
    # As for a chat another process started: this upstream needs a connection of its own.
    await handoff.take(chat.session.chat_id, valid_for=timedelta(0))
    upstream = await upstream_of(runtime, chat.session.chat_id)
    bucket = keys().connect_budget("CreateParticipantConnection")
    await redis_client.hset(bucket, "tokens", 0)
    task = asyncio.create_task(upstream.run())
    await until_members(
        redis_client, keys().connect_budget("CreateParticipantConnection", "queue"), 1
    )

    await redis_client.set(upstream.fence.key, "another-process")
    before = calls("get_transcript")
    await redis_client.hset(bucket, "tokens", 1)

    async with asyncio.timeout(GUARD):
        await task
    assert upstream.lease_lost
    assert calls("get_transcript") == before
