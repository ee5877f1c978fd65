"""One Connect budget per operation, shared by every ChatBridge process through Redis.

Amazon Connect limits each participant operation (and StartChatContact) per account and
Region with a token bucket (docs/configuration.md, CHATBRIDGE_CONNECT_RATES). ChatBridge keeps
a copy of each bucket in Redis and takes a token before every call, so that however many
processes serve the chats, together they never knowingly exceed Connect's rate; botocore's
retries are only a safety net (chatbridge.connect.clients vetoes its retries of throttles).

Who gets the next token: every caller that finds the bucket empty queues in a Redis sorted set
of the operation, ordered by

1. its priority (Priority: a customer's message before an end or an attachment, before a read
   receipt, before background work such as an upstream's new connection or gap fill; typing
   never queues: it is dropped when no token is free, since it is best-effort);
2. within a priority, a virtual time per chat (start-time fair queuing): a chat's queued call
   starts one token-interval after its previous one, so a chat that floods queues behind
   the others instead of in front of them; among single calls, the longest waiting goes first,
   counted from when its request reached ChatBridge when the caller says (CallContext.asked_at:
   a chat start), so that a request slowed on its way to the queue keeps its turn.

The queue is global: the first `n` waiters may take the `n` whole tokens in the bucket, each
when it next asks. Each waiter asks again when the bucket's refill should reach it. A waiter
whose process died leaves the queue when its lease lapses.

A chat start makes two calls, StartChatContact then CreateParticipantConnection: acquire_pair
takes the second's token in the first's script once the first is granted, if one is free now
for a call of the start's priority, as typing's is taken (never queuing for it, never ahead of
a waiter); if none is, the second call takes its own as any other. A start that fails before
its second call gives that token back (give_back): Connect's bucket never saw it spent.

Connect may throttle anyway: a call reached it later than others granted after it (its bucket
and this copy drifted apart), or other software shares the account, or the quotas are lower
than configured. A throttle empties the operation's bucket here (slow_down), which brings the
copy back in line with Connect's. A throttle again within CHATBRIDGE_CONNECT_RECOVERY seconds
means more than drift: it also halves the operation's refill rate, which doubles back after
every CHATBRIDGE_CONNECT_RECOVERY seconds without another throttle.

Connect's quotas apply per account and Region, so the budget is per Region: a widget routed to
another Region (Widget.connect_region) spends that Region's buckets, whose keys name it, at the
rates CHATBRIDGE_CONNECT_REGION_RATES gives it (CHATBRIDGE_CONNECT_RATES when it lists none).
CONNECT_REGION's buckets keep the keys they had before Regions were told apart.

Where a quota has been raised far above what is being spent, a round trip before every
message costs more than it guards. So a customer's message that finds its bucket more than half
full and nobody waiting takes a lease of a few more tokens for its process
(CHATBRIDGE_CONNECT_LEASE), spent by the process's next messages without asking Redis, within
CHATBRIDGE_CONNECT_LEASE_SECONDS; what is not spent by then is not used. Leased tokens are
taken from the shared bucket at once, so together the processes still never spend more than
it holds. A leased token reaches Connect up to the lease's life later than it was counted, so
while leases are out the bucket's ceiling is lowered by as many tokens: a refill that Connect's
full bucket wastes meanwhile is not counted here either. Only customers' messages spend leased
tokens, and only where the burst is at least four leases: AWS's default quotas never lease.
The chat's message window (CountedLimits) is shared out the same way
(chatbridge.ratelimit.share_windows): the process counts a few hits ahead, and the chat's
other processes may then be refused that many early within a window, never let past it.

Redis's clock (TIME) is the only clock, so processes on hosts whose clocks differ agree. A call
reaches Connect some time after its token was taken, and not always the same time: one that
arrives late, while Connect's bucket was full, lets a refill go to waste there that the copy
here counted. So the copy keeps one token of each bucket in reserve (RESERVE): a delay of up
to one token-interval then never turns into a throttle.
"""

import asyncio
import contextlib
import contextvars
import enum
import functools
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from django.conf import settings

from chatbridge.errors import Dropped, Throttled
from chatbridge.metrics import (
    CONNECT_BUDGET_DROPS,
    CONNECT_BUDGET_LEASE_SPENT,
    CONNECT_BUDGET_LEASED,
    CONNECT_BUDGET_QUEUED,
    CONNECT_BUDGET_SLOWDOWNS,
    CONNECT_BUDGET_WAIT_SECONDS,
    CONNECT_BUDGET_WAITING,
)
from chatbridge.redis import get_redis, keys


