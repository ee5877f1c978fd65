"""The event log: one seq per event, each Connect item once, resume by seq."""

import pytest

from chatbridge.chats.events import ATTACHMENT, EVENT, MESSAGE, RECEIPT, ChatEvent
from chatbridge.realtime.eventlog import EventLog, Floor, LogRegressed
from chatbridge.realtime.leases import Fence, LeaseLost
from chatbridge.redis import RedisKeys
from tests.support.records import append


@pytest.fixture
def log(redis_client) -> EventLog:
    return EventLog(redis_client, prefix="test", ttl=600)


def event(item_id: str, kind: str = MESSAGE, second: int = 0) -> ChatEvent:
    return ChatEvent(
        id=item_id,
        type=kind,
        content_type="text/plain",
        content=item_id,
        participant_role="AGENT",
        participant_id="agent",
        display_name="Sam",
        absolute_time=f"2026-01-01T10:00:{second:02d}.000Z",
    )


async def test_events_get_consecutive_seqs(log):
    assert [await append(log, "c", event(f"i{n}", second=n)) for n in range(3)] == [1, 2, 3]


async def test_an_item_logged_twice_keeps_its_first_seq(log):
    await append(log, "c", event("a"))
    assert await append(log, "c", event("a")) is None
    assert [logged.event.id for logged in await log.read_after("c", 0)] == ["a"]


async def test_chats_have_their_own_sequences(log):
    await append(log, "one", event("a"))
    assert await append(log, "two", event("b")) == 1


async def test_read_after_returns_exactly_the_later_events(log):
    for n in range(5):
        await append(log, "c", event(f"i{n}", second=n))
    assert [logged.seq for logged in await log.read_after("c", 2)] == [3, 4, 5]
    assert [logged.seq for logged in await log.read_after("c", 2, limit=1)] == [3]
    assert await log.read_after("c", 5) == []


async def test_read_before_returns_the_earlier_events_in_order(log):
    for n in range(5):
        await append(log, "c", event(f"i{n}", second=n))
    assert [logged.seq for logged in await log.read_before("c", 4, limit=2)] == [2, 3]


async def test_the_cursor_follows_the_newest_transcript_item_from_connect(log):
    await append(log, "c", event("old", second=5))
    await append(log, "c", event("older", second=1))
    await append(log, "c", event("receipt", RECEIPT, second=9))
    cursor = await log.cursor("c")
    assert (cursor.last_seq, cursor.last_item_id) == (3, "old")


async def test_what_chatbridge_logs_itself_does_not_move_the_cursor(log):
    await append(log, "c", event("from-connect", EVENT, second=1))
    await append(log, "c", event("just-sent", second=9), from_connect=False)
    assert (await log.cursor("c")).last_item_id == "from-connect"


async def test_every_logged_event_is_queued_for_the_archive(log, redis_client):
    await append(log, "c", event("a"))
    await append(log, "c", event("a"))
    entries = await redis_client.xrange(RedisKeys("test").feed)
    assert [(fields[b"chat"], fields[b"seq"]) for _, fields in entries] == [(b"c", b"1")]


async def test_a_batch_is_logged_in_order_skipping_what_is_already_logged(log):
    await append(log, "c", event("a"))
    batch = [(item, item.to_json()) for item in (event("a"), event("b"), event("c", second=1))]
    seqs, _ = await log.append_many("c", batch)
    assert seqs == [None, 2, 3]
    assert [logged.event.id for logged in await log.read_after("c", 0)] == ["a", "b", "c"]


async def test_a_batch_moves_the_cursor_to_its_newest_transcript_item(log):
    batch = [(item, item.to_json()) for item in (event("a", second=2), event("b", second=1))]
    await log.append_many("c", batch)
    cursor = await log.cursor("c")
    assert (cursor.last_seq, cursor.last_item_id) == (2, "a")


async def test_receipts_may_name_the_logged_messages_and_attachments_only(log):
    for item_id, kind in (("m", MESSAGE), ("f", ATTACHMENT), ("e", EVENT), ("r", RECEIPT)):
        await append(log, "c", event(item_id, kind))
    named = {item_id: await log.has_message("c", item_id) for item_id in ("m", "f", "e", "r", "x")}
    assert named == {"m": True, "f": True, "e": False, "r": False, "x": False}


