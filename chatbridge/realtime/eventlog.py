"""The event log of a chat: a Redis stream that is the source of truth for clients.

Every logged event gets the next sequence number of its chat, and its stream entry id is
``<seq>-0``, so "everything after seq N" is one XRANGE. Appending is one Lua script, atomic
across processes: an item Connect delivers twice (websocket and transcript, or a duplicated
frame, or the send path and the websocket echo) is logged once, whoever sees it first.

The same script notes the ids of the chat's messages and attachments, what receipts may name
(EventLog.has_message), so that a receipt for a made-up id costs neither a Connect call nor a
key; and it adds the event to the feed (chatbridge.chats.feed), which the stream workers
drain off the hot path, and can count the members of a channel layer group in passing (the
relay's "does another process follow this chat?"), saving a round trip per event.

An upstream appends under its lease (a `Fence`): the script refuses the whole append unless
the lease still names the upstream's process, checked in the same atomic step as the writes,
so that a process that lost a chat (stalled, or judged dead and taken over) cannot log after
the new holder took it, however late its writes arrive.

A Redis failover can lose the last entries the old primary acknowledged, and with them the
chat's seq counter goes back: the next event would reuse a seq that clients already have, and
they would drop it. So each process remembers the highest seq it has seen of each chat and
passes it as a floor; the script never issues a seq at or below it. Finding its counter below
the floor, the script knows the log lost entries: an upstream's append (strict) logs nothing
and raises LogRegressed, so that the upstream first logs again what Connect's transcript has
since the cursor (a repair, which lifts the counter); any other append lifts the counter
itself and marks the log, so that the upstream's next append repairs it.
"""

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from redis.asyncio.client import Pipeline

from chatbridge.chats.events import ATTACHMENT, EVENT, MESSAGE, ChatEvent
from chatbridge.chats.feed import FEED_MAXLEN
from chatbridge.realtime.leases import Fence, LeaseLost
from chatbridge.redis import RedisKeys, get_redis

# KEYS: events, ids, cursor, feed, messages[, group][, lease]. ARGV: ttl, chat id, feed
# maxlen, "1" with a group key, the lease's owner ("" without a fence), the seq floor, the
# Floor mode, then five per event: item id, JSON, absolute time, "1" if it may move the
# gap-fill cursor, "1" if receipts may name it. Returns the group's size, then each event's
# seq (0 for one already logged); or just -1, logging nothing, when the lease names another
# owner; or just -2, logging nothing, when a strict append finds entries lost.
_APPEND_SCRIPT = """
local ttl, chat, maxlen = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local group, k = nil, 6
if ARGV[4] == '1' then group = KEYS[6]; k = 7 end
if ARGV[5] ~= '' and redis.call('GET', KEYS[k]) ~= ARGV[5] then return {-1} end
local floor, mode = tonumber(ARGV[6]), ARGV[7]
local counter = tonumber(redis.call('HGET', KEYS[3], 'seq') or '0')
if mode == 'strict' then
  if counter < floor or redis.call('HEXISTS', KEYS[3], 'lost') == 1 then return {-2} end
elseif mode == 'repair' then
  if counter < floor then redis.call('HSET', KEYS[3], 'seq', floor) end
  redis.call('HDEL', KEYS[3], 'lost')
elseif counter < floor then
  redis.call('HSET', KEYS[3], 'seq', floor, 'lost', '1')
end
local result = {0}
for i = 8, #ARGV, 5 do
  local seq = 0
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
    redis.call('XADD', KEYS[1], seq .. '-0', 'e', ARGV[i + 1])
    if ARGV[i + 4] == '1' then redis.call('SADD', KEYS[5], ARGV[i]) end
    if ARGV[i + 3] == '1' then
      local last_time = redis.call('HGET', KEYS[3], 'last_time')
      if not last_time or ARGV[i + 2] >= last_time then
        redis.call('HSET', KEYS[3], 'last_item', ARGV[i], 'last_time', ARGV[i + 2])
      end
    end
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', maxlen, '*', 'chat', chat, 'seq', seq, 'e',
      ARGV[i + 1])
  end
  result[#result + 1] = seq
end
for _, k in ipairs({1, 2, 3, 5}) do redis.call('EXPIRE', KEYS[k], ttl) end
if group then result[1] = redis.call('ZCARD', group) end
return result
"""

