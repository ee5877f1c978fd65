"""The archiver: drains the archive stream into the database, off the chat's hot path.

Any number of archivers share the stream through one Redis consumer group, so each entry is
archived by one of them. An entry is acknowledged only after its batch is committed; if an
archiver dies in between, its entries stay pending, and another archiver claims them once
they have been idle for `claim_idle_ms`. Writing is idempotent (see writer.py), so an entry
archived twice is harmless.

A malformed entry, or one the database refuses while it answers other queries, is logged
(without its content) and acknowledged: it must never hold up the stream behind it.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from redis.exceptions import ResponseError

from chatbridge.archive.writer import archive_entries
from chatbridge.chats.feed import Entry, MalformedEntry, parse_entry
from chatbridge.redis import RedisKeys

logger = logging.getLogger(__name__)

GROUP = "archiver"
Record = tuple[bytes | str | None, dict | None]


class Archiver:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str,
        consumer_name: str,
        batch_size: int = 200,
        claim_idle_ms: int = 60_000,
        block_ms: int = 1_000,
        forget_idle_consumers_ms: int = 3_600_000,
        linger: float = 0.0,
    ) -> None:
        self._redis = redis
        self._stream = RedisKeys(prefix).feed
        self._consumer = consumer_name
        self._batch_size = batch_size
        self._claim_idle_ms = claim_idle_ms
        self._block_ms = block_ms
        self._forget_idle_consumers_ms = forget_idle_consumers_ms
        self._linger = linger
        self._group_ready = False

    @property
    def stream(self) -> str:
        return self._stream

    async def run(self, stop: asyncio.Event) -> None:
        """Archives until `stop` is set; Redis or database outages are waited out.

        After a drain that did not fill a batch, it lingers before the next one, so that a
        busy process writes one transaction per `linger` seconds rather than one per event.
        """
        delay = 1.0
        next_cleanup = 0.0
        while not stop.is_set():
            try:
                handled = await self.drain_once(block_ms=self._block_ms)
                if 0 < handled < self._batch_size and self._linger > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self._linger)
                if time.monotonic() >= next_cleanup:
                    await self._forget_idle_consumers()
                    next_cleanup = time.monotonic() + 600
            except Exception:
                logger.exception("Archiving failed; retrying in %.0f s", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 30.0)
            else:
                delay = 1.0

    async def drain_once(self, block_ms: int = 0) -> int:
        """Archives what is there now: claimed, own pending, then new entries.

        With `block_ms` > 0, waits up to that long for a new entry if there is none.
        Returns the number of stream entries handled (archived or skipped).
        """
        await self._ensure_group()
        try:
            return await self._drain(block_ms)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # The stream or its group was deleted (e.g. Redis lost its data): start again.
            logger.warning("The archive's consumer group is gone; creating it again")
            self._group_ready = False
            await self._ensure_group()
            return 0

    async def _drain(self, block_ms: int) -> int:
        handled = await self._claim_stale()
        handled += await self._drain_own_pending()
        block = block_ms if block_ms > 0 else None
        while True:
            records = await self._read(">", block)
            if not records:
                return handled
            handled += await self._handle(records)
            if len(records) < self._batch_size:
                return handled
            block = None

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            # From the stream's start: entries queued before the first archiver ran count too.
            await self._redis.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _claim_stale(self) -> int:
        """Takes over and archives entries that another (presumably dead) consumer left
        pending for longer than `claim_idle_ms`."""
        handled = 0
        start: bytes | str = "0-0"
        for _ in range(100):  # bounded: a huge backlog is claimed over several drains
            answer = await self._redis.xautoclaim(
                self._stream,
                GROUP,
                self._consumer,
                min_idle_time=self._claim_idle_ms,
                start_id=start,
                count=self._batch_size,
            )
            start, claimed = answer[0], answer[1]
            # Redis 6.2 reports claimed entries that were trimmed meanwhile as (None, None);
            # they are pending here now and `_drain_own_pending` acknowledges them.
            records = [(entry_id, fields) for entry_id, fields in claimed if entry_id]
            if records:
                handled += await self._handle(records)
            if start in (b"0-0", "0-0"):
                return handled
        return handled

    async def _drain_own_pending(self) -> int:
        """Archives the entries delivered to this consumer but not acknowledged yet."""
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
            GROUP, self._consumer, {self._stream: start}, count=self._batch_size, block=block
        )
        return list(answer[0][1]) if answer else []

    async def _handle(self, records: Sequence[Record]) -> int:
        entries: list[Entry] = []
        ids = []
        for entry_id, fields in records:
            ids.append(entry_id)
            try:
                entries.append(parse_entry(entry_id, fields))
            except MalformedEntry as exc:
                logger.warning("Skipping archive entry %s: %s", _text(entry_id), exc)
        if entries:
            rejected = await sync_to_async(archive_entries, thread_sensitive=True)(entries)
            for entry in rejected:
                logger.error(
                    "The database refused archive entry %s of chat %s; skipping it",
                    entry.entry_id,
                    entry.chat_id,
                )
        await self._redis.xack(self._stream, GROUP, *ids)
        return len(records)

    async def _forget_idle_consumers(self) -> None:
        """Removes consumers of restarted archivers (nothing pending, long idle) from the group."""
        for consumer in await self._redis.xinfo_consumers(self._stream, GROUP):
            name = consumer["name"]
            if (
                consumer["pending"] == 0
                and consumer["idle"] > self._forget_idle_consumers_ms
                and _text(name) != self._consumer
            ):
                await self._redis.xgroup_delconsumer(self._stream, GROUP, name)


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
