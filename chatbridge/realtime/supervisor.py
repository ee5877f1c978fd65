"""Keeps exactly one upstream per active chat across all ChatBridge processes.

Each process runs one Supervisor. A chat's upstream runs in the process that holds the chat's
lease; the supervisor renews all the leases it holds together, with one Redis call, while
their upstreams live, and stops an upstream whose lease was lost. Every scan, it claims active
chats whose lease has lapsed, and takes over those whose holder is dead, and opens their
upstream, which fills the gap from the last logged item.

How a dead holder is noticed: by its liveness (chatbridge.realtime.liveness), not by its
leases lapsing. Shortening the lease TTL instead would bound a takeover as well, but every
process would then renew every lease it holds several times a second, and a process stalled
for a moment (a long collection, a Redis failover's retries) would lose all its chats at once
to whichever process scanned first. A process's liveness is one key and one subscription,
whatever its number of chats; its subscription vanishes the moment the process dies, and its
heartbeat soon after its host does. So a takeover after a crash waits for the next scan
(CHATBRIDGE_SUPERVISOR_INTERVAL, 1 s), or after a vanished host for the heartbeat's TTL
(CHATBRIDGE_PROCESS_TTL, 3 s) too, while the lease keeps a TTL of its own
(CHATBRIDGE_LEASE_TTL) as the last resort. A scan reads the leases of every active chat in
batches of SCAN_BATCH keys, one MGET each, and the liveness of their holders in one round trip.

The single holder is kept by the lease, not by timing: a takeover replaces the lease only if
it still names the dead holder (one atomic script), and everything an upstream writes is
fenced by its lease (chatbridge.realtime.leases.Fence), so a holder judged dead that was only
stalled writes nothing once it resumes, and stops at its next renewal or write.

The same scan watches for abandoned chats (chatbridge.realtime.abandonment): each process
checks the chats it holds, so the work is spread like the upstreams, and a claim in Redis
keeps a chat from being ended twice when its lease moves meanwhile.

On shutdown (stop()) the supervisor releases its leases, tells the other processes, whose
supervisors scan at once instead of at their next interval, stops its upstreams and removes its
heartbeat.
"""

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable

import redis.asyncio as aioredis

from chatbridge.chats.records import UpstreamClaim
from chatbridge.chats.store import SessionStore
from chatbridge.logcontext import bind_chat
from chatbridge.metrics import ACTIVE_CHATS, LEASE_TAKEOVERS, LEASES_LOST
from chatbridge.realtime.abandonment import AbandonWatch
from chatbridge.realtime.leases import Fence, Lease, LeaseRenewer
from chatbridge.realtime.liveness import Liveness
from chatbridge.realtime.upstream import Upstream
from chatbridge.redis import RedisKeys

logger = logging.getLogger(__name__)

# Lease keys read per round trip by a scan.
SCAN_BATCH = 500


