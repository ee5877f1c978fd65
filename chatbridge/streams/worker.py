"""The stream worker: one Redis consumer group on the feed, the base of every feed follower.

Any number of processes run the same worker; its group hands each feed entry to one of them.
An entry is acknowledged only after it was handled. If a process dies in between, its entries
stay pending: a process that comes back under the same name (host and pid, see
`stable_consumer_name`) handles them first, and any other worker claims them once they have
been idle for `claim_idle_ms`. Handling must therefore bear repeats.

A process that never comes back would stay listed in the group for good, so each worker
removes the consumers that have had nothing pending for longer than `forget_idle_consumers_ms`.

A malformed entry is logged (without its content) and acknowledged: it must never hold up the
stream behind it.

After a drain a worker reports its group's backlog (entries pending and, on Redis 7, not yet
delivered) to chatbridge.metrics, read where the worker is anyway rather than by the scrape,
which then never waits for Redis; at most once per `report_interval`, as no scrape looks more
often.

A drain's own cost is what a busy process pays per read of the feed, and a worker that does not
linger reads it for each entry: so a drain reads only what may be there. Entries of another
consumer can be claimed only once idle for `claim_idle_ms`, and are looked for every tenth of
that; this consumer's own pending entries, only after a drain that did not end cleanly (or
before the first), as a clean drain acknowledges all it read.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from chatbridge.chats.feed import Entry, MalformedEntry, parse_entry
from chatbridge.metrics import FEED_LAG, FEED_LAG_SECONDS, FEED_PENDING
from chatbridge.redis import RedisKeys

logger = logging.getLogger(__name__)

Record = tuple[bytes | str | None, dict | None]

# Pages of stale entries claimed per drain: a huge backlog is taken over in several drains, so
# that one drain stays short.
CLAIM_PAGES = 100
# Seconds between two looks for consumers to forget: the listing costs a round trip.
FORGET_INTERVAL = 600.0
# Seconds between two reports of the backlog by default: no scrape looks more often.
REPORT_INTERVAL = 1.0
# The part of `claim_idle_ms` between two looks for stale entries of other consumers.
CLAIM_LOOKS_PER_IDLE = 10


def stable_consumer_name() -> str:
    """This process's consumer name in every group.

    Nothing random in it: a container restarted with the same host name and pid takes up the
    entries it left pending at once, and building the workers again in one process (a test's
    event loop, a reloaded runtime) leaves no orphaned consumer behind.
    """
    return f"{socket.gethostname()}:{os.getpid()}"


class StreamWorker(ABC):
    """Reads the feed through its consumer group; a subclass says how to handle the entries."""

    group: ClassVar[str]
    # Where a new group starts: "0" for everything the feed still holds, "$" for what follows.
    start_id: ClassVar[str]

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str,
        consumer_name: str | None = None,
        batch_size: int = 100,
        block_ms: int = 1_000,
        claim_idle_ms: int = 60_000,
        forget_idle_consumers_ms: int = 3_600_000,
        linger: float = 0.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        report_interval: float = REPORT_INTERVAL,
    ) -> None:
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._stream = self._keys.feed
        self._consumer = consumer_name or stable_consumer_name()
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._forget_idle_consumers_ms = forget_idle_consumers_ms
        self._linger = linger
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._report_interval = report_interval
        self._group_ready = False
        self._next_forget = 0.0
        self._next_report = 0.0
        self._next_claim = 0.0
        # Whether this consumer may have entries read but not acknowledged (see _drain).
        self._unsettled = True

    @property
    def consumer_name(self) -> str:
        return self._consumer

    @abstractmethod
    async def handle(self, entries: Sequence[Entry]) -> None:
        """Handles a batch of well-formed entries; they are acknowledged once it returns."""

    async def close(self) -> None:
        """Releases what the worker holds between drains, once `run` ends."""
        return None

    async def run(self, stop: asyncio.Event) -> None:
        """Works until `stop` is set; outages of Redis or the database are waited out.

        Failures back off exponentially, so that an outage costs a log line now and then
        rather than a busy loop. After a drain that did not fill a batch the worker lingers,
        so that a busy process reads the feed a few times a second rather than once per entry.
        """
        delay = self._backoff_initial
        try:
            while not stop.is_set():
                try:
                    handled = await self.drain_once(block_ms=await self._block_for())
                    if 0 < handled < self._batch_size and self._linger > 0:
                        await _wait(stop, self._linger)
                except Exception:
                    logger.exception("The %s worker failed; retrying in %.1f s", self.group, delay)
                    await _wait(stop, delay)
                    delay = min(delay * 2, self._backoff_max)
                else:
                    delay = self._backoff_initial
        finally:
            await self.close()

    async def drain_once(self, block_ms: int = 0) -> int:
        """Handles what is there now: stale entries of other consumers, its own pending ones,
        then new ones; now and then it forgets idle consumers.

        With `block_ms` > 0 and nothing else to do, waits up to that long for a new entry.
        Returns the number of feed entries handled (skipped ones included).
        """
        try:
            await self.ensure_group()
            handled = await self._drain(block_ms)
            if time.monotonic() >= self._next_report:
                await self.report_backlog()
                self._next_report = time.monotonic() + self._report_interval
            if time.monotonic() >= self._next_forget:
                await self._forget_idle_consumers()
                self._next_forget = time.monotonic() + FORGET_INTERVAL
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # The feed or its group was deleted (e.g. Redis lost its data): start again.
            logger.warning("The %s group is gone; creating it again", self.group)
            self._group_ready = False
            await self.ensure_group()
            return 0
        return handled

    async def report_backlog(self) -> None:
        """Sets the group's backlog gauges from what Redis says of it now."""
        for info in await self._redis.xinfo_groups(self._stream):
            if _text(info["name"]) != self.group:
                continue
            FEED_PENDING.labels(group=self.group).set(info["pending"])
            lag = info.get("lag")
            if lag is not None:
                FEED_LAG.labels(group=self.group).set(lag)
            # Redis 7 says when nothing is waiting; otherwise the oldest entry is looked up.
            age = 0.0 if lag == 0 else await self._undelivered_age(info["last-delivered-id"])
            FEED_LAG_SECONDS.labels(group=self.group).set(age)

    async def _undelivered_age(self, delivered: bytes | str) -> float:
        """Seconds since the oldest entry not yet delivered to the group was added (0 when
        there is none). An entry's id is the time Redis added it, so Redis's own clock gives
        the age: any Redis the feed runs on (`lag` in entries needs Redis 7, and says
        nothing once the feed is trimmed past the group), whatever the workers' clocks say."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xrange(self._stream, min=f"({_text(delivered)}", count=1)
            pipe.time()
            oldest, (seconds, micros) = await pipe.execute()
        if not oldest:
            return 0.0
        added_ms = int(_text(oldest[0][0]).split("-", 1)[0])
        return max(0.0, (seconds * 1000 + micros / 1000 - added_ms) / 1000)

    async def ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(
                self._stream, self.group, id=self.start_id, mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _block_for(self) -> int:
        """How long the next drain may wait for a new entry, in milliseconds."""
        return self._block_ms

    async def _drain(self, block_ms: int) -> int:
        """A drain that raises leaves this consumer unsettled: what it read may be pending
        here, unacknowledged (a handler failed, or a reply was lost with its connection)."""
        try:
            handled = 0
            if time.monotonic() >= self._next_claim:
                handled += await self._claim_stale()
                self._next_claim = (
                    time.monotonic() + self._claim_idle_ms / 1000 / CLAIM_LOOKS_PER_IDLE
                )
            if self._unsettled:
                handled += await self._drain_own_pending()
                self._unsettled = False
            block = block_ms if block_ms > 0 and not handled else None
            while True:
                records = await self._read(">", block)
                if not records:
                    return handled
                handled += await self._handle(records)
                if len(records) < self._batch_size:
                    return handled
                block = None
        except BaseException:
            self._unsettled = True
            raise

    async def _claim_stale(self) -> int:
        """Takes over the entries that another (presumably dead) consumer left pending for
        longer than `claim_idle_ms`."""
        handled = 0
        start: bytes | str = "0-0"
        for _ in range(CLAIM_PAGES):
            start, claimed, *_ = await self._redis.xautoclaim(
                self._stream,
                self.group,
                self._consumer,
                min_idle_time=self._claim_idle_ms,
                start_id=start,
                count=self._batch_size,
            )
            # Redis 6.2 reports claimed entries that were trimmed meanwhile as (None, None);
            # they are pending here now and `_drain_own_pending` acknowledges them.
            records = [(entry_id, fields) for entry_id, fields in claimed if entry_id]
            if len(records) < len(claimed):
                self._unsettled = True
            if records:
                handled += await self._handle(records)
            if start in (b"0-0", "0-0"):
                break
        return handled

    async def _drain_own_pending(self) -> int:
        """Handles the entries delivered to this consumer but not acknowledged yet."""
        handled = 0
        cursor: bytes | str = "0"
        while True:
            records = await self._read(cursor, None)
            if not records:
                return handled
            handled += await self._handle(records)
            cursor = records[-1][0]

    async def _read(self, start: bytes | str, block: int | None) -> list[Record]:
        answer = await self._redis.xreadgroup(
            self.group,
            self._consumer,
            {self._stream: start},
            count=self._batch_size,
            block=block,
        )
        return list(answer[0][1]) if answer else []

    async def _handle(self, records: Sequence[Record]) -> int:
        entries: list[Entry] = []
        for entry_id, fields in records:
            if not fields:
                continue  # trimmed from the feed since it was delivered: nothing left to do
            try:
                entries.append(parse_entry(entry_id, fields))
            except MalformedEntry as exc:
                logger.warning(
                    "The %s worker skips feed entry %s: %s", self.group, _text(entry_id), exc
                )
        if entries:
            await self.handle(entries)
        await self._redis.xack(self._stream, self.group, *[entry_id for entry_id, _ in records])
        return len(records)

    async def _forget_idle_consumers(self) -> None:
        """Removes the consumers of processes gone for good: nothing pending, long idle."""
        for consumer in await self._redis.xinfo_consumers(self._stream, self.group):
            name = consumer["name"]
            if (
                consumer["pending"] == 0
                and consumer["idle"] >= self._forget_idle_consumers_ms
                and _text(name) != self._consumer
            ):
                await self._redis.xgroup_delconsumer(self._stream, self.group, name)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Waits `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