# Chats whose highest seen seq a process remembers (the floor); the oldest is forgotten first.
REMEMBERED_CHATS = 20_000


class Floor(enum.Enum):
    """What an append does when the chat's seq counter is below the process's floor, that is
    when a Redis failover lost entries of the log."""

    LIFT = "lift"  # lift the counter over the floor and mark the log for repair
    STRICT = "strict"  # log nothing: raise LogRegressed (an upstream repairs first)
    REPAIR = "repair"  # lift the counter and clear the mark: this append is the repair


class LogRegressed(Exception):
    """The chat's log lost entries (its seq counter is below what this process has seen):
    Connect's transcript since the cursor must be logged again before anything newer."""


# Event types that GetTranscript returns, so their ids can start a gap fill.
TRANSCRIPT_TYPES = frozenset({MESSAGE, ATTACHMENT, EVENT})
# Event types that a delivered or read receipt may name (Connect refuses any other).
RECEIPTED_TYPES = frozenset({MESSAGE, ATTACHMENT})


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    seq: int
    event: ChatEvent


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the log stands: its last seq, and the newest transcript item (for gap fill)."""

    last_seq: int
    last_item_id: str | None
    last_time: str | None


def log_ttl() -> int:
    """Seconds a chat's log outlives its last append: as long as the chat may last, and then
    as long as its ended session stays readable."""
    return settings.CONNECT_CHAT_DURATION_MINUTES * 60 + settings.CHATBRIDGE_ENDED_SESSION_TTL


def event_log() -> "EventLog":
    """The event log on the running event loop's Redis, as settings configure it."""
    return EventLog(get_redis(), prefix=settings.CHATBRIDGE_REDIS_PREFIX, ttl=log_ttl())


