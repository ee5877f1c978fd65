"""A lock held longer than its lease, against a real Redis: renewed while held, released at
the end, and free for the next holder. Renewals are watched as Redis reports them
(keyspace notifications), not timed."""

import asyncio

import pytest
from redis.exceptions import LockError

from chatbridge.chats.kept_lock import KeptLock

GUARD = 30
LEASE = 0.3  # seconds: short, so that the lock would lapse within the test unless renewed


async def renewals(redis_client, name: str, count: int) -> None:
    """Returns once Redis has seen `count` renewals of the lock's lease."""
    await redis_client.config_set("notify-keyspace-events", "KA")
    async with redis_client.pubsub() as pubsub:
        await pubsub.subscribe(f"__keyspace@0__:{name}")
        seen = 0
        async with asyncio.timeout(GUARD):
            while seen < count:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                if message and message["data"] in (b"expire", b"pexpire"):
                    seen += 1


async def test_a_lock_held_beyond_its_lease_is_kept_and_released(redis_client):
    async with KeptLock(redis_client, "kept", ttl=LEASE, blocking_timeout=1):
        await renewals(redis_client, "kept", 3)  # about three leases' time
        assert await redis_client.exists("kept")
    assert not await redis_client.exists("kept")


async def test_a_second_holder_waits_for_the_first(redis_client):
    first = KeptLock(redis_client, "kept", ttl=LEASE, blocking_timeout=1)
    await first.__aenter__()
    await renewals(redis_client, "kept", 2)
    with pytest.raises(LockError):
        async with KeptLock(redis_client, "kept", ttl=LEASE, blocking_timeout=0.1):
            pass
    await first.__aexit__(None, None, None)
    async with KeptLock(redis_client, "kept", ttl=LEASE, blocking_timeout=1):
        assert await redis_client.exists("kept")
