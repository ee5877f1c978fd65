"""Rate limits: a token bucket per connection (in memory) and windows per chat (in Redis).

A chat may be open in several tabs and processes, so its limits live in Redis; a single
connection's burst control needs no round trip. Both refuse with errors.RateLimited, whose
retry_after each entry point passes on (the websocket's error frame, REST's Retry-After).
Each limit has a `kind`, the label under which its refusals are counted
(chatbridge.metrics.RATE_LIMITED).
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from chatbridge.errors import RateLimited
from chatbridge.metrics import RATE_LIMITED
from chatbridge.redis import get_redis, keys


class TokenBucket:
    __slots__ = ("rate", "capacity", "kind", "_tokens", "_stamp")

    def __init__(self, rate: float, burst: int, *, kind: str = "other") -> None:
        self.rate = rate
        self.kind = kind
        self.capacity = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    @classmethod
    def per_minute(cls, count: int, *, kind: str = "other") -> "TokenBucket":
        """`count` at once, then one more every 60/`count` seconds (`count` is at least 1)."""
        count = max(count, 1)
        return cls(count / 60, count, kind=kind)

    def take(self) -> None:
        """Spends one token, or raises RateLimited saying when one will be back."""
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens < 1:
            RATE_LIMITED.labels(kind=self.kind).inc()
            raise RateLimited(retry_after=round((1 - self._tokens) / self.rate, 3))
        self._tokens -= 1


_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
"""


# Only within the window: a key that has lapsed is not brought back at -1 without a TTL.
_REFUND = """
local count = tonumber(redis.call('GET', KEYS[1]))
if count and count > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class RedisWindow:
    """At most `limit` hits per `window` seconds for one key, across all processes."""

    def __init__(
        self, redis: aioredis.Redis, *, limit: int, window: float, kind: str = "other"
    ) -> None:
        self.limit = limit
        self.kind = kind
        self.window_ms = int(window * 1000)
        self._script = redis.register_script(_WINDOW)
        self._refund = redis.register_script(_REFUND)

    async def hit(self, key: str) -> None:
        count, ttl_ms = await self._script(keys=[key], args=[self.window_ms])
        if int(count) > self.limit:
            RATE_LIMITED.labels(kind=self.kind).inc()
            raise RateLimited(retry_after=max(int(ttl_ms), 1) / 1000)

    async def refund(self, key: str) -> None:
        """Takes one hit back (one that turned out not to count), within the same window."""
        await self._refund(keys=[key])


# Counts the `count` windows whose keys start at KEYS[first_key] and whose window (ms) and
# limit pairs start at ARGV[first_arg], in order, as RedisWindow.hit would one by one: the
# first over its limit answers its position among them and its time left, and the windows
# after it are not counted; 0, 0 when every one took its hit. Scripts that count windows
# along with other work include it (chatbridge.chats.store's check of a request's token).
WINDOWS_LUA = """
local function hit_windows(first_key, first_arg, count)
  for i = 0, count - 1 do
    local key = KEYS[first_key + i]
    local hits = redis.call('INCR', key)
    if hits == 1 then redis.call('PEXPIRE', key, ARGV[first_arg + 2 * i]) end
    if hits > tonumber(ARGV[first_arg + 2 * i + 1]) then
      return i + 1, redis.call('PTTL', key)
    end
  end
  return 0, 0
end

-- After hit_windows took its hit in each: counts up to `share` more hits at once in every one
-- of them, as far as the room left in the fullest allows, for the caller to spend without a
-- round trip (chatbridge.connect.budget: a process's share of a chat's window). Answers how
-- many, and the least time left of the windows (ms).
local function share_windows(first_key, first_arg, count, share)
  for i = 0, count - 1 do
    local room = tonumber(ARGV[first_arg + 2 * i + 1])
                 - tonumber(redis.call('GET', KEYS[first_key + i]) or 0)
    share = math.min(share, room)
  end
  if share <= 0 then return 0, 0 end
  local ttl
  for i = 0, count - 1 do
    local key = KEYS[first_key + i]
    redis.call('INCRBY', key, share)
    local left = redis.call('PTTL', key)
    if not ttl or left < ttl then ttl = left end
  end
  return share, ttl
end
"""

_WINDOWS = (
    WINDOWS_LUA
    + """
local refused, ttl = hit_windows(1, 1, #KEYS)
return {refused, ttl}
"""
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A hit that went over a window's limit, as the client will be told of it."""

    kind: str
    retry_after: float

    def error(self) -> RateLimited:
        """The refusal to raise, counted under its kind as it is raised."""
        RATE_LIMITED.labels(kind=self.kind).inc()
        return RateLimited(retry_after=self.retry_after)


@dataclass(frozen=True, slots=True)
class Window:
    """One window of `hit_all`: at most `limit` hits per `window` seconds for `key`."""

    key: str
    limit: int
    window: float
    kind: str = "other"


def window_args(windows: Sequence[Window]) -> list[int]:
    """The ARGV pairs (window in ms, limit) of WINDOWS_LUA's hit_windows for `windows`."""
    args: list[int] = []
    for window in windows:
        args += [int(window.window * 1000), window.limit]
    return args


def refusal(windows: Sequence[Window], refused: int, ttl_ms: int) -> Refusal | None:
    """What hit_windows' answer (`refused`, `ttl_ms`) for `windows` means: the refusal of the
    window it names, or None when every window took its hit."""
    if not int(refused):
        return None
    kind = windows[int(refused) - 1].kind
    return Refusal(kind=kind, retry_after=max(int(ttl_ms), 1) / 1000)


async def hit_all(redis: aioredis.Redis, windows: Sequence[Window]) -> None:
    """Counts one hit in each of `windows`, in one round trip where a request would otherwise
    pay one per window; RateLimited by the first that is over its limit."""
    refused, ttl_ms = await redis.register_script(_WINDOWS)(
        keys=[window.key for window in windows], args=window_args(windows)
    )
    over = refusal(windows, refused, ttl_ms)
    if over is not None:
        raise over.error()


def window_share(limit: int) -> int:
    """Hits of a window of `limit` a process may count ahead and spend alone (share_windows):
    a tenth, at most 8. Another process of the same chat may then be refused that many hits
    early within a window, never allowed one more."""
    return max(0, min(8, limit // 10))


def chat_window(chat_id: str, name: str, *, limit: int, window: float = 60) -> Window:
    """The chat's window of `limit` `name`s (send, receipt, sync, end…) per `window` seconds,
    ``<p>:chat:<id>:<name>-rate``, which every process of every tab shares."""
    return Window(
        key=keys().chat(chat_id, f"{name}-rate"), limit=limit, window=window, kind=f"chat_{name}"
    )


async def hit_chat_window(chat_id: str, name: str, *, limit: int, window: float = 60) -> None:
    """Counts one `name` against the chat's window (chat_window); beyond it, RateLimited until
    the window ends."""
    over = chat_window(chat_id, name, limit=limit, window=window)
    await RedisWindow(get_redis(), limit=limit, window=window, kind=over.kind).hit(over.key)


async def first_within(redis: aioredis.Redis, key: str, interval: float) -> bool:
    """True for the first call per `interval` seconds for a key (typing, receipts)."""
    return bool(await redis.set(key, b"1", nx=True, px=max(int(interval * 1000), 1)))
