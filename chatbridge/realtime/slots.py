"""Caps on live connections (websockets, SSE streams, long-polls) per chat and per client
address, counted across every process.

Each cap is a Redis sorted set of connection ids scored by when they expire, on Redis's own
clock (so processes need not agree on the time). A connection takes a slot by adding its id,
after pruning the expired members, only if the set holds fewer than the cap; it gives the
slot back by removing its id when it closes. While it lives, its process's keeper pushes the
expiry forward every third of the TTL. A process that dies refreshes nothing: its slots
expire after at most the TTL and the next acquire prunes them, so a slot never leaks.

A `Slot` is refreshed only while something holds it (the keeper keeps them weakly): a
stream dropped before it ever ran, with nobody left to release its slot, lets it expire.
"""

import asyncio
import contextlib
import logging
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

from chatbridge.addresses import address_digest
from chatbridge.errors import TooManyConnections
from chatbridge.realtime.detached import Detached
from chatbridge.redis import RedisKeys

logger = logging.getLogger(__name__)

T = TypeVar("T")

_NOW_MS = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
"""
# KEYS the sets; ARGV: member, ttl_ms, then the cap of KEYS[i] at ARGV[2 + i]. {1, 0, 0} when
# taken in every set; {0, i, ms until the earliest member of KEYS[i] expires} when KEYS[i] is
# full, and taken in none: one round trip for all the caps of a connection.
_ACQUIRE = (
    _NOW_MS
    + """
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if not redis.call('ZSCORE', key, ARGV[1])
     and redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return {0, i, tonumber(first[2]) - now}
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2])
end
return {1, 0, 0}
"""
)
# KEYS the sets; ARGV[1] ttl_ms, ARGV[1 + i] the member in KEYS[i]. Only members still there
# are refreshed: one released meanwhile stays released.
_REFRESH = (
    _NOW_MS
    + """
for i, key in ipairs(KEYS) do
  if redis.call('ZSCORE', key, ARGV[i + 1]) then
    redis.call('ZADD', key, now + tonumber(ARGV[1]), ARGV[i + 1])
    redis.call('PEXPIRE', key, ARGV[1])
  end
