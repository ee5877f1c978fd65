"""Waiting for a Redis key to reach a state, woken by Redis's keyspace notifications: every
write to the key is an event, so nothing polls and no moment can be missed."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import redis.asyncio as aioredis

# Failure guard only: the state is normally reached within milliseconds.
GUARD = 30.0


async def until_key(
    redis: aioredis.Redis,
    key: str | bytes,
    reached: Callable[[], Awaitable[bool]],
    *,
    guard: float = GUARD,
) -> None:
    """Returns once `reached()` holds, checking it now and after every change to `key`."""
    await redis.config_set("notify-keyspace-events", "KA")
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    name = key.decode() if isinstance(key, bytes) else key
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(f"__keyspace@{db}__:{name}")
        async with asyncio.timeout(guard):
            # Subscribed before the first look: a change after it is a message.
            while not await reached():
                await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)


async def until_members(redis: aioredis.Redis, key: str | bytes, count: int) -> None:
    """Returns once the sorted set at `key` (a channel layer group) has `count` members."""

    async def reached() -> bool:
        return await redis.zcard(key) == count

    await until_key(redis, key, reached)


@contextlib.asynccontextmanager
async def key_events(
    redis: aioredis.Redis, key: str | bytes
) -> AsyncIterator[Callable[[], Awaitable[list[str]]]]:
    """The keyspace events of `key` from now on ("set", "del", ...): the function answers
    those of every command Redis ran before it was called (a PING on the subscription marks
    where they end), so nothing is waited for by time."""
    await redis.config_set("notify-keyspace-events", "KA")
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    name = key.decode() if isinstance(key, bytes) else key
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(f"__keyspace@{db}__:{name}")
        events: list[str] = []

        async def so_far() -> list[str]:
            await pubsub.ping("mark")
            async with asyncio.timeout(GUARD):
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    if message["type"] == "pong" and message["data"] == b"mark":
                        return list(events)
                    if message["type"] == "message":
                        events.append(message["data"].decode())

        yield so_far
