"""A stream worker that retries on its own schedule: the records waiting for another attempt
(a webhook delivery, a transcript e-mail) lie in a Redis sorted set scored by when they are
due. Each due record is claimed by one process, and the feed is read no longer than until the
next one is due."""

import time
from abc import abstractmethod

from chatbridge.streams.records import JsonRecord
from chatbridge.streams.worker import StreamWorker


class RetryingWorker(StreamWorker):
    """A StreamWorker whose subclass sets `_retries` (the sorted set's key) and says how to
    attempt the due records again (`retry`)."""

    _retries: str

    async def drain_once(self, block_ms: int = 0) -> int:
        """Handles the feed's entries (see StreamWorker), then the retries that are due."""
        return await super().drain_once(block_ms) + await self.retry_due()

    async def _block_for(self) -> int:
        """Waits for new entries no longer than until the next retry is due."""
        due = await self._redis.zrange(self._retries, 0, 0, withscores=True)
        if not due:
            return self._block_ms
        wait_ms = int((due[0][1] - time.time()) * 1000)
        return max(1, min(self._block_ms, wait_ms)) if wait_ms > 0 else 1

    async def retry_due(self) -> int:
        """Attempts the retries whose time has come; each is claimed by one process."""
        due = await self._redis.zrangebyscore(
            self._retries, "-inf", time.time(), start=0, num=self._batch_size
        )
        mine = [raw for raw in due if await self._redis.zrem(self._retries, raw)]
        await self.retry(mine)
        return len(mine)

    async def retry_later(self, record: JsonRecord, delay: float) -> None:
        """Schedules `record` for another attempt in `delay` seconds."""
        await self._redis.zadd(self._retries, {record.to_json(): time.time() + delay})

    @abstractmethod
    async def retry(self, records: list[bytes]) -> None:
        """Attempts the claimed records (as stored) again."""