class EventLog:
    def __init__(self, redis: aioredis.Redis, *, prefix: str, ttl: int) -> None:
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._ttl = ttl
        self._append = redis.register_script(_APPEND_SCRIPT)
        self._seen: dict[str, int] = {}

    def _key(self, chat_id: str, name: str) -> str:
        return self._keys.chat(chat_id, name)

    def floor(self, chat_id: str) -> int:
        """The highest seq of the chat this process has logged or read."""
        return self._seen.get(chat_id, 0)

    def _saw(self, chat_id: str, seq: int) -> None:
        if seq <= self._seen.get(chat_id, 0):
            return
        self._seen.pop(chat_id, None)
        self._seen[chat_id] = seq
        if len(self._seen) > REMEMBERED_CHATS:
            del self._seen[next(iter(self._seen))]

    async def append_many(
        self,
        chat_id: str,
        events: Sequence[tuple[ChatEvent, str]],
        *,
        from_connect: bool = True,
        group_key: str | bytes | None = None,
        fence: Fence | None = None,
        floor: Floor = Floor.LIFT,
    ) -> tuple[list[int | None], int]:
        """Logs events (each with its JSON) in order, in one round trip: the seq of each (None
        for one already logged), and the number of members of `group_key` (a sorted set in
        the same Redis), or 0 without one. With a `fence`, logs nothing and raises LeaseLost
        unless its lease is still its owner's. `floor` says what to do when the log lost
        entries (Floor; STRICT raises LogRegressed).

        Frames that arrive together from Connect are logged together, so that the second
        waits for no round trip of the first."""
        keys = [
            self._key(chat_id, "events"),
            self._key(chat_id, "ids"),
            self._key(chat_id, "cursor"),
            self._keys.feed,
            self._key(chat_id, "messages"),
        ]
        if group_key is not None:
            keys.append(group_key)
        if fence is not None:
            keys.append(fence.key)
        args: list[str | int] = [
            self._ttl,
            chat_id,
            FEED_MAXLEN,
            "1" if group_key is not None else "0",
            fence.owner if fence is not None else "",
            self.floor(chat_id),
            floor.value,
        ]
        for event, encoded in events:
            moves_cursor = from_connect and event.type in TRANSCRIPT_TYPES
            # Receipts are for the chat's own messages, not those of the chat it continues.
            receipted = event.type in RECEIPTED_TYPES and not event.earlier
            args += (
                event.id,
                encoded,
                event.absolute_time,
                "1" if moves_cursor else "0",
                "1" if receipted else "0",
            )
        members, *seqs = await self._append(keys=keys, args=args)
        if int(members) == -1:
            raise LeaseLost(chat_id)
        if int(members) == -2:
            raise LogRegressed(chat_id)
        logged = [int(seq) or None for seq in seqs]
        self._saw(chat_id, max((seq for seq in logged if seq), default=0))
        return logged, int(members)

    async def read_after(
        self, chat_id: str, after: int, *, limit: int | None = None
    ) -> list[LoggedEvent]:
        """The logged events with seq > `after`, in order."""
        entries = await self._redis.xrange(
            self._key(chat_id, "events"), min=f"({max(after, 0)}-0", count=limit
        )
        logged = [_logged(entry_id, fields) for entry_id, fields in entries]
        if logged:
            self._saw(chat_id, logged[-1].seq)
        return logged

    def queue_page(
        self, pipe: Pipeline, chat_id: str, after: int, *, limit: int
    ) -> Callable[[Sequence[Any]], tuple[list[LoggedEvent], int]]:
        """Queues on `pipe` the read of read_page(); the returned call makes its answer out of
        the pipeline's results for those commands, so that other reads share the round trip."""
        pipe.xrange(self._key(chat_id, "events"), min=f"({max(after, 0)}-0", count=limit)
        pipe.hget(self._key(chat_id, "cursor"), "seq")

        def answer(results: Sequence[Any]) -> tuple[list[LoggedEvent], int]:
            entries, newest = results
            logged = [_logged(entry_id, fields) for entry_id, fields in entries]
            last_seq = max(int(newest or 0), logged[-1].seq if logged else 0)
            self._saw(chat_id, last_seq)
            return logged, last_seq

        return answer

    async def read_page(
        self, chat_id: str, after: int, *, limit: int
    ) -> tuple[list[LoggedEvent], int]:
        """The logged events with seq > `after` (at most `limit`), in order, and the log's
        newest seq, in one round trip: a page and whether more are waiting behind it."""
        async with self._redis.pipeline(transaction=False) as pipe:
            answer = self.queue_page(pipe, chat_id, after, limit=limit)
            return answer(await pipe.execute())

    async def read_before(self, chat_id: str, before: int, *, limit: int) -> list[LoggedEvent]:
        """Up to `limit` events with seq < `before`, in ascending order."""
        entries = await self._redis.xrevrange(
            self._key(chat_id, "events"), max=f"({before}-0", count=limit
        )
        return [_logged(entry_id, fields) for entry_id, fields in reversed(entries)]

    async def has_message(self, chat_id: str, message_id: str) -> bool:
        """Whether the chat's log holds a message or attachment with this Connect id."""
        return bool(await self._redis.sismember(self._key(chat_id, "messages"), message_id))

    async def cursor(self, chat_id: str) -> Cursor:
        data = await self._redis.hgetall(self._key(chat_id, "cursor"))
        self._saw(chat_id, int(data.get(b"seq", 0)))
        return Cursor(
            last_seq=int(data.get(b"seq", 0)),
            last_item_id=data[b"last_item"].decode() if b"last_item" in data else None,
            last_time=data[b"last_time"].decode() if b"last_time" in data else None,
        )


def _logged(entry_id: bytes, fields: dict[bytes, bytes]) -> LoggedEvent:
    seq = int(entry_id.split(b"-", 1)[0])
    return LoggedEvent(seq=seq, event=ChatEvent.from_json(fields[b"e"]))