async def test_a_chats_message_ids_are_its_own(log):
    await append(log, "one", event("m"))
    assert not await log.has_message("two", "m")


async def test_the_message_ids_live_as_long_as_the_log(log, redis_client):
    await append(log, "c", event("m"))
    ttl = await redis_client.ttl(RedisKeys("test").chat("c", "messages"))
    assert 0 < ttl <= 600


async def test_an_append_fenced_by_a_lease_another_process_took_logs_nothing(log, redis_client):
    await redis_client.set("test:chat:c:lease", "the-new-holder")

    with pytest.raises(LeaseLost):
        await log.append_many(
            "c", [(event("a"), event("a").to_json())], fence=Fence("test:chat:c:lease", "stale")
        )

    assert await log.read_after("c", 0) == []


async def test_an_append_fenced_by_its_own_lease_is_logged(log, redis_client):
    await redis_client.set("test:chat:c:lease", "holder")

    seqs, _ = await log.append_many(
        "c", [(event("a"), event("a").to_json())], fence=Fence("test:chat:c:lease", "holder")
    )

    assert seqs == [1]


async def lose_last_entry(redis_client, item_id: str) -> None:
    """What a Redis failover does to a log whose last entry the replica never got."""
    keys = RedisKeys("test")
    seq = int(await redis_client.hget(keys.chat("c", "cursor"), "seq"))
    await redis_client.xdel(keys.chat("c", "events"), f"{seq}-0")
    await redis_client.srem(keys.chat("c", "ids"), item_id)
    await redis_client.hset(keys.chat("c", "cursor"), "seq", seq - 1)


async def logged_ids(log: EventLog) -> list[tuple[int, str]]:
    return [(logged.seq, logged.event.id) for logged in await log.read_after("c", 0)]


async def test_a_log_that_lost_entries_never_reissues_a_seq_this_process_saw(log, redis_client):
    await append(log, "c", event("a"))
    await append(log, "c", event("b"))
    await lose_last_entry(redis_client, "b")

    assert await append(log, "c", event("c")) == 3


async def test_a_strict_append_to_a_log_that_lost_entries_logs_nothing(log, redis_client):
    await append(log, "c", event("a"))
    await append(log, "c", event("b"))
    await lose_last_entry(redis_client, "b")

    with pytest.raises(LogRegressed):
        await log.append_many("c", [(event("c"), event("c").to_json())], floor=Floor.STRICT)

    assert await logged_ids(log) == [(1, "a")]


async def test_a_lifted_log_is_marked_for_repair_until_a_repair_logs(log, redis_client):
    await append(log, "c", event("a"))
    await append(log, "c", event("b"))
    await lose_last_entry(redis_client, "b")
    await log.append_many("c", [(event("sent"), event("sent").to_json())], from_connect=False)

    with pytest.raises(LogRegressed):
        await log.append_many("c", [(event("c"), event("c").to_json())], floor=Floor.STRICT)
    await log.append_many("c", [(event("b"), event("b").to_json())], floor=Floor.REPAIR)
    await log.append_many("c", [(event("c"), event("c").to_json())], floor=Floor.STRICT)

    assert await logged_ids(log) == [(1, "a"), (3, "sent"), (4, "b"), (5, "c")]


async def test_a_repair_logs_the_lost_items_again_after_the_seqs_clients_have(log, redis_client):
    await append(log, "c", event("a"))
    await append(log, "c", event("b"))
    await lose_last_entry(redis_client, "b")

    seqs, _ = await log.append_many(
        "c",
        [(event("b"), event("b").to_json()), (event("c"), event("c").to_json())],
        floor=Floor.REPAIR,
    )

    assert seqs == [3, 4]


async def test_another_processs_log_has_no_floor_but_what_it_read(log, redis_client):
    await append(log, "c", event("a"))
    await append(log, "c", event("b"))
    other = EventLog(redis_client, prefix="test", ttl=600)
    await other.read_after("c", 0)
    await lose_last_entry(redis_client, "b")

    assert other.floor("c") == 2
    assert await append(other, "c", event("c")) == 3
