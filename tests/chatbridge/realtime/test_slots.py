"""Live-connection slots: capped per chat and per address across processes, given back on
close, and never leaked by a process that dies."""

import gc

import pytest

from chatbridge.errors import TooManyConnections
from chatbridge.realtime.slots import ConnectionSlots
from chatbridge.redis import RedisKeys

KEYS = RedisKeys("test")
TTL = 30.0


def slots_of(redis_client, *, per_chat: int = 2, per_address: int = 3) -> ConnectionSlots:
    """One process's slots: two of them on one Redis are two processes."""
    return ConnectionSlots(
        redis_client, keys=KEYS, ttl=TTL, per_chat=per_chat, per_address=per_address
    )


@pytest.fixture
def slots(redis_client) -> ConnectionSlots:
    return slots_of(redis_client)


async def now_ms(redis_client) -> int:
    seconds, micros = await redis_client.time()
    return seconds * 1000 + micros // 1000


async def test_a_chat_takes_its_cap_across_processes_and_not_one_more(redis_client):
    first, second = slots_of(redis_client), slots_of(redis_client)
    await first.acquire(chat_id="c1")
    await second.acquire(chat_id="c1")
    with pytest.raises(TooManyConnections) as refused:
        await first.acquire(chat_id="c1")
    assert "for this chat" in refused.value.message
    assert 1 <= refused.value.retry_after <= TTL
    await first.acquire(chat_id="c2")


async def test_an_address_takes_its_cap_whatever_the_chats(slots):
    for n in range(3):
        await slots.acquire(chat_id=f"c{n}", address="203.0.113.7")
    with pytest.raises(TooManyConnections) as refused:
        await slots.acquire(chat_id="c9", address="203.0.113.7")
    assert "from this address" in refused.value.message
    await slots.acquire(chat_id="c9", address="198.51.100.1")


async def test_a_connection_takes_its_place_under_both_caps_in_one_round_trip(redis_client, slots):
    await slots.acquire(chat_id="c0")  # the script is loaded
    before = (await redis_client.info("commandstats"))["cmdstat_evalsha"]["calls"]

    slot = await slots.acquire(chat_id="c1", address="203.0.113.7")

    after = (await redis_client.info("commandstats"))["cmdstat_evalsha"]["calls"]
    assert after - before == 1
    for cap in slots.caps(chat_id="c1", address="203.0.113.7"):
        assert await redis_client.zscore(cap.key, slot.id) is not None


async def test_a_slot_taken_with_reads_after_redis_lost_its_scripts(redis_client, slots):
    await redis_client.set("k", "v")
    await redis_client.script_flush()

    slot, value = await slots.acquire_reading(
        lambda pipe: (pipe.get("k"), lambda results: results[0])[1], chat_id="c1"
    )

    assert value == b"v"
    assert await redis_client.zscore(slots.caps(chat_id="c1")[0].key, slot.id) is not None


async def test_a_refused_slot_takes_nothing_under_the_other_cap(redis_client, slots):
    await slots.acquire(chat_id="c1")
    await slots.acquire(chat_id="c1")
    with pytest.raises(TooManyConnections):
        await slots.acquire(chat_id="c1", address="203.0.113.7")
    assert await redis_client.zcard(slots.caps(address="203.0.113.7")[0].key) == 0


async def test_a_released_slot_is_free_at_once(slots):
    held = await slots.acquire(chat_id="c1")
    await slots.acquire(chat_id="c1")
    await slots.release(held)
    await slots.acquire(chat_id="c1")


async def test_the_slots_of_a_dead_process_expire_instead_of_leaking(redis_client, slots):
    """A process that died refreshed nothing: its members are past their expiry."""
    key = slots.caps(chat_id="c1")[0].key
    await redis_client.zadd(key, {"dead-1": 1, "dead-2": await now_ms(redis_client) - 1})
    await slots.acquire(chat_id="c1")
    assert await redis_client.zscore(key, "dead-1") is None


async def test_a_held_slot_is_refreshed_past_its_ttl(redis_client, slots):
    held = await slots.acquire(chat_id="c1")
    key = held.keys[0]
    await redis_client.zadd(key, {held.id: await now_ms(redis_client) + 1_000})
    await slots.refresh()
    assert await redis_client.zscore(key, held.id) > await now_ms(redis_client) + 20_000
    assert await redis_client.pttl(key) > 20_000


async def test_refreshing_does_not_bring_back_a_released_slot(redis_client, slots):
    held = await slots.acquire(chat_id="c1")
    await redis_client.zrem(held.keys[0], held.id)
    await slots.refresh()
    assert await redis_client.zscore(held.keys[0], held.id) is None


async def test_a_slot_nobody_holds_any_more_is_left_to_expire(redis_client, slots):
    """A stream dropped before it ran cannot release its slot: it must not stay fresh."""
    held = await slots.acquire(chat_id="c1")
    key, member = held.keys[0], held.id
    expiry = await redis_client.zscore(key, member)
    del held
    gc.collect()
    await slots.refresh()
    assert await redis_client.zscore(key, member) == expiry


async def test_many_slots_are_refreshed_at_most_a_hundred_at_a_time(redis_client, slots):
    """A script call is one step of the event loop that nothing else interrupts."""
    held = [await slots.acquire(chat_id=f"c{n}") for n in range(250)]
    refresh, sizes = slots._refresh, []

    async def counted(*, keys, args):
        sizes.append(len(keys))
        return await refresh(keys=keys, args=args)

    slots._refresh = counted
    await slots.refresh()

    assert max(sizes) <= 100
    assert sum(sizes) == len(held)