class Priority(enum.IntEnum):
    """The order in which waiting calls of one operation get tokens (lowest first)."""

    MESSAGE = 0  # what a customer is waiting for: a message, a chat start and its connection
    END = 1  # a customer leaving, an attachment
    RECEIPT = 2  # delivered and read receipts
    BACKGROUND = 3  # upstreams: takeovers, gap fills, their token refreshes
    TYPING = 4  # best-effort: never queued, dropped when no token is free


# Connect's default quotas (per account and Region): requests per second and burst.
DEFAULT_RATES: dict[str, tuple[float, int]] = {
    "SendMessage": (10, 15),
    "SendEvent": (10, 15),
    "CreateParticipantConnection": (6, 9),
    "GetTranscript": (8, 12),
    "DisconnectParticipant": (3, 5),
    "StartAttachmentUpload": (2, 5),
    "CompleteAttachmentUpload": (2, 5),
    "StartChatContact": (5, 8),
}

# Tokens of each bucket never spent (when its burst is larger): the slack for calls that reach
# Connect later than their token was taken.
RESERVE = 1
# A waiter that stops asking (its process died) leaves the queue after this long.
WAITER_LEASE_MS = 2500
# However long the refill would take, a waiter asks again at least this often, to see a
# higher priority arrive or a waiter ahead of it leave.
MAX_POLL = 0.5
MIN_POLL = 0.005
# A request's way to the queue counts for its place up to this long (a bound on clock misuse).
MAX_ASKED_AGE_MS = 10_000
# The slowest a throttled operation runs: 1/16 of its configured rate.
MIN_FACTOR = 1 / 16
# Throttles closer together than this count as one (the calls were in flight together).
SLOWDOWN_SPACING_MS = 1000
# An operation's burst (less RESERVE) must hold this many leases for its calls to take one.
LEASES_PER_BURST = 4

_PRIORITY_SPAN = 10**13  # above any millisecond timestamp of this millennium


@functools.lru_cache(maxsize=32)
def parse_rates(
    text: str, *, setting: str = "CHATBRIDGE_CONNECT_RATES"
) -> dict[str, tuple[float, int]]:
    """``SendMessage=10/15,SendEvent=10/15``: the defaults, with these operations replaced.
    Every Connect call asks, so the answer is kept (shared: never change it).

    Raises ValueError naming the entry at fault."""
    rates = dict(DEFAULT_RATES)
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = entry.partition("=")
        name = name.strip()
        if not sep or name not in DEFAULT_RATES:
            raise ValueError(
                f"{setting}: {entry!r} is not OPERATION=RATE/BURST with one of "
                f"{', '.join(DEFAULT_RATES)}"
            )
        try:
            per_second, burst = value.split("/")
            rate = (float(per_second), int(burst))
        except ValueError:
            raise ValueError(f"{setting}: {entry!r} is not RATE/BURST") from None
        if not (rate[0] > 0 and math.isfinite(rate[0])) or rate[1] < 1:
            raise ValueError(f"{setting}: {entry!r} needs a rate > 0, burst >= 1")
        rates[name] = rate
    return rates


