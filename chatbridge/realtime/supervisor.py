"""Keeps exactly one upstream per active chat across all ChatBridge processes.

Each process runs one Supervisor. A chat's upstream runs in the process that holds the chat's
lease; the supervisor renews all the leases it holds together, with one Redis call, while
their upstreams live, and stops an upstream whose lease was lost. Every scan, it claims active
chats whose lease has lapsed (their process died) and opens their upstream, which fills the
gap from the last logged item.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable

import redis.asyncio as aioredis

from chatbridge.chats.store import SessionStore
from chatbridge.logcontext import bind_chat
from chatbridge.metrics import ACTIVE_CHATS, LEASE_TAKEOVERS, LEASES_LOST
from chatbridge.realtime.leases import Lease, LeaseRenewer
from chatbridge.realtime.upstream import Upstream
from chatbridge.redis import RedisKeys

logger = logging.getLogger(__name__)


class Supervisor:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        store: SessionStore,
        make_upstream: Callable[[str], Upstream],
        owner: str,
        prefix: str,
        lease_ttl: float,
        scan_interval: float,
    ) -> None:
        self._redis = redis
        self._store = store
        self._make_upstream = make_upstream
        self.owner = owner
        self._keys = RedisKeys(prefix)
        self._lease_ttl_ms = int(lease_ttl * 1000)
        self._scan_interval = scan_interval
        self._tasks: dict[str, asyncio.Task] = {}
        self._leases: dict[str, Lease] = {}
        self._renewer = LeaseRenewer(redis)
        self._scanner: asyncio.Task | None = None
        self._renewing: asyncio.Task | None = None

    def lease(self, chat_id: str) -> Lease:
        return Lease(self._redis, self._keys.chat(chat_id, "lease"), self.owner, self._lease_ttl_ms)

    def start(self) -> None:
        if self._scanner is None:
            self._scanner = asyncio.create_task(self._scan_forever(), name="supervisor-scan")
        if self._renewing is None:
            self._renewing = asyncio.create_task(self._renew_forever(), name="supervisor-renew")

    async def stop(self) -> None:
        tasks = [task for task in (self._scanner, self._renewing, *self._tasks.values()) if task]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._scanner = None
        self._renewing = None

    def holds(self, chat_id: str) -> bool:
        return chat_id in self._tasks

    async def ensure(self, chat_id: str) -> bool:
        """Opens the chat's upstream here, unless some process already holds it; whether
        this call opened it."""
        if chat_id in self._tasks:
            return False
        lease = self.lease(chat_id)
        if not await lease.acquire():
            return False
        if chat_id in self._tasks:  # claimed by a concurrent ensure() of this process
            await lease.release()
            return False
        upstream = self._make_upstream(chat_id)
        self._leases[chat_id] = lease
        self._tasks[chat_id] = asyncio.create_task(
            self._hold(chat_id, lease, upstream), name=f"upstream-{chat_id}"
        )
        return True

    async def scan(self) -> None:
        active = await self._store.active_chat_ids()
        ACTIVE_CHATS.set(len(active))
        for chat_id in active:
            if chat_id in self._tasks or await self._redis.exists(self.lease(chat_id).key):
                continue
            if await self.ensure(chat_id):
                LEASE_TAKEOVERS.inc()

    async def _scan_forever(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception:
                logger.exception("supervisor scan failed")
            await asyncio.sleep(self._scan_interval)

    async def renew(self) -> None:
        """Renews every lease held here; stops the upstreams whose lease was lost."""
        held = list(self._leases.items())
        renewed = await self._renewer.renew(
            [lease for _, lease in held], owner=self.owner, ttl_ms=self._lease_ttl_ms
        )
        for (chat_id, _), kept in zip(held, renewed, strict=True):
            task = self._tasks.get(chat_id)
            if not kept and task is not None and self._leases.get(chat_id) is not None:
                logger.warning("lease lost chat_id=%s", chat_id)
                LEASES_LOST.inc()
                task.cancel()

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease_ttl_ms / 3000)
            try:
                await self.renew()
            except Exception:
                logger.exception("lease renewal failed")

    async def _hold(self, chat_id: str, lease: Lease, upstream: Upstream) -> None:
        bind_chat(chat_id)  # a task of its own: every log line of the upstream names its chat
        try:
            await upstream.run()
        except Exception:
            logger.exception("upstream failed chat_id=%s", chat_id)
        finally:
            self._tasks.pop(chat_id, None)
            self._leases.pop(chat_id, None)
            with contextlib.suppress(Exception):
                await lease.release()
