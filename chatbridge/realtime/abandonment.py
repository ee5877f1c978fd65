"""Abandoned chats: a chat whose customer has had no live client for too long is ended.

A customer who closes the tab while waiting in the queue leaves a chat that an agent would
pick up only to find nobody there. So every scan of the supervisor hands the chats it holds
to `AbandonWatch.check`, which asks Redis, for each, whether the chat has a live connection
(chatbridge.realtime.slots: websockets, SSE streams and waiting long-polls, counted across
every process). A chat without one is noted as absent since now; one still absent
`after` seconds later is claimed, once, by whichever process checks first, and ended
(the `end` callback: Connect's disconnect as the customer, with the reason `abandoned`). A
client that comes back within the window clears the note, and the count starts over.

One Lua script per batch decides for all its chats at once, so a chat is claimed by one
process only: no two processes disconnect it. Slot expiries are on Redis's clock, as the
slots write them; the absence is timed by `clock` (the process's, which the tests drive), so
that a test never waits for the window to pass.
"""

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis

from chatbridge.metrics import CHATS_ABANDONED
from chatbridge.redis import RedisKeys

logger = logging.getLogger(__name__)

REASON = "abandoned"
# Chats decided per script call. Packing a chat's three keys costs the event loop about 6 µs,
# and a script call is one uninterrupted step: 300 chats held the loop for 2 to 5 ms at every
# scan, while live messages waited.
BATCH = 50
# How long a claim keeps other processes off a chat being ended.
CLAIM_TTL_MS = 3_600_000

# KEYS: per chat, its connections' set, its "absent since" key and its claim key. ARGV: now
# (ms, the caller's clock), the window (ms), the absence note's TTL (ms), the claim's TTL (ms).
# Returns the 1-based positions of the chats this call claimed.
_CHECK = """
local t = redis.call('TIME')
local server_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now = tonumber(ARGV[1])
local after = tonumber(ARGV[2])
local claimed = {}
for i = 1, #KEYS, 3 do
  if redis.call('ZCOUNT', KEYS[i], '(' .. server_now, '+inf') > 0 then
    redis.call('DEL', KEYS[i + 1])
  else
    local since = redis.call('GET', KEYS[i + 1])
    if not since then
      redis.call('SET', KEYS[i + 1], now, 'PX', ARGV[3])
    elseif now - tonumber(since) >= after then
      if redis.call('SET', KEYS[i + 2], '1', 'NX', 'PX', ARGV[4]) then
        table.insert(claimed, (i + 2) / 3)
      end
    end
  end
end
return claimed
"""


class AbandonWatch:
    """Ends the chats whose customer stayed away `after` seconds (0 or less: never)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        keys: RedisKeys,
        after: float,
        end: Callable[[str], Awaitable[None]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.after_ms = int(after * 1000)
        self.end = end
        self.clock = clock
        self._check = redis.register_script(_CHECK)

    @property
    def enabled(self) -> bool:
        return self.after_ms > 0

    async def check(self, chat_ids: Sequence[str]) -> list[str]:
        """Notes who is absent among these chats and ends those absent too long; the chats
        this call ended."""
        if not self.enabled:
            return []
        ended = []
        for start in range(0, len(chat_ids), BATCH):
            batch = list(chat_ids[start : start + BATCH])
            for chat_id in await self._claim(batch):
                if await self._end_one(chat_id):
                    ended.append(chat_id)
        return ended

    async def _claim(self, chat_ids: list[str]) -> list[str]:
        keys = []
        for chat_id in chat_ids:
            keys += [
                self._keys.chat_connections(chat_id),
                self._keys.chat(chat_id, "absent-since"),
                self._keys.chat(chat_id, "abandon-claim"),
            ]
        note_ttl = self.after_ms * 2 + 60_000
        now_ms = int(self.clock() * 1000)
        positions = await self._check(
            keys=keys, args=[now_ms, self.after_ms, note_ttl, CLAIM_TTL_MS]
        )
        return [chat_ids[int(position) - 1] for position in positions]

    async def _end_one(self, chat_id: str) -> bool:
        try:
            await self.end(chat_id)
        except Exception:
            # Unclaimed again: the next scan retries (the absence note stays).
            logger.exception("ending abandoned chat_id=%s failed", chat_id)
            await self._redis.delete(self._keys.chat(chat_id, "abandon-claim"))
            return False
        logger.info("chat abandoned chat_id=%s", chat_id)
        CHATS_ABANDONED.inc()
        return True