@functools.lru_cache(maxsize=32)
def parse_region_rates(text: str) -> dict[str, dict[str, tuple[float, int]]]:
    """``eu-west-2: SendMessage=5/8, GetTranscript=4/6; ap-southeast-2: ...``: each Region
    listed, with AWS's defaults and these operations replaced (as parse_rates).

    Raises ValueError naming the entry at fault."""
    regions = {}
    for block in filter(None, (part.strip() for part in text.split(";"))):
        region, sep, entries = block.partition(":")
        region = region.strip()
        if not sep or not region:
            raise ValueError(
                f"CHATBRIDGE_CONNECT_REGION_RATES: {block!r} is not REGION: OPERATION=RATE/BURST,..."
            )
        regions[region] = parse_rates(entries, setting="CHATBRIDGE_CONNECT_REGION_RATES")
    return regions


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who a Connect call is for, as the chat service says it (chatbridge.chats.service):
    the chat it spends budget for and its priority; `on_queued` hears the caller's place in
    the queue once, when the call has to wait."""

    chat_id: str = ""
    priority: Priority | None = None
    on_queued: Callable[[int], Awaitable[None]] | None = None
    waiter: str | None = None  # a name to find the call's place by (ConnectBudget.position)
    max_wait: float | None = None  # instead of the priority's (ConnectBudget.wait_limit)
    asked_at: float | None = None  # time.monotonic() when the request reached ChatBridge
    limits: "CountedLimits | None" = None  # the caller's limits, counted by its first call


@dataclass(slots=True)
class CountedLimits:
    """Limits of the caller's own (a chat's message window, a start's address windows) that the
    first Connect call made for it counts in the same script as its budget token, once (a
    start's pair of calls too): one round trip before the call instead of two. `lua` defines
    `hit_windows(first_key, first_arg, count)` as chatbridge.ratelimit.WINDOWS_LUA does, over `keys` and `args`; a refusal, `refused` and
    `ttl_ms` as hit_windows answers them, becomes the error `refuse` gives, and no token is
    taken. A call made without a budget (an operation without a quota) counts them alone."""

    lua: str
    keys: list[str]
    args: list[int]
    refuse: Callable[[int, int], Exception]
    counted: bool = False
    # Hits of every window the process may count ahead where the call takes a lease
    # (chatbridge.ratelimit.share_windows, which `lua` then defines too); 0: none.
    share: int = 0


@dataclass(slots=True)
class _Held:
    """Tokens of a bucket, or hits of a window, this process counted ahead: usable until
    `until` (time.monotonic())."""

    count: int
    until: float


# This process's leases, by bucket key, and its shares of chats' windows, by window key.
_leased: dict[str, _Held] = {}
_shares: dict[str, _Held] = {}
_shares_swept_at = 256


def _keep_share(key: str, held: _Held) -> None:
    """Keeps a window's share, sweeping out the lapsed ones whenever the shares double."""
    global _shares_swept_at
    _shares[key] = held
    if len(_shares) >= _shares_swept_at:
        now = time.monotonic()
        for lapsed in [key for key, held in _shares.items() if held.until <= now]:
            del _shares[lapsed]
        _shares_swept_at = max(256, 2 * len(_shares))


def _spend_ahead(
    bucket_keys: list[str], limits: CountedLimits | None, now: float
) -> tuple[bool, bool]:
    """Spends a leased token of each bucket and counts `limits` (if any) from this process's
    shares of them, where it holds all of those: (tokens spent, limits counted). The limits
    alone are counted from their shares when no token is, for the round trip to take only the
    tokens."""
    shares = [] if limits is None else [_shares.get(key) for key in limits.keys]
    shared = limits is None or (
        limits.share > 0
        and all(held is not None and held.count > 0 and now < held.until for held in shares)
    )
    tokens = [_leased.get(key) for key in bucket_keys]
    spent = shared and all(
        held is not None and held.count > 0 and now < held.until for held in tokens
    )
    for held in (*shares, *tokens) if spent else shares if shared else ():
        held.count -= 1  # type: ignore[union-attr]
    return spent, shared and limits is not None


def _lease_more(bucket_key: str, count: int, until: float) -> None:
    """Adds a lease's tokens to this process's; the bucket's ceiling stays lowered for all of
    its leases until the last one's end, which they now share."""
    held = _leased.get(bucket_key)
    if held is None:
        _leased[bucket_key] = _Held(count, until)
        return
    held.count = (held.count if held.until > time.monotonic() else 0) + count
    held.until = until


def forget_leases() -> None:
    """Drops this process's leases and shares (tests that empty Redis between them)."""
    _leased.clear()
    _shares.clear()


_NOBODY = CallContext()
_context: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar(
    "connect_call_context", default=None
)


def current() -> CallContext:
    return _context.get() or _NOBODY


@contextlib.contextmanager
def calling_for(
    chat_id: str | None = None,
    priority: Priority | None = None,
    on_queued: Callable[[int], Awaitable[None]] | None = None,
    waiter: str | None = None,
    max_wait: float | None = None,
    asked_at: float | None = None,
    limits: CountedLimits | None = None,
) -> Iterator[None]:
    """The Connect calls made inside spend budget for `chat_id` at `priority`, queue under
    the name `waiter` and in the order of `asked_at` (when their request reached ChatBridge),
    and wait at most `max_wait` seconds each for their token; the first of them counts
    `limits` (what is not given is kept from the enclosing context)."""
    outer = current()
    token = _context.set(
        CallContext(
            chat_id=outer.chat_id if chat_id is None else chat_id,
            priority=outer.priority if priority is None else priority,
            on_queued=on_queued or outer.on_queued,
            waiter=waiter or outer.waiter,
            max_wait=outer.max_wait if max_wait is None else max_wait,
            asked_at=outer.asked_at if asked_at is None else asked_at,
            limits=limits or outer.limits,
        )
    )
    try:
        yield
    finally:
        _context.reset(token)


# KEYS: the bucket (hash), the queue (zset: waiter -> priority and virtual time), the waiters'
# leases (zset: waiter -> ms), the chats' next virtual start (zset: chat -> ms).
# ARGV: rate, burst, waiter, chat, priority, lease ms, max queue, recovery ms, may wait (1/0),
# ms since the call's request reached ChatBridge (its place in the queue counts from then);
# optionally the tokens to lease with a grant and the lease's life (ms), and the windows'
# share (the counting tails'). Answers {granted (1/0), ms until the refill reaches this
# waiter, 0-based place in the queue, queue full (1/0)}, and a grant the tokens leased.
_ACQUIRE_FUNCTION = """
local function acquire(K, A)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local rate, burst = tonumber(A[1]), tonumber(A[2])
  local waiter, chat, priority = A[3], A[4], tonumber(A[5])
  local lease, max_queue, recovery = tonumber(A[6]), tonumber(A[7]), tonumber(A[8])
  local may_wait = A[9] == '1'
  local ahead, ahead_ms = tonumber(A[11]) or 0, tonumber(A[12]) or 0

  -- Numbers reach Redis as strings: '%.17g' keeps their fractions (tostring keeps 14 digits).
  local stale = redis.call('ZRANGEBYSCORE', K[3], '-inf', now)
  for _, gone in ipairs(stale) do redis.call('ZREM', K[2], gone) end
  if #stale > 0 then redis.call('ZREMRANGEBYSCORE', K[3], '-inf', now) end
  redis.call('ZREMRANGEBYSCORE', K[4], '-inf', now)

  local b = redis.call('HMGET', K[1], 'tokens', 'ts', 'factor', 'changed', 'leased', 'leased_until')
  local tokens = tonumber(b[1]) or burst
  local ts = tonumber(b[2]) or now
  local factor = tonumber(b[3]) or 1
  local changed = tonumber(b[4]) or now
  local leased, leased_until = tonumber(b[5]) or 0, tonumber(b[6]) or 0
  if now >= leased_until then leased = 0 end
  -- Leases never hold half the burst (they need it free); more is a burst configured smaller since.
  leased = math.min(leased, burst / 2)
  if factor < 1 then
    local steps = math.floor((now - changed) / recovery)
    if steps > 0 then
      factor = math.min(1, factor * 2 ^ steps)
      changed = changed + steps * recovery
    end
  end
  local r = rate * factor
  tokens = math.min(burst - leased, tokens + math.max(now - ts, 0) * r / 1000)

  local function save()
    redis.call('HSET', K[1], 'tokens', tostring(tokens), 'ts', now,
               'factor', tostring(factor), 'changed', changed,
               'leased', leased, 'leased_until', leased_until)
    redis.call('PEXPIRE', K[1], 3600000)
  end

  -- With a grant, `ahead` tokens more for the caller's process while nobody waits and the
  -- bucket stays over half full: the lease's count (0 when none).
  local function take_ahead()
    if ahead > 0 and tokens - ahead >= burst / 2 and redis.call('ZCARD', K[2]) == 0 then
      tokens = tokens - ahead
      leased = leased + ahead
      leased_until = now + ahead_ms
      return ahead
    end
    return 0
  end

  local score = redis.call('ZSCORE', K[2], waiter)
  local rank
  if score then
    rank = redis.call('ZRANK', K[2], waiter)
  else
    local base = priority * 10000000000000
    if not may_wait then
      rank = redis.call('ZCOUNT', K[2], '-inf', '(' .. string.format('%.17g', base + now))
      if tokens - rank >= 1 then
        tokens = tokens - 1
        local extra = take_ahead()
        save()
        return {1, 0, rank, 0, extra}
      end
      save()
      return {0, math.ceil((rank + 1 - tokens) * 1000 / r), rank, 0}
    end
    if redis.call('ZCARD', K[2]) >= max_queue then
      save()
      return {0, math.ceil((max_queue + 1 - tokens) * 1000 / r), max_queue, 1}
    end
    -- Arrivals in the same millisecond keep their order: each arrives a step after the last.
    local arrival = math.max(now, (tonumber(redis.call('HGET', K[1], 'arrived')) or 0) + 0.0078125)
    redis.call('HSET', K[1], 'arrived', string.format('%.17g', arrival))
    arrival = arrival - tonumber(A[10])
    local start = math.max(arrival, tonumber(redis.call('ZSCORE', K[4], chat)) or 0)
    if chat ~= '' then
      redis.call('ZADD', K[4], string.format('%.17g', start + math.ceil(1000 / r)), chat)
      redis.call('PEXPIRE', K[4], 3600000)
    end
    redis.call('ZADD', K[2], string.format('%.17g', base + start), waiter)
    rank = redis.call('ZRANK', K[2], waiter)
  end
  if tokens - rank >= 1 then
    tokens = tokens - 1
    redis.call('ZREM', K[2], waiter)
    redis.call('ZREM', K[3], waiter)
    local extra = take_ahead()
    save()
    return {1, 0, rank, 0, extra}
  end
  redis.call('ZADD', K[3], now + lease, waiter)
  redis.call('PEXPIRE', K[2], 3600000)
  redis.call('PEXPIRE', K[3], 3600000)
  save()
  return {0, math.ceil((rank + 1 - tokens) * 1000 / r), rank, 0}
end
"""

_ACQUIRE = _ACQUIRE_FUNCTION + "return acquire(KEYS, ARGV)\n"

# KEYS: the first operation's four keys (as _ACQUIRE's), then the second's. ARGV: the first's
# ten arguments (as _ACQUIRE's), then the second's rate, burst, lease ms, max queue, recovery ms,
# then the tokens to lease of the first, the lease's life (ms), the tokens to lease of the
# second, and the windows' share (the counting tails'). Takes a token of the first as _ACQUIRE
# does; once granted, a token of the second too if one is free now for a call of the same
# priority (it never queues for it), as typing's is taken. Answers _ACQUIRE's four, 1 if the
# second's token was taken (else 0), and the tokens leased of each.
_ACQUIRE_PAIR_FUNCTION = """
local function acquire_pair()
  local first = acquire({KEYS[1], KEYS[2], KEYS[3], KEYS[4]},
                        {ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8],
                         ARGV[9], ARGV[10], ARGV[16], ARGV[17]})
  local taken, leased_first, leased_second = 0, first[5] or 0, 0
  if first[1] == 1 then
    local second = acquire({KEYS[5], KEYS[6], KEYS[7], KEYS[8]},
                           {ARGV[11], ARGV[12], ARGV[3], ARGV[4], ARGV[5], ARGV[13], ARGV[14],
                            ARGV[15], '0', '0', ARGV[18], ARGV[17]})
    taken = second[1]
    leased_second = second[5] or 0
  end
  return {first[1], first[2], first[3], first[4], taken, leased_first, leased_second}
end
"""
_ACQUIRE_PAIR_TAIL = _ACQUIRE_PAIR_FUNCTION + "return acquire_pair()\n"
_ACQUIRE_PAIR = _ACQUIRE_FUNCTION + _ACQUIRE_PAIR_TAIL

# KEYS: _ACQUIRE's four, then the caller's limits' (CountedLimits). ARGV: _ACQUIRE's
# thirteen, then the limits'. Counts the limits first; over one of them, answers {-1, its ms
# left, its 1-based place among them, 0} and takes no token; else answers as _ACQUIRE. A grant
# that leases, with a share asked (ARGV[13] > 0), also shares out the limits' windows
# (share_windows, which the limits' `lua` then defines): its answer then ends with how many
# hits, and their ms left.
_COUNT_AND_ACQUIRE_TAIL = """
local refused, ttl = hit_windows(5, 14, #KEYS - 4)
if refused > 0 then return {-1, ttl, refused, 0} end
local answer = acquire(KEYS, ARGV)
local share = tonumber(ARGV[13])
if share > 0 and answer[1] == 1 and answer[5] > 0 then
  answer[6], answer[7] = share_windows(5, 14, #KEYS - 4, share)
end
return answer
"""
# As _COUNT_AND_ACQUIRE_TAIL, after _ACQUIRE_PAIR's eight keys and nineteen arguments; the
# windows are shared out (ARGV[19] hits at most) when both operations leased.
_COUNT_AND_ACQUIRE_PAIR_TAIL = (
    _ACQUIRE_PAIR_FUNCTION
    + """
local refused, ttl = hit_windows(9, 20, #KEYS - 8)
if refused > 0 then return {-1, ttl, refused, 0} end
local answer = acquire_pair()
local share = tonumber(ARGV[19])
if share > 0 and answer[1] == 1 and answer[6] > 0 and answer[7] > 0 then
  answer[8], answer[9] = share_windows(9, 20, #KEYS - 8, share)
end
return answer
"""
)
# The limits alone, for a call without a budget: hit_windows's answer.
_COUNT_TAIL = """
local refused, ttl = hit_windows(1, 1, #KEYS)
return {refused, ttl}
"""

# KEYS: the bucket. ARGV: spacing ms, min factor, recovery ms. Empties the bucket; halves the
# rate if the last throttle came within the recovery time. Throttles within the spacing count
# as one. Answers {1 if this throttle counted, 1 if it halved the rate}.
_SLOW_DOWN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'factor', 'changed', 'slowed')
local factor = tonumber(b[1]) or 1
local changed = tonumber(b[2]) or now
local slowed = tonumber(b[3])
local counted, halved = 0, 0
if not slowed or now - slowed >= tonumber(ARGV[1]) then
  if slowed and now - slowed <= tonumber(ARGV[3]) then
    factor = math.max(tonumber(ARGV[2]), factor / 2)
    halved = 1
  end
  slowed = now
  counted = 1
