"""A Redis lock whose lease is short but renewed while its holder lives.

A lock with one fixed timeout must choose between outliving every wait of its holder (a
connection refresh may queue for Connect's budget for minutes in a storm of takeovers) and
lapsing soon after its holder dies. This one does both: its key expires `ttl` seconds after
the last renewal, and the holder renews it every third of that while it holds it.
"""

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis
from redis.exceptions import LockError, LockNotOwnedError

logger = logging.getLogger(__name__)


class KeptLock:
    """``async with KeptLock(redis, name, ttl=10, blocking_timeout=40):`` holds `name`
    for as long as the block runs; raises LockError if it cannot get it within
    `blocking_timeout` seconds."""

    def __init__(
        self,
        redis: aioredis.Redis,
        name: str,
        *,
        ttl: float,
        blocking_timeout: float,
        held_as: str | None = None,
    ) -> None:
        """`held_as`: the token under which this holder already set the key (a script that
        took the lock along with other work); entering then keeps and releases it."""
        self.ttl = ttl
        self._lock = redis.lock(name, timeout=ttl, blocking_timeout=blocking_timeout)
        self._held_as = held_as
        self._keeper: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "KeptLock":
        if self._held_as is not None:
            self._lock.local.token = self._held_as.encode()
        elif not await self._lock.acquire():
            raise LockError("Unable to acquire lock within the time specified")
        self._keeper = asyncio.create_task(self._keep())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, LockError):
                await self._keeper
        try:
            await self._lock.release()
        except LockNotOwnedError:
            # Renewals failed (Redis unreachable for a whole lease): what the block did is
            # done, and another holder may have come since; nothing is left to release.
            logger.warning("lock lapsed while held: %s", self._lock.name)

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            await self._lock.reacquire()
