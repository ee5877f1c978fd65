"""The archiver drains the archive stream into the database, against a real Redis."""

import json
import logging
from datetime import timedelta

import pytest

from chatbridge.archive.models import Chat, ChatEvent
from chatbridge.chats.feed import publish_chat
from chatbridge.connect.types import ContentType
from chatbridge.redis import RedisKeys
from chatbridge.streams.archiver import GROUP, Archiver
from tests.support.records import (
    PREFIX,
    STARTED,
    append,
    connect_event,
    ended,
    message,
    session,
)

pytestmark = pytest.mark.django_db(transaction=True)

STREAM = RedisKeys(PREFIX).feed


async def archived(chat_id: str = "chat-1") -> list[ChatEvent]:
    return [event async for event in ChatEvent.objects.filter(chat__chat_id=chat_id)]


async def chat_row(chat_id: str = "chat-1") -> Chat:
    return await Chat.objects.aget(chat_id=chat_id)


async def pending(redis_client) -> int:
    return (await redis_client.xpending(STREAM, GROUP))["pending"]


async def test_logged_events_land_in_the_database_in_order(log, archiver):
    await append(log, "chat-1", message("m1", "Hi", second=1))
    await append(log, "chat-1", connect_event("e1", ContentType.PARTICIPANT_JOINED, second=2))
    await append(log, "chat-1", message("m2", "Hello Ada", role="AGENT", name="Alice", second=3))

    assert await archiver.drain_once() == 3

    events = await archived()
    assert [(e.seq, e.item_id, e.type, e.content) for e in events] == [
        (1, "m1", "message", "Hi"),
        (2, "e1", "event", None),
        (3, "m2", "message", "Hello Ada"),
    ]
    assert events[0].absolute_time == STARTED + timedelta(seconds=1)
    assert events[2].participant_role == "AGENT"


async def test_replaying_the_same_entries_changes_nothing(log, archiver, redis_client):
    await publish_chat(redis_client, session(), feed=STREAM)
    for n in range(5):
        await append(log, "chat-1", message(f"m{n}", second=n))
    await archiver.drain_once()
    first = await chat_row()

    await redis_client.xgroup_setid(STREAM, GROUP, id="0")
    assert await archiver.drain_once() == 6

    again = await chat_row()
    assert await ChatEvent.objects.acount() == 5
    assert await Chat.objects.acount() == 1
    for field in ("contact_id", "status", "message_count", "last_event_at", "started_at"):
        assert getattr(again, field) == getattr(first, field)


async def test_metadata_before_events_fills_the_chat(log, archiver, redis_client):
    await publish_chat(redis_client, session(), feed=STREAM)
    await append(log, "chat-1", message("m1", second=1))

    await archiver.drain_once()

    chat = await chat_row()
    assert (chat.contact_id, chat.display_name, chat.widget_id) == (
        "contact-of-chat-1",
        "Ada",
        "support",
    )
    assert chat.started_at == STARTED
    assert chat.message_count == 1


async def test_events_before_metadata_get_a_stub_chat_that_metadata_fills(
    log, archiver, redis_client
):
    await append(log, "chat-1", message("m1", second=1))
    await archiver.drain_once()
    stub = await chat_row()
    assert stub.contact_id == ""
    assert stub.message_count == 1

    await publish_chat(redis_client, session(), feed=STREAM)
    await archiver.drain_once()

    chat = await chat_row()
    assert chat.pk == stub.pk
    assert chat.contact_id == "contact-of-chat-1"
    assert chat.started_at == STARTED
    assert chat.message_count == 1


async def test_a_malformed_entry_is_skipped_and_acknowledged(log, archiver, redis_client):
    await redis_client.xadd(STREAM, {"chat": "chat-1", "seq": "1", "e": "{not json"})
    await redis_client.xadd(STREAM, {"something": "else"})
    await append(log, "chat-1", message("m1"))

    assert await archiver.drain_once() == 3

    assert [e.item_id for e in await archived()] == ["m1"]
    assert await pending(redis_client) == 0


async def test_a_malformed_entry_is_logged_without_its_content(archiver, redis_client, caplog):
    secret = "card number 4111 1111 1111 1111"
    await redis_client.xadd(
        STREAM, {"chat": "chat-1", "seq": "1", "e": json.dumps({"id": "m1", "content": secret})}
    )

    with caplog.at_level(logging.WARNING, logger="chatbridge.archive"):
        await archiver.drain_once()

    assert "skips feed entry" in caplog.text
    assert "4111" not in caplog.text