end
redis.call('HSET', KEYS[1], 'tokens', '0', 'ts', now, 'factor', tostring(factor),
           'changed', now, 'slowed', slowed)
redis.call('PEXPIRE', KEYS[1], 3600000)
return {counted, halved}
"""

# KEYS: the bucket. A token back, for a call not made; the next acquire caps it at the burst. A
# bucket gone (expired) is full anyway: nothing to give back to.
_GIVE_BACK = """
if redis.call('HEXISTS', KEYS[1], 'tokens') == 1 then
  redis.call('HINCRBYFLOAT', KEYS[1], 'tokens', 1)
end
return 0
"""

# KEYS: the queue, the leases. ARGV: waiter. A waiter that gives up leaves at once.
_LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 0
"""


@dataclass(frozen=True, slots=True)
class Grant:
    """A token taken: how long the caller waited for it and whether it had to queue."""

    waited: float
    queued: bool


class ConnectBudget:
    """The shared budget, as settings size it. Cheap to build: state lives in Redis."""

    def __init__(
        self,
        rates: dict[str, tuple[float, int]],
        *,
        max_wait: float,
        max_queue: int,
        recovery: float,
        region: str | None = None,
        background_max_wait: float | None = None,
        lease: int = 0,
        lease_seconds: float = 0.5,
    ) -> None:
        self.rates = rates
        self.max_wait = max_wait
        # Background work (an upstream's new connection or gap fill) has no customer waiting
        # on it: it keeps its place in the queue this long rather than backing off and
        # queuing again at the back, which in a storm of takeovers leaves tokens unspent.
        self.background_max_wait = (
            max_wait if background_max_wait is None else max(max_wait, background_max_wait)
        )
        self.max_queue = max_queue
        self.recovery = recovery
        # The Region whose buckets these are; None: the default Region's (CONNECT_REGION).
        self.region = region
        self.lease = max(0, lease)
        self.lease_seconds = lease_seconds

    @classmethod
    def from_settings(cls, region: str | None = None) -> "ConnectBudget":
        """The budget of `region` (None or CONNECT_REGION: the default Region's)."""
        scoped = region if region and region != settings.CONNECT_REGION else None
        listed = parse_region_rates(settings.CHATBRIDGE_CONNECT_REGION_RATES)
        rates = listed.get(scoped or settings.CONNECT_REGION)
        return cls(
            rates or parse_rates(settings.CHATBRIDGE_CONNECT_RATES),
            max_wait=settings.CHATBRIDGE_CONNECT_MAX_WAIT,
            max_queue=settings.CHATBRIDGE_CONNECT_MAX_QUEUE,
            recovery=settings.CHATBRIDGE_CONNECT_RECOVERY,
            region=scoped,
            background_max_wait=settings.CHATBRIDGE_CONNECT_BACKGROUND_MAX_WAIT,
            lease=settings.CHATBRIDGE_CONNECT_LEASE,
            lease_seconds=settings.CHATBRIDGE_CONNECT_LEASE_SECONDS,
        )

    def lease_size(self, operation: str, priority: Priority) -> int:
        """Tokens a call of `operation` at `priority` leases with its own: a customer's
        message's, where the operation's burst holds LEASES_PER_BURST leases; else 0."""
        rate = self.rates.get(operation)
        if priority is not Priority.MESSAGE or not self.lease or rate is None:
            return 0
        if rate[1] - RESERVE < LEASES_PER_BURST * (self.lease + 1):
            return 0
        return self.lease

    def wait_limit(self, context: CallContext) -> float:
        """How long a call made in `context` may wait for its token: what the context says
        (a chat start's wait), else its priority's."""
        if context.max_wait is not None:
            return context.max_wait
        if context.priority is Priority.BACKGROUND:
            return self.background_max_wait
        return self.max_wait

    def _key(self, operation: str, *parts: str) -> str:
        return keys().connect_budget(operation, *parts, region=self.region)

    def _keys(self, operation: str) -> list[str]:
        return [
            self._key(operation),
            self._key(operation, "queue"),
            self._key(operation, "leases"),
            self._key(operation, "chats"),
        ]

    async def acquire(
        self,
        operation: str,
        *,
        deadline: float | None = None,
        waiter: str | None = None,
        announce: bool = True,
    ) -> Grant | None:
        """Takes a token of `operation` for the current CallContext, waiting in the queue for
        at most until `deadline` (time.monotonic(); default: now + CHATBRIDGE_CONNECT_MAX_WAIT,
        or CHATBRIDGE_CONNECT_BACKGROUND_MAX_WAIT for background work).
        The context's `on_queued` hears when it queues, unless `announce` is False (a call
        queuing again after a throttle, already announced).

        None for an operation without a quota. Raises Throttled (with the expected wait as
        retry_after) if the token would come later than the deadline or the queue is full,
        and Dropped for typing when no token is free now."""
        grant, _ = await self._acquire(
            operation, None, deadline=deadline, waiter=waiter, announce=announce
        )
        return grant

    async def acquire_pair(
        self,
        operation: str,
        then: str,
        *,
        deadline: float | None = None,
        waiter: str | None = None,
        announce: bool = True,
    ) -> tuple[Grant | None, bool]:
        """Takes a token of `operation` as acquire() does and, in the same round trip once it
        is granted, a token of `then`, the call that follows it, if one is free now for a call
        of this priority: a chat start's StartChatContact and its CreateParticipantConnection
        cost one script instead of two. Never queues for `then`: whether its token was taken
        (when not, its call takes one as any other call does).

        A `then` without a quota needs no token (True); with `operation` without one, only
        acquire()'s answer (None, False)."""
        if self.rates.get(operation) is None:
            grant, _ = await self._acquire(
                operation, None, deadline=deadline, waiter=waiter, announce=announce
            )
            return grant, False
        if self.rates.get(then) is None:
            grant = await self.acquire(
                operation, deadline=deadline, waiter=waiter, announce=announce
            )
            return grant, True
        return await self._acquire(
            operation, then, deadline=deadline, waiter=waiter, announce=announce
        )

    async def _acquire(
        self,
        operation: str,
        then: str | None,
        *,
        deadline: float | None,
        waiter: str | None,
        announce: bool,
    ) -> tuple[Grant | None, bool]:
        rate = self.rates.get(operation)
        context = current()
        limits = context.limits if context.limits and not context.limits.counted else None
        if limits is not None:
            limits.counted = True
        if rate is None:
            if limits is not None:
                await count_alone(limits)
            return None, False
        priority = context.priority if context.priority is not None else Priority.MESSAGE
        may_wait = priority is not Priority.TYPING
        started = time.monotonic()
        names = (operation,) if then is None else (operation, then)
        # The tokens a grant leases of each operation, by its bucket's key.
        leases = {self._key(name): self.lease_size(name, priority) for name in names}
        # Tokens leased for calls whose limits have no share could never be spent.
        leasing = all(leases.values()) and (limits is None or limits.share > 0)
        if leasing:
            spent, shared = _spend_ahead(list(leases), limits, started)
            if spent:
                for name in names:
                    CONNECT_BUDGET_WAIT_SECONDS.labels(operation=name).observe(0)
                    CONNECT_BUDGET_LEASE_SPENT.labels(operation=name).inc()
                return Grant(waited=0.0, queued=False), then is not None
            if shared:
                limits = None
        if deadline is None:
            deadline = started + self.wait_limit(context)
        waiter = context.waiter or waiter or uuid.uuid4().hex
        asked_age_ms = 0
        if context.asked_at is not None:
            asked_age_ms = min(max(int((started - context.asked_at) * 1000), 0), MAX_ASKED_AGE_MS)
        redis = get_redis()
        budget_keys = self._keys(operation)
        args: list[object] = [
            rate[0],
            max(1, rate[1] - RESERVE),
            waiter,
            context.chat_id,
            int(priority),
            WAITER_LEASE_MS,
            self.max_queue,
            int(self.recovery * 1000),
            1 if may_wait else 0,
            asked_age_ms,
        ]
        share = limits.share if leasing and limits is not None else 0
        lease, then_lease = (*leases.values(), 0)[:2] if leasing else (0, 0)
        lease_ms = int(self.lease_seconds * 1000)
        if then is None:
            script = redis.register_script(_ACQUIRE)
            script_keys = budget_keys
            args += [lease, lease_ms, share]
        else:
            then_rate = self.rates[then]
            script = redis.register_script(_ACQUIRE_PAIR)
            script_keys = [*budget_keys, *self._keys(then)]
            args += [
                then_rate[0],
                max(1, then_rate[1] - RESERVE),
                WAITER_LEASE_MS,
                self.max_queue,
                int(self.recovery * 1000),
                lease,
                lease_ms,
                then_lease,
                share,
            ]
        # Where the answer holds the tokens leased (one per operation), then the share.
        leased_at = 4 if then is None else 5
        shared_at = leased_at + len(leases)
        queued = entered = False
        try:
            while True:
                entered = may_wait
                if limits is not None:
                    counting = redis.register_script(_counting(limits.lua, pair=then is not None))
                    answer = await counting(
                        keys=[*script_keys, *limits.keys], args=[*args, *limits.args]
                    )
                    if answer[0] == -1:
                        entered = False
                        raise limits.refuse(int(answer[2]), int(answer[1]))
                    if len(answer) > shared_at + 1 and int(answer[shared_at]) > 0:
                        held_until = started + int(answer[shared_at + 1]) / 1000
                        for key in limits.keys:
                            _keep_share(key, _Held(int(answer[shared_at]), held_until))
                    limits = None
                else:
                    answer = await script(keys=script_keys, args=args)
                granted, wait_ms, rank, full = answer[:4]
                now = time.monotonic()
                if granted:
                    if leasing:
                        for offset, (key, name) in enumerate(zip(leases, names, strict=True)):
                            count = int(answer[leased_at + offset])
                            if count:
                                _lease_more(key, count, started + self.lease_seconds)
                                CONNECT_BUDGET_LEASED.labels(operation=name).inc(count)
                    waited = now - started
                    CONNECT_BUDGET_WAIT_SECONDS.labels(operation=operation).observe(waited)
                    taken = then is not None and bool(answer[4])
                    if taken:
                        CONNECT_BUDGET_WAIT_SECONDS.labels(operation=then).observe(0)
                    return Grant(waited=waited, queued=queued), taken
                wait = wait_ms / 1000
                if not may_wait:
                    CONNECT_BUDGET_DROPS.labels(operation=operation).inc()
                    raise Dropped()
                if full or now + wait > deadline:
                    raise Throttled(
                        "ChatBridge's share of Amazon Connect's rate is used up; retry shortly.",
                        retry_after=max(1.0, math.ceil(wait)),
                    )
                if not queued:
                    queued = True
                    CONNECT_BUDGET_QUEUED.labels(operation=operation).inc()
                    CONNECT_BUDGET_WAITING.labels(operation=operation).inc()
                    if announce and context.on_queued is not None:
                        await context.on_queued(int(rank) + 1)
                await asyncio.sleep(min(max(wait, MIN_POLL), MAX_POLL))
        except BaseException:
            if entered:
                await asyncio.shield(
                    redis.register_script(_LEAVE)(keys=budget_keys[1:3], args=[waiter])
                )
            raise
        finally:
            if queued:
                CONNECT_BUDGET_WAITING.labels(operation=operation).dec()

    async def give_back(self, operation: str) -> None:
        """Returns a token taken for a call that was not made after all (acquire_pair's
        second, when the call before it failed): Connect's bucket still holds it."""
        if operation not in self.rates:
            return
        await get_redis().register_script(_GIVE_BACK)(keys=[self._key(operation)], args=[])

    async def slow_down(self, operation: str) -> None:
        """Connect throttled a call of `operation`: empty its bucket, and halve its rate if
        Connect throttled it shortly before too."""
        if operation not in self.rates:
            return
        _leased.pop(self._key(operation), None)
        script = get_redis().register_script(_SLOW_DOWN)
        counted, _ = await script(
            keys=[self._key(operation)],
            args=[SLOWDOWN_SPACING_MS, MIN_FACTOR, int(self.recovery * 1000)],
        )
        if counted:
            CONNECT_BUDGET_SLOWDOWNS.labels(operation=operation).inc()

    async def position(self, operation: str, waiter: str) -> int | None:
        """The place (1: next) of the call queued as `waiter`, None if none is queued."""
        rank = await get_redis().zrank(self._key(operation, "queue"), waiter)
        return None if rank is None else int(rank) + 1

    async def queue_depth(self, operation: str) -> int:
        """Calls of `operation` waiting for a token, across every process."""
        return int(await get_redis().zcard(self._key(operation, "queue")))


@functools.cache
def _counting(lua: str, *, pair: bool = False) -> str:
    """_ACQUIRE, or _ACQUIRE_PAIR, that counts the limits `lua` defines first (and shares
    them out with a lease)."""
    tail = _COUNT_AND_ACQUIRE_PAIR_TAIL if pair else _COUNT_AND_ACQUIRE_TAIL
    return lua + _ACQUIRE_FUNCTION + tail


async def count_alone(limits: CountedLimits) -> None:
    """Counts the caller's limits in a round trip of their own (a call without a budget, or a
    caller about to do what must not come before them)."""
    counting = get_redis().register_script(limits.lua + _COUNT_TAIL)
    refused, ttl_ms = await counting(keys=limits.keys, args=limits.args)
    if int(refused):
        raise limits.refuse(int(refused), int(ttl_ms))
