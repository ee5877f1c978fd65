"""Watching chats' Connect websockets change hands, from Redis, as the processes record it.

A chat's upstream status key holds "<state>|<holder>"; the holder is the owner string of a
ChatBridge process (host:pid:suffix). A chat is live again after its holder went away once the
status names a living process as connected. Waits are woken by Redis's keyspace notifications
on those keys, so nothing polls and no change is missed.
"""

import asyncio
import time
from collections.abc import Collection, Iterable

import redis.asyncio as aioredis

from chatbridge.realtime.relay import CONNECTED
from chatbridge.redis import RedisKeys

# Failure guard for chats to be live again.
GUARD = 30.0


def pid_of(owner: str) -> int:
    return int(owner.split(":")[1])


async def holders(redis: aioredis.Redis, keys: RedisKeys, chat_ids: Iterable[str]) -> list[str]:
    """Each chat's lease holder ("" for none)."""
    values = await redis.mget([keys.chat(chat_id, "lease") for chat_id in chat_ids])
    return [value.decode() if value else "" for value in values]


async def status_owner(redis: aioredis.Redis, keys: RedisKeys, chat_id: str) -> str | None:
    """The process the chat's status names as connected, or None if it names none."""
    value = await redis.get(keys.chat(chat_id, "upstream-status"))
    state, _, owner = (value or b"").decode().partition("|")
    return owner if state == CONNECTED and owner else None


async def live_again(
    redis: aioredis.Redis,
    keys: RedisKeys,
    chat_ids: Collection[str],
    gone: Collection[int],
    since: float,
    *,
    guard: float = GUARD,
) -> dict[str, float]:
    """Seconds from `since` (time.monotonic()) until each chat's status named as connected a
    process that is not among the `gone` pids. Read after subscribing, so a chat already live
    counts as live at the first look."""
    await redis.config_set("notify-keyspace-events", "KA")
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    waiting = list(chat_ids)
    status_keys = {keys.chat(chat_id, "upstream-status"): chat_id for chat_id in waiting}
    live: dict[str, float] = {}
    async with redis.pubsub() as pubsub:
        await pubsub.psubscribe(f"__keyspace@{db}__:{keys.chat('*', 'upstream-status')}")
        async with asyncio.timeout(guard):
            while True:
                values = await redis.mget(list(status_keys))
                now = time.monotonic()
                for key, value in zip(list(status_keys), values, strict=True):
                    state, _, owner = (value or b"").decode().partition("|")
                    if state == CONNECTED and owner and pid_of(owner) not in gone:
                        live[status_keys.pop(key)] = now - since
                if not status_keys:
                    return live
                await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)


async def until_process_alive(
    redis: aioredis.Redis, keys: RedisKeys, pid: int, *, guard: float = GUARD
) -> str:
    """The owner string of the process `pid` once its heartbeat is in Redis."""
    await redis.config_set("notify-keyspace-events", "KA")
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    pattern = keys.process("*")
    async with redis.pubsub() as pubsub:
        await pubsub.psubscribe(f"__keyspace@{db}__:{pattern}")
        async with asyncio.timeout(guard):
            while True:
                async for key in redis.scan_iter(match=pattern):
                    owner = key.decode().removeprefix(keys.process(""))
                    if owner.count(":") >= 2 and pid_of(owner) == pid:
                        return owner
                await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