async def test_entries_of_a_dead_consumer_are_claimed_by_another(log, redis_client):
    for n in range(3):
        await append(log, "chat-1", message(f"m{n}", second=n))
    await redis_client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    # A consumer reads the entries, then dies before archiving and acknowledging them.
    await redis_client.xreadgroup(GROUP, "dead", {STREAM: ">"}, count=10)
    live = Archiver(redis_client, prefix=PREFIX, consumer_name="live", claim_idle_ms=0)

    assert await live.drain_once() == 3

    assert [e.item_id for e in await archived()] == ["m0", "m1", "m2"]
    assert await pending(redis_client) == 0


async def test_claimed_entries_trimmed_meanwhile_are_acknowledged(log, redis_client):
    await append(log, "chat-1", message("m1"))
    await redis_client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await redis_client.xreadgroup(GROUP, "dead", {STREAM: ">"}, count=10)
    await redis_client.xtrim(STREAM, maxlen=0)
    live = Archiver(redis_client, prefix=PREFIX, consumer_name="live", claim_idle_ms=0)

    await live.drain_once()

    assert await pending(redis_client) == 0


async def test_entries_of_a_live_consumer_are_not_claimed_while_fresh(log, redis_client):
    await append(log, "chat-1", message("m1"))
    await redis_client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await redis_client.xreadgroup(GROUP, "busy", {STREAM: ">"}, count=10)
    other = Archiver(redis_client, prefix=PREFIX, consumer_name="other", claim_idle_ms=60_000)

    assert await other.drain_once() == 0

    assert await pending(redis_client) == 1


async def test_counts_messages_and_remembers_the_first_agent(log, archiver):
    await append(log, "chat-1", message("m1", second=1))
    await append(log, "chat-1", connect_event("e1", ContentType.PARTICIPANT_JOINED, second=2))
    await append(log, "chat-1", message("m2", role="AGENT", name="Alice", second=3))
    await append(log, "chat-1", connect_event("e2", ContentType.TRANSFER_SUCCEEDED, second=4))
    await append(log, "chat-1", message("m3", role="AGENT", name="Bob", second=5))
    await append(log, "chat-1", message("m4", second=6))

    await archiver.drain_once()

    chat = await chat_row()
    assert chat.message_count == 4
    assert chat.agent_name == "Alice"
    assert chat.last_event_at == STARTED + timedelta(seconds=6)


async def test_counts_add_up_across_batches(log, redis_client):
    small = Archiver(redis_client, prefix=PREFIX, consumer_name="small", batch_size=2)
    for n in range(5):
        await append(log, "chat-1", message(f"m{n}", second=n))

    assert await small.drain_once() == 5

    assert (await chat_row()).message_count == 5


async def test_ended_chat_metadata_ends_the_archived_chat(archiver, redis_client):
    chat = session()
    await publish_chat(redis_client, chat, feed=STREAM)
    await archiver.drain_once()
    await publish_chat(redis_client, ended(chat, "customer_left"), feed=STREAM)

    await archiver.drain_once()

    row = await chat_row()
    assert row.status == Chat.Status.ENDED
    assert row.ended_at == STARTED + timedelta(minutes=5)
    assert row.ended_reason == "customer_left"


async def test_late_start_metadata_does_not_reopen_an_ended_chat(archiver, redis_client):
    chat = session()
    await publish_chat(redis_client, ended(chat), feed=STREAM)
    await archiver.drain_once()
    await publish_chat(redis_client, chat, feed=STREAM)

    await archiver.drain_once()

    row = await chat_row()
    assert row.status == Chat.Status.ENDED
    assert row.ended_at == STARTED + timedelta(minutes=5)


async def test_a_chat_ended_event_ends_the_chat(log, archiver):
    await append(log, "chat-1", message("m1", second=1))
    await append(
        log, "chat-1", connect_event("e1", ContentType.CHAT_ENDED, role="SYSTEM", name="", second=9)
    )

    await archiver.drain_once()

    row = await chat_row()
    assert row.status == Chat.Status.ENDED
    assert row.ended_at == STARTED + timedelta(seconds=9)


async def test_queued_metadata_carries_no_connect_tokens(redis_client):
    await publish_chat(redis_client, session(), feed=STREAM)

    [(_, fields)] = await redis_client.xrange(STREAM)

    assert fields[b"chat"] == b"chat-1"
    meta = json.loads(fields[b"meta"])
    assert meta["status"] == "active"
    assert "secret" not in fields[b"meta"].decode()


async def test_a_deleted_group_is_recreated(log, archiver, redis_client):
    await append(log, "chat-1", message("m1"))
    await archiver.drain_once()
    await redis_client.delete(STREAM)
    await append(log, "chat-1", message("m2"))

    await archiver.drain_once()  # finds the group gone and creates it again
    await archiver.drain_once()

    assert [e.item_id for e in await archived()] == ["m1", "m2"]
