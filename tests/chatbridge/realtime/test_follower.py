"""Following a chat's log: catch up after a seq, then each doorbell by its seq, on real Redis."""

import asyncio
import json

import pytest

from chatbridge.chats.events import TYPING, ChatEvent
from chatbridge.connect.types import ContentType
from chatbridge.realtime.eventlog import EventLog
from chatbridge.realtime.follower import (
    CATCH_UP_BATCH,
    EventLogFollower,
    LogCursor,
    Ring,
    shows_typing,
)
from chatbridge.redis import RedisKeys
from tests.support.records import message

CHAT = "chat-1"


@pytest.fixture
def log(redis_client) -> EventLog:
    return EventLog(redis_client, prefix="test", ttl=600)


async def log_messages(log: EventLog, count: int) -> None:
    events = [message(f"m{n}", f"logged {n}") for n in range(1, count + 1)]
    await log.append_many(CHAT, [(event, event.to_json()) for event in events])


def doorbell(seq: int, content: str, item_id: str | None = None) -> dict:
    item_id = item_id or f"m{seq}"
    return {
        "type": "chat.event",
        "seq": seq,
        "id": item_id,
        "event": message(item_id, content).to_json(),
    }


class Follower(EventLogFollower):
    """A consumer that writes down what it sends: seq and content."""

    def __init__(self, *, failing_at: int | None = None) -> None:
        self.delivery = asyncio.Lock()
        self.sent: list[tuple[int, str]] = []
        self.failing_at = failing_at

    async def send_logged(self, seq: int, event_json: str, item_id: str | None) -> None:
        if seq == self.failing_at:
            raise ConnectionError("the client's socket failed")
        self.sent.append((seq, json.loads(event_json)["content"]))


def test_a_doorbell_means_duplicate_next_or_gap_by_its_seq(log):
    cursor = LogCursor(log, CHAT, last_seq=5)
    assert [cursor.ring(seq) for seq in (4, 5, 6, 7)] == [
        Ring.DUPLICATE,
        Ring.DUPLICATE,
        Ring.NEXT,
        Ring.GAP,
    ]


async def test_catching_up_sends_what_the_log_holds_after_the_seq(log):
    await log_messages(log, 3)
    follower = Follower()
    await follower.follow_log(LogCursor(log, CHAT, last_seq=1))
    assert follower.sent == [(2, "logged 2"), (3, "logged 3")]
    assert follower.cursor.last_seq == 3


async def test_duplicate_doorbells_are_dropped(log):
    await log_messages(log, 2)
    follower = Follower()
    await follower.follow_log(LogCursor(log, CHAT))
    await follower.chat_event(doorbell(1, "rung late"))
    await follower.chat_event(doorbell(2, "rung late"))
    assert follower.sent == [(1, "logged 1"), (2, "logged 2")]


async def test_the_next_event_is_sent_from_its_doorbell_without_reading_the_log(log):
    follower = Follower()
    await follower.follow_log(LogCursor(log, CHAT))
    # The log holds nothing: only the doorbell itself can have brought the event.
    await follower.chat_event(doorbell(1, "from the doorbell"))
    assert follower.sent == [(1, "from the doorbell")]
    assert follower.cursor.last_seq == 1


async def test_a_gap_is_filled_from_the_log(log):
    follower = Follower()
    await follower.follow_log(LogCursor(log, CHAT))
    await log_messages(log, 3)
    await follower.chat_event(doorbell(3, "from the doorbell"))
    assert follower.sent == [(1, "logged 1"), (2, "logged 2"), (3, "logged 3")]
    await follower.chat_event(doorbell(2, "rung late"))
    assert follower.cursor.last_seq == 3 and len(follower.sent) == 3


async def test_doorbells_before_following_are_dropped_and_the_first_catch_up_reads_them(log):
    follower = Follower()
    await log_messages(log, 1)
    await follower.chat_event(doorbell(1, "from the doorbell"))
    assert follower.sent == []
    await follower.follow_log(LogCursor(log, CHAT))
    assert follower.sent == [(1, "logged 1")]


async def test_a_sync_rewinds_the_cursor_and_sends_again(log):
    await log_messages(log, 3)
    follower = Follower()
    await follower.follow_log(LogCursor(log, CHAT))
    assert await follower.catch_up(rewind_to=1) == 3
    assert [seq for seq, _ in follower.sent] == [1, 2, 3, 2, 3]
    assert await follower.catch_up(rewind_to=7) == 3


async def test_an_item_logged_again_under_a_new_seq_is_not_sent_again(log):
    """What a Redis failover that lost the log's last entry leads to: the upstream logs the
    item again, from Connect's transcript, after the seqs clients already have."""
    await log_messages(log, 2)
    follower = Follower()
    await follower.follow_log(LogCursor(log, CHAT))

    await follower.chat_event(doorbell(3, "logged 2", item_id="m2"))
    await follower.chat_event(doorbell(4, "after"))

    assert follower.sent == [(1, "logged 1"), (2, "logged 2"), (4, "after")]


async def test_catching_up_skips_an_item_logged_again_under_a_new_seq(log, redis_client):
    await log_messages(log, 2)
    follower = Follower()
    await follower.follow_log(LogCursor(log, CHAT))
    again = message("m2", "logged 2")
    await redis_client.srem(RedisKeys("test").chat(CHAT, "ids"), "m2")
    await log.append_many(CHAT, [(again, again.to_json())])

    assert await follower.catch_up() == 3
    assert follower.sent == [(1, "logged 1"), (2, "logged 2")]


async def test_a_send_that_fails_leaves_the_cursor_before_its_event(log):
    await log_messages(log, 3)
    follower = Follower(failing_at=2)
    with pytest.raises(ConnectionError):
        await follower.follow_log(LogCursor(log, CHAT))
    assert follower.cursor.last_seq == 1
    follower.failing_at = None
    await follower.catch_up()
    assert [seq for seq, _ in follower.sent] == [1, 2, 3]


@pytest.mark.parametrize(
    "count", [CATCH_UP_BATCH, 2 * CATCH_UP_BATCH + 1], ids=["one-full-batch", "three-batches"]
)
async def test_catching_up_reads_batch_after_batch_to_the_end(log, count):
    await log_messages(log, count)
    cursor = LogCursor(log, CHAT)
    seqs = [logged.seq async for logged in cursor.catch_up()]
    assert seqs == list(range(1, count + 1))
    assert cursor.last_seq == count


async def test_a_limited_catch_up_stops_at_its_limit_and_resumes_from_there(log):
    await log_messages(log, 5)
    cursor = LogCursor(log, CHAT, last_seq=1)
    assert [logged.seq async for logged in cursor.catch_up(limit=3)] == [2, 3, 4]
    assert [logged.seq async for logged in cursor.catch_up(limit=3)] == [5]


def typing_of(participant_id: str) -> str:
    return ChatEvent(
        id="t1",
        type=TYPING,
        content_type=ContentType.TYPING,
        content=None,
        participant_role="CUSTOMER",
        participant_id=participant_id,
        display_name="Ada",
        absolute_time="2026-01-01T10:00:00.000Z",
    ).to_json()


def test_a_participant_is_shown_the_others_typing_not_their_own():
    assert shows_typing(typing_of("agent-1"), "customer-1")
    assert not shows_typing(typing_of("customer-1"), "customer-1")
    assert not shows_typing(typing_of("agent-1"), None)
