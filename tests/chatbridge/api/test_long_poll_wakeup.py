"""A waiting long-poll's wake-up: the doorbell brings the events themselves."""

import asyncio
import uuid

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from chatbridge.chats.events import MESSAGE, ChatEvent
from chatbridge.realtime.eventlog import EventLog
from chatbridge.realtime.relay import Relay
from chatbridge.redis import get_redis
from tests.support.held_appends import HeldAppends
from tests.support.rest import contact_id, events_after, polling

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_stream_workers(settings):
    """The runtime runs no stream worker here: their drains read the feed (a stream) too, and
    these tests count the reads of a chat's log among all of Redis's stream reads."""
    settings.CHATBRIDGE_RUN_ARCHIVER = False
    settings.CHATBRIDGE_RUN_WEBHOOKS = False
    settings.CHATBRIDGE_RUN_MAILER = False


def agent_message(content: str) -> ChatEvent:
    return ChatEvent(
        id=str(uuid.uuid4()),
        type=MESSAGE,
        content_type="text/plain",
        content=content,
        participant_role="AGENT",
        participant_id="agent",
        display_name="Sam",
        absolute_time="2026-01-01T10:00:00.000Z",
    )


async def log_reads(redis_client) -> int:
    """How many times Redis has read a range of a stream (a chat's event log)."""
    stats = await redis_client.info("commandstats")
    return stats.get("cmdstat_xrange", {}).get("calls", 0)


async def agent_joined(api, chat, contact: str, emulator) -> int:
    """The seq of the agent's join, once logged: a poll after it waits for what comes next."""
    emulator.agent_join(contact)
    last = 0
    while True:
        page = await events_after(api, chat, last, wait=10)
        assert page["events"], "the long-poll timed out"
        last = page["events"][-1]["seq"]
        if any(e["event"]["participant_role"] == "AGENT" for e in page["events"]):
            return last


async def test_a_long_poll_woken_by_the_agent_reads_the_log_once(
    api, chat, runtime, emulator, redis_client
):
    contact = await contact_id(runtime, chat)
    last = await agent_joined(api, chat, contact, emulator)
    before = await log_reads(redis_client)
    poll = await polling(api, chat, redis_client, last)

    emulator.agent_message(contact, "wake up")

    page = await poll
    assert [e["event"]["content"] for e in page["events"]] == ["wake up"]
    assert page["last_seq"] == last + 1
    # Its one read before waiting; the doorbell's copy of the event needs none.
    assert await log_reads(redis_client) - before == 1


async def test_events_rung_together_are_answered_together(
    api, chat, runtime, emulator, redis_client
):
    last = await agent_joined(api, chat, await contact_id(runtime, chat), emulator)
    poll = await polling(api, chat, redis_client, last)

    await runtime.relay.publish_many(
        chat["chat_id"], [agent_message("one"), agent_message("two")], from_connect=False
    )

    page = await poll
    assert [e["event"]["content"] for e in page["events"]] == ["one", "two"]
    assert [e["seq"] for e in page["events"]] == [last + 1, last + 2]
    assert page["last_seq"] == last + 2


async def test_a_full_page_of_rung_events_says_more_are_waiting(
    api, chat, runtime, emulator, redis_client
):
    last = await agent_joined(api, chat, await contact_id(runtime, chat), emulator)
    poll = await polling(api, chat, redis_client, last, limit=1)

    await runtime.relay.publish_many(
        chat["chat_id"], [agent_message("one"), agent_message("two")], from_connect=False
    )

    page = await poll
    assert [e["event"]["content"] for e in page["events"]] == ["one"]
    assert page["last_seq"] == last + 2


async def test_a_long_poll_is_woken_by_what_another_process_logs(
    api, chat, runtime, emulator, redis_client
):
    redis, prefix = get_redis(), settings.CHATBRIDGE_REDIS_PREFIX
    elsewhere = Relay(
        EventLog(redis, prefix=prefix, ttl=3600), get_channel_layer(), redis, prefix=prefix
    )
    last = await agent_joined(api, chat, await contact_id(runtime, chat), emulator)
    poll = await polling(api, chat, redis_client, last)
    try:
        await elsewhere.publish(chat["chat_id"], agent_message("from afar"), from_connect=False)
        # Well before the poll's own 30 s are up, when it would read the log anyway.
        page = await asyncio.wait_for(poll, 15)
    finally:
        await elsewhere.close()
    assert [e["event"]["content"] for e in page["events"]] == ["from afar"]
    assert page["last_seq"] == last + 1


class SettledCalls:
    """The relay's settled, noting that a long-poll asked for it."""

    def __init__(self, settled) -> None:
        self._settled = settled
        self.asked = asyncio.Event()

    async def __call__(self, chat_id: str, timeout: float) -> None:
        self.asked.set()
        await self._settled(chat_id, timeout)


async def test_a_long_poll_takes_along_what_this_process_is_logging_for_the_chat(
    api, chat, runtime, emulator, redis_client, monkeypatch
):
    held = HeldAppends(runtime.log.append_many)
    held.hold_when(lambda events: any(event.content == "two" for event, _ in events))
    monkeypatch.setattr(runtime.log, "append_many", held)
    settled = SettledCalls(runtime.relay.settled)
    monkeypatch.setattr(runtime.relay, "settled", settled)
    last = await agent_joined(api, chat, await contact_id(runtime, chat), emulator)
    poll = await polling(api, chat, redis_client, last)
    behind = asyncio.create_task(
        runtime.relay.publish_many(chat["chat_id"], [agent_message("two")], from_connect=False)
    )

    await runtime.relay.publish_many(chat["chat_id"], [agent_message("one")], from_connect=False)
    asked = asyncio.create_task(settled.asked.wait())
    await asyncio.wait([poll, asked], return_when=asyncio.FIRST_COMPLETED)
    asked.cancel()
    held.release.set()

    page = await poll
    await behind
    assert [e["event"]["content"] for e in page["events"]] == ["one", "two"]
    assert page["last_seq"] == last + 2
