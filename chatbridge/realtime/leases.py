"""Redis leases: which process holds a chat's Connect websocket.

A lease is a key set with NX and a TTL, renewed by its owner while it is alive. If the owner
dies, another process's supervisor takes the chat over: at once when the owner is seen dead
(chatbridge.realtime.liveness), at the latest when the key lapses. What the holder writes for
the chat (its event log, its upstream status) is fenced by the lease: it lands only while the
lease still names the holder.
"""

import os
import socket
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

_RENEW_MANY = """
local renewed = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    renewed[i] = redis.call('PEXPIRE', key, ARGV[2])
  else
    renewed[i] = 0
  end
end
return renewed
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# Takes a lease from a holder judged dead, unless it changed hands meanwhile.
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


class LeaseLost(Exception):
    """The chat's lease names another process: what this one held must stop, writing nothing."""


@dataclass(frozen=True, slots=True)
class Fence:
    """A lease as writes are fenced by it: they land only while `key` still holds `owner`."""

    key: str
    owner: str


def process_identity() -> str:
    """Names this process in lease values, for operators reading Redis."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """One chat's lease; a process holds one per upstream, so it is kept small."""

    __slots__ = ("_redis", "key", "owner", "ttl_ms")

    def __init__(self, redis: aioredis.Redis, key: str, owner: str, ttl_ms: int) -> None:
        self._redis = redis
        self.key = key
        self.owner = owner
        self.ttl_ms = ttl_ms

    async def acquire(self) -> bool:
        return bool(await self._redis.set(self.key, self.owner, nx=True, px=self.ttl_ms))

    @property
    def fence(self) -> Fence:
        return Fence(self.key, self.owner)

    async def take_over(self, dead_owner: str) -> bool:
        """Takes the lease from `dead_owner`, a process judged dead; False if it moved on."""
        take_over = self._redis.register_script(_TAKE_OVER)
        return bool(await take_over(keys=[self.key], args=[dead_owner, self.owner, self.ttl_ms]))

    async def holder(self) -> str | None:
        value = await self._redis.get(self.key)
        return value.decode() if value is not None else None

    async def release(self) -> None:
        release = self._redis.register_script(_RELEASE)
        await release(keys=[self.key], args=[self.owner])


class LeaseRenewer:
    """Renews many leases of one owner in one round trip per batch of keys."""

    BATCH = 500

    def __init__(self, redis: aioredis.Redis) -> None:
        self._script = redis.register_script(_RENEW_MANY)

    async def renew(self, leases: list[Lease], *, owner: str, ttl_ms: int) -> list[bool]:
        """Whether each lease is still held (and so renewed), in order."""
        renewed: list[bool] = []
        for start in range(0, len(leases), self.BATCH):
            keys = [lease.key for lease in leases[start : start + self.BATCH]]
            results = await self._script(keys=keys, args=[owner, ttl_ms])
            renewed.extend(bool(result) for result in results)
        return renewed
