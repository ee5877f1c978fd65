"""Whether a ChatBridge process is alive, as other processes see it through Redis.

A chat's lease says which process holds its Connect websocket, not whether that process still
runs: waiting for the lease to lapse is what made a takeover take the lease's TTL. So each
process also shows itself alive in two ways, and another process judges a lease holder dead as
soon as either is missing:

- presence: a subscription of its own to the channel ``<p>:process:<owner>``, on a Redis
  connection kept open for it. Redis drops a subscription the moment its connection closes,
  and the kernel closes a process's sockets when it dies (kill -9 and crashes included), so
  ``PUBSUB NUMSUB`` tells within milliseconds that a process on a living host is gone;
- a heartbeat: the key ``<p>:process:<owner>``, set with a short TTL (CHATBRIDGE_PROCESS_TTL)
  and renewed every third of it, for what presence cannot see: a host that vanished without
  closing its sockets, or a process stalled so long that it serves nobody.

A process that was itself cut off from Redis (its heartbeat had lapsed, its own presence is
missing, or its subscription had to be made again) judges nobody for one TTL: every process
may have lost Redis with it (a restart, a failover), and each needs that time to show itself
again before its chats are taken from it.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

import redis.asyncio as aioredis

from chatbridge.redis import RedisKeys

logger = logging.getLogger(__name__)

# Seconds between attempts to subscribe again after the presence connection failed.
RESUBSCRIBE_DELAY = 0.5


class Liveness:
    """This process's heartbeat and presence, and the judge of other processes'."""

    def __init__(self, redis: aioredis.Redis, *, keys: RedisKeys, owner: str, ttl: float) -> None:
        self._redis = redis
        self._keys = keys
        self.owner = owner
        self.ttl = ttl
        self._ttl_ms = max(int(ttl * 1000), 1)
        self._task: asyncio.Task | None = None
        self._beaten = False
        self._judge_after = 0.0
        self.on_released: Callable[[], None] | None = None

    def key(self, owner: str) -> str:
        return self._keys.process(owner)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._live(), name="process-liveness")

    async def stop(self) -> None:
        """Shows this process gone at once (a shutdown): others need not wait for the TTL."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self._redis.delete(self.key(self.owner))

    async def announce_released(self) -> None:
        """Tells the other processes' supervisors that chats were released: they scan now."""
        await self._redis.publish(self._keys.released, self.owner)

    async def beat(self) -> None:
        """Renews the heartbeat; notes a lapse (then it judges nobody for a TTL)."""
        previous = await self._redis.set(self.key(self.owner), b"1", px=self._ttl_ms, get=True)
        if previous is None and self._beaten:
            logger.warning("this process's heartbeat had lapsed owner=%s", self.owner)
            self._judge_after = time.monotonic() + self.ttl
        self._beaten = True

    @property
    def judging(self) -> bool:
        return time.monotonic() >= self._judge_after

    async def alive(self, owners: Iterable[str]) -> set[str]:
        """Those of `owners` that show both a heartbeat and a presence (this one always)."""
        return (await self._look(owners))[0]

    async def dead(self, owners: Iterable[str]) -> set[str]:
        """Those of `owners` to take chats from: none while this process may not judge."""
        owners = set(owners)
        if not self.judging:
            return set()
        alive, present_here = await self._look(owners)
        if not present_here:
            self._judge_after = time.monotonic() + self.ttl
            return set()
        return owners - alive

    async def _look(self, owners: Iterable[str]) -> tuple[set[str], bool]:
        """The owners alive, and whether this process's own presence shows."""
        others = sorted({owner for owner in owners if owner != self.owner})
        async with self._redis.pipeline(transaction=False) as pipe:
            for owner in others:
                pipe.exists(self.key(owner))
            pipe.pubsub_numsub(*(self.key(owner) for owner in [self.owner, *others]))
            *beating, present = await pipe.execute()
        subscribers = {_text(channel): count for channel, count in present}
        found = {self.owner}
        for owner, beats in zip(others, beating, strict=True):
            if beats and subscribers.get(self.key(owner), 0) > 0:
                found.add(owner)
        return found, subscribers.get(self.key(self.owner), 0) > 0

    async def _live(self) -> None:
        first = True
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.key(self.owner), self._keys.released)
                    if not first:
                        self._reconnected()
                    first = False
                    if pubsub.connection is not None:
                        # redis-py subscribes again by itself after a dropped connection.
                        pubsub.connection.register_connect_callback(self._reconnected)
                    await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("process presence lost; subscribing again", exc_info=True)
                await asyncio.sleep(RESUBSCRIBE_DELAY)

    def _reconnected(self, *_: object) -> None:
        self._judge_after = time.monotonic() + self.ttl

    async def _listen(self, pubsub: aioredis.client.PubSub) -> None:
        interval = self.ttl / 3
        next_beat = 0.0
        while True:
            now = time.monotonic()
            if now >= next_beat:
                try:
                    await self.beat()
                except Exception:
                    logger.exception("process heartbeat failed")
                next_beat = now + interval
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=max(next_beat - time.monotonic(), 0.01)
            )
            if (
                message is not None
                and _text(message["channel"]) == self._keys.released
                and _text(message["data"]) != self.owner
                and self.on_released is not None
            ):
                self.on_released()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
