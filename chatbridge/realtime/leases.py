"""Redis leases: which process holds a chat's Connect websocket.

A lease is a key set with NX and a TTL, renewed by its owner while it is alive. If the owner
dies, the key lapses and another process's supervisor may claim the chat.
"""

import os
import socket
import uuid

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