end
return #KEYS
"""
)


@dataclass(frozen=True, slots=True)
class Cap:
    """One sorted set and how many members it may hold; `what` names it for the client."""

    key: str
    limit: int
    what: str


class Slot:
    """One connection's membership in one or more caps' sets."""

    __slots__ = ("id", "keys", "__weakref__")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.id = uuid.uuid4().hex
        self.keys = keys


class ConnectionSlots:
    """This process's live connection slots: taking, giving back and keeping them fresh."""

    # Slots refreshed per script call, one uninterrupted step of the event loop: 500 held it
    # for 3 to 5 ms while live messages waited (chatbridge.realtime.abandonment.BATCH).
    BATCH = 100

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        keys: RedisKeys,
        ttl: float,
        per_chat: int,
        per_address: int,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.ttl_ms = max(int(ttl * 1000), 1)
        self.per_chat = per_chat
        self.per_address = per_address
        self._acquire = redis.register_script(_ACQUIRE)
        self._refresh = redis.register_script(_REFRESH)
        self._live: weakref.WeakSet[Slot] = weakref.WeakSet()
        self._keeper: asyncio.Task | None = None
        self._releasing = Detached(logger, "giving a connection slot back failed (it expires)")

    def caps(self, *, chat_id: str | None = None, address: str | None = None) -> list[Cap]:
        caps = []
        if address is not None:
            key = self._keys.address_connections(address_digest(address))
            caps.append(Cap(key, self.per_address, "from this address"))
        if chat_id is not None:
            caps.append(Cap(self._keys.chat_connections(chat_id), self.per_chat, "for this chat"))
        return caps

    async def acquire(self, *, chat_id: str | None = None, address: str | None = None) -> Slot:
        """A slot under the chat's cap and the address's cap (those given), or
        TooManyConnections naming the one that is full, and none taken."""
        caps = self.caps(chat_id=chat_id, address=address)
        slot = Slot(tuple(cap.key for cap in caps))
        taken = await self._acquire(keys=list(slot.keys), args=self._args(slot, caps))
        self._admit(slot, caps, taken)
        return slot

    async def acquire_reading(
        self,
        queue: Callable[[Pipeline], Callable[[Sequence[Any]], T]],
        *,
        chat_id: str | None = None,
        address: str | None = None,
    ) -> tuple[Slot, T]:
        """A slot as acquire() takes it, in one round trip with the reads that `queue` puts
        on the pipeline (a long-poll's read of the log), and their answer; nothing held when
        it raises TooManyConnections."""
        caps = self.caps(chat_id=chat_id, address=address)
        slot = Slot(tuple(cap.key for cap in caps))
        for attempt in range(2):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.evalsha(self._acquire.sha, len(caps), *slot.keys, *self._args(slot, caps))
                answer = queue(pipe)
                taken, *results = await pipe.execute(raise_on_error=False)
            if isinstance(taken, NoScriptError) and not attempt:
                # Redis lost its scripts (a restart, a failover): load it, then once more.
                await self._redis.script_load(_ACQUIRE)
                continue
            break
        for result in (taken, *results):
            if isinstance(result, Exception):
                raise result
        self._admit(slot, caps, taken)
        return slot, answer(results)

    def _args(self, slot: Slot, caps: list[Cap]) -> list[str | int]:
        return [slot.id, self.ttl_ms, *(cap.limit for cap in caps)]

    def _admit(self, slot: Slot, caps: list[Cap], taken: Sequence[Any]) -> None:
        """Keeps the slot fresh if the acquire script took it; TooManyConnections if not."""
        ok, full, wait_ms = taken
        if not int(ok):
            raise TooManyConnections(
                f"Too many live connections {caps[int(full) - 1].what}; close one and retry.",
                retry_after=max(int(wait_ms), 1000) / 1000,
            )
        self._live.add(slot)

    async def release(self, slot: Slot) -> None:
        """Gives the slot back at once (a second release does nothing)."""
        self._live.discard(slot)
        await self._remove(slot.id, slot.keys)

    def release_soon(self, slot: Slot) -> None:
        """Gives the slot back without its holder waiting for Redis's answer: a long-poll
        answers its client at once. The removal is sent on the event loop's next turn, ahead
        of anything the answer brings back from the client (its next long-poll); one that
        fails leaves the slot to expire, as a dead process's does."""
        self._live.discard(slot)
        self._releasing.start(self._remove(slot.id, slot.keys))

    @contextlib.asynccontextmanager
    async def holding(
        self, *, chat_id: str | None = None, address: str | None = None
    ) -> AsyncIterator[Slot]:
        """A slot for the duration of a block (a long-poll)."""
        slot = await self.acquire(chat_id=chat_id, address=address)
        try:
            yield slot
        finally:
            await self.release(slot)

    async def streaming(self, slot: Slot, stream: AsyncIterator[str]) -> AsyncIterator[str]:
        """The stream's items, giving the slot back when it ends or is closed (an SSE
        response). The slot stays held, and fresh, as long as this generator exists."""
        try:
            async for item in stream:
                yield item
        finally:
            await self.release(slot)

    async def _remove(self, member: str, keys: tuple[str, ...] | list[str]) -> None:
        if keys:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zrem(key, member)
                await pipe.execute()

    async def refresh(self) -> None:
        """Pushes the expiry of every slot still held here forward by the TTL."""
        pairs = [(key, slot.id) for slot in list(self._live) for key in slot.keys]
        for start in range(0, len(pairs), self.BATCH):
            batch = pairs[start : start + self.BATCH]
            await self._refresh(
                keys=[key for key, _ in batch], args=[self.ttl_ms, *(member for _, member in batch)]
            )

    def start(self) -> None:
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep())

    async def stop(self) -> None:
        await self._releasing.wait()
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                await self.refresh()
            except Exception:
                # The next pass tries again; a slot lapses only after a whole TTL of failures.
                logger.exception("refreshing connection slots failed")