class Supervisor:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        store: SessionStore,
        make_upstream: Callable[[str, Fence], Upstream],
        owner: str,
        prefix: str,
        lease_ttl: float,
        scan_interval: float,
        liveness: Liveness | None = None,
        abandon: AbandonWatch | None = None,
        holds_upstreams: bool = True,
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
        # Chats whose lost lease renew() counted already, so that their upstream's own
        # discovery of the loss (a refused fenced write) is not counted again.
        self._lost: set[str] = set()
        self._renewer = LeaseRenewer(redis)
        self._scanner: asyncio.Task | None = None
        self._renewing: asyncio.Task | None = None
        self._liveness = liveness
        self.abandon = abandon
        # Off in a process that only starts chats: it claims none, the others do.
        self.holds_upstreams = holds_upstreams
        self._wake = asyncio.Event()

    def lease(self, chat_id: str) -> Lease:
        return Lease(self._redis, self._keys.chat(chat_id, "lease"), self.owner, self._lease_ttl_ms)

    def claim(self) -> UpstreamClaim | None:
        """For a chat about to be stored: its lease is claimed for this process as it is stored
        (chatbridge.chats.store), and its upstream opened here at once (hold_claimed). None in
        a process that holds no upstreams."""
        if not self.holds_upstreams:
            return None
        return UpstreamClaim(owner=self.owner, ttl_ms=self._lease_ttl_ms, hold=self.hold_claimed)

    def hold_claimed(self, chat_id: str) -> bool:
        """Opens the upstream of a chat whose lease this process claimed as it stored the chat,
        without asking Redis again; whether it opened it."""
        if chat_id in self._tasks:
            return False
        self._hold_upstream(chat_id, self.lease(chat_id))
        return True

    def start(self) -> None:
        if not self.holds_upstreams:
            return
        if self._liveness is not None:
            self._liveness.on_released = self.wake
            self._liveness.start()
        if self._scanner is None:
            self._scanner = asyncio.create_task(self._scan_forever(), name="supervisor-scan")
        if self._renewing is None:
            self._renewing = asyncio.create_task(self._renew_forever(), name="supervisor-renew")

    def wake(self) -> None:
        """Scans now rather than at the next interval (another process released chats)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stops every upstream here and releases their leases, then shows this process gone:
        the other processes take its chats over at once.

        The leases are released all together, and the other processes told, before the
        upstreams have closed their Connect websockets: each close waits for Connect's answer
        (up to the websocket's close timeout), and no other process could take the chat over
        meanwhile. What an upstream still tries to write after its release lands nowhere: its
        writes are fenced by its lease."""
        upstreams = list(self._tasks.values())
        leases = list(self._leases.values())
        background = [task for task in (self._scanner, self._renewing) if task]
        for task in (*background, *upstreams):
            task.cancel()
        await asyncio.gather(*(lease.release() for lease in leases), return_exceptions=True)
        if self._liveness is not None and leases:
            with contextlib.suppress(Exception):
                await self._liveness.announce_released()
        await asyncio.gather(*background, *upstreams, return_exceptions=True)
        self._scanner = None
        self._renewing = None
        if self._liveness is not None:
            await self._liveness.stop()

    def holds(self, chat_id: str) -> bool:
        return chat_id in self._tasks

    async def ensure(self, chat_id: str) -> bool:
        """Opens the chat's upstream here, unless some living process already holds it: a
        client that comes back after its process died brings the takeover with it. Whether
        this call opened it."""
        if chat_id in self._tasks or not self.holds_upstreams:
            return False
        lease = self.lease(chat_id)
        if not await lease.acquire():
            holder = await lease.holder()
            if (
                holder is not None
                and holder != self.owner
                and self._liveness is not None
                and await self._liveness.dead([holder])
            ):
                return await self.take_over(chat_id, holder)
            return False
        if chat_id in self._tasks:  # claimed by a concurrent ensure() of this process
            await lease.release()
            return False
        self._hold_upstream(chat_id, lease)
        return True

    async def take_over(self, chat_id: str, dead_owner: str) -> bool:
        """Opens the chat's upstream here in place of `dead_owner`'s, a process judged dead,
        unless the lease moved on meanwhile (another process took it first); whether it did."""
        if chat_id in self._tasks or not self.holds_upstreams:
            return False
        lease = self.lease(chat_id)
        if not await lease.take_over(dead_owner):
            return False
        if chat_id in self._tasks:
            await lease.release()
            return False
        logger.info("taking over chat_id=%s from dead owner=%s", chat_id, dead_owner)
        self._hold_upstream(chat_id, lease)
        return True

    def _hold_upstream(self, chat_id: str, lease: Lease) -> None:
        """Runs the chat's upstream in a context of its own, as the runtime's tasks run
        (chatbridge.runtime.get_runtime): it outlives the request that may have opened it (a
        chat start), whose Connect calls' context (its queue name and arrival, its address's
        windows) and log context it must neither carry nor keep alive."""
        upstream = self._make_upstream(chat_id, lease.fence)
        self._leases[chat_id] = lease
        self._tasks[chat_id] = asyncio.create_task(
            self._hold(chat_id, lease, upstream),
            name=f"upstream-{chat_id}",
            context=contextvars.Context(),
        )

    async def scan(self) -> None:
        """Claims the active chats without a lease, takes over those of dead holders, and ends
        the chats held here whose customer stayed away too long (AbandonWatch)."""
        active = await self._store.active_chat_ids()
        ACTIVE_CHATS.set(len(active))
        chat_ids = [c for c in active if c not in self._tasks]
        for start in range(0, len(chat_ids), SCAN_BATCH):
            batch = chat_ids[start : start + SCAN_BATCH]
            holders = await self._redis.mget([self.lease(chat_id).key for chat_id in batch])
            held: dict[str, str] = {}
            for chat_id, holder in zip(batch, holders, strict=True):
                if holder is None:
                    if await self.ensure(chat_id):
                        LEASE_TAKEOVERS.inc()
                elif holder.decode() != self.owner:
                    held[chat_id] = holder.decode()
            if not held or self._liveness is None:
                continue
            dead = await self._liveness.dead(held.values())
            for chat_id, holder in held.items():
                if holder in dead and await self.take_over(chat_id, holder):
                    LEASE_TAKEOVERS.inc()
        if self.abandon is not None:
            await self.abandon.check([chat_id for chat_id in active if chat_id in self._tasks])

    async def _scan_forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.scan()
            except Exception:
                logger.exception("supervisor scan failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._scan_interval):
                    await self._wake.wait()

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
                self._lost.add(chat_id)
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
            if upstream.lease_lost and chat_id not in self._lost:
                LEASES_LOST.inc()
            self._lost.discard(chat_id)
            self._tasks.pop(chat_id, None)
            self._leases.pop(chat_id, None)
            with contextlib.suppress(Exception):
                await lease.release()
