"""Publishes a chat's events: into its event log, then to every client.

Clients in this process are rung directly (chatbridge.realtime.fanout), the others through the
channel layer group of the chat, from a courier task: Redis round trips for other processes
never delay the clients here, nor the next item of the chat. Each process has one channel
of its own, its inbox, which joins the group of every chat its clients follow; what arrives
there it rings to them. The channel layer is a doorbell, not a log: it drops messages when a
channel is full, so each message carries the event's seq and followers re-read the log when
they see a gap.
"""

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from channels.layers import BaseChannelLayer

from chatbridge.chats.events import CUSTOMER, ChatEvent
from chatbridge.realtime.detached import Detached
from chatbridge.realtime.eventlog import RECEIPTED_TYPES, EventLog, Floor
from chatbridge.realtime.fanout import Follower, LocalFanout
from chatbridge.realtime.layer_groups import LayerGroups
from chatbridge.realtime.leases import Fence, LeaseLost
from chatbridge.realtime.liveness import Liveness
from chatbridge.realtime.priority import LiveFirst
from chatbridge.redis import RedisKeys

logger = logging.getLogger(__name__)

# Doorbells waiting for the channel layer; past this (Redis down), the oldest are dropped:
# followers elsewhere re-read the log when they notice the gap.
OUTBOX_SIZE = 10_000
# Doorbells the courier takes at once: one pipelined count of followers for all their chats.
COURIER_BATCH = 200
# Seconds the group size counted by a chat's last append stands in for a count of its own, for
# typing alone: a follower that just joined in another process may miss a typing indicator.
TYPING_COUNT_TTL = 2.0
# Customer items whose logging this process remembers (see Relay._claim): seconds' worth.
REMEMBERED_ITEMS = 4096
# Seconds the send path leaves a customer's item to the chat's upstream here (publish_sent)
# before it logs the item itself: a connected upstream logs it within milliseconds.
LEFT_TO_UPSTREAM = 2.0
# Seconds before the inbox reads again after the channel layer failed (Redis away).
INBOX_RETRY_DELAY = 1.0
# Seconds after which this process joins a chat's group again, well within the channel
# layer's group expiry (channels_redis: a day by default).
MEMBERSHIP_REFRESH = 3600.0
# Seconds a process stays in a chat's group after the last long-poll or SSE stream of the chat
# here ended: long enough for the client's next poll, short enough that the other processes
# soon stop ringing a chat nobody here reads.
LINGER = 30.0
# Seconds a chat's upstream status outlives its last change.
STATUS_TTL = 3600
CONNECTED = "connected"
RECONNECTING = "reconnecting"

# KEYS: status, lease. ARGV: the value, its TTL, the lease's owner. -1 (nothing written) when
# the lease names another process.
_SET_STATUS = """
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""
# KEYS: status, lease. ARGV: the lease's owner, the TTL. Notes "reconnecting" (1) when the
# status says another process is connected; -1 when the lease names another process.
_TAKE_STATUS = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
local status = redis.call('GET', KEYS[1])
if status and string.sub(status, 1, 10) == 'connected|' and string.sub(status, 11) ~= ARGV[1]
then
  redis.call('SET', KEYS[1], 'reconnecting|' .. ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
"""


def chat_group(chat_id: str) -> str:
    return f"chat.{chat_id}"


class Relay:
    def __init__(
        self,
        log: EventLog,
        layer: BaseChannelLayer,
        redis: aioredis.Redis,
        *,
        prefix: str,
        fanout: LocalFanout | None = None,
        layer_shares_redis: bool = False,
        liveness: Liveness | None = None,
        live_first: LiveFirst | None = None,
    ) -> None:
        self.log = log
        # Live messages before new chats' setups (chatbridge.realtime.priority).
        self.live_first = live_first or LiveFirst(max_wait=0)
        self.liveness = liveness
        self.layer = layer
        self.fanout = fanout or LocalFanout()
        self._redis = redis
        self._keys = RedisKeys(prefix)
        # Names this relay in its messages, so that its own followers drop the layer's copy.
        self.origin = uuid.uuid4().hex[:12]
        # With the layer on the log's Redis, the log counts a chat's group members as it
        # appends, and the courier needs no round trip of its own for logged events.
        self.groups = LayerGroups(layer, on_log_redis=layer_shares_redis)
        self._counted: dict[str, tuple[int, float]] = {}
        self._logging: collections.OrderedDict[tuple[str, str], asyncio.Future[int | None]] = (
            collections.OrderedDict()
        )
        # Chats whose upstream is connected in this process, and the customer items of each
        # that the send path has left to it (publish_sent), each with the send path's future.
        self._live_upstreams: set[str] = set()
        # Publishes of each chat under way in this process, and a future for those who wait
        # until there are none (settled).
        self._publishing: collections.Counter[str] = collections.Counter()
        self._settling: dict[str, asyncio.Future[None]] = {}
        self._left: dict[str, dict[str, asyncio.Future[int | None]]] = {}
        self._outbox: asyncio.Queue[tuple[str, dict[str, Any], bool | None]] = asyncio.Queue(
            OUTBOX_SIZE
        )
        self._courier: asyncio.Task | None = None
        # This process's one channel: it joins the group of every chat followed here.
        self._inbox: str | None = None
        self._inbox_reader: asyncio.Task | None = None
        self._joined: dict[str, float] = {}
        # Joins on their way, each done once its group_add has returned (or failed).
        self._joining: dict[str, asyncio.Future[None]] = {}
        # Chats nobody here follows any more, each with when the process leaves their group.
        self._lingering: dict[str, asyncio.TimerHandle] = {}
        self._leaving = Detached(logger, "could not leave a chat's channel layer group")
        self._keeper: asyncio.Task | None = None
        self._set_status = redis.register_script(_SET_STATUS)
        self._take_status = redis.register_script(_TAKE_STATUS)

    async def follow(self, chat_id: str, follower: Follower) -> None:
        """Rings `follower` with the chat's events from now on, whichever process logs them.

        A process joins the chat's channel layer group once, however many of its clients
        follow the chat, and rings them itself: a connection costs no channel of its own.
        A chat still lingering after its last follower left costs no round trip at all.
        Whoever follows, it returns only once the process is in the group, even while another
        follower's join is on its way."""
        self.fanout.follow(chat_id, follower)
        lingering = self._lingering.pop(chat_id, None)
        if lingering is not None:
            lingering.cancel()
        while chat_id in self._joined:
            joining = self._joining.get(chat_id)
            if joining is None:
                return
            # Another follower's join is on its way: what this one reads of the chat once
            # followed must not miss a ring that another process sends before the join lands.
            await asyncio.shield(joining)
        await self._join(chat_id, await self._inbox_channel())

    async def unfollow(self, chat_id: str, follower: Follower, *, linger: bool = False) -> None:
        """Stops ringing `follower`. The process leaves the chat's group with its last
        follower, at once, or with `linger` LINGER seconds later unless one follows it again
        meanwhile (a long-poll's client, polling again)."""
        self.fanout.unfollow(chat_id, follower)
        if self.fanout.followers(chat_id) or chat_id not in self._joined:
            return
        lingering = self._lingering.pop(chat_id, None)
        if lingering is not None:
            lingering.cancel()
        if linger:
            self._lingering[chat_id] = asyncio.get_running_loop().call_later(
                LINGER, self._leave_later, chat_id
            )
            return
        await self._leave(chat_id)

    def _leave_later(self, chat_id: str) -> None:
        self._lingering.pop(chat_id, None)
        if self.fanout.followers(chat_id) or chat_id not in self._joined:
            return
        self._leaving.start(self._leave(chat_id), name="relay-leave")

    async def _leave(self, chat_id: str) -> None:
        del self._joined[chat_id]
        inbox = await self._inbox_channel()
        await self.layer.group_discard(chat_group(chat_id), inbox)
        if self.fanout.followers(chat_id):
            # Followed again while leaving: whichever of the two calls Redis ran last, join.
            await self._join(chat_id, inbox)

    async def _join(self, chat_id: str, inbox: str, *, again: bool = False) -> None:
        """Joins the chat's group; `again` for a chat joined before (a refresh)."""
        joined_at = time.monotonic()
        self._joined[chat_id] = joined_at
        joining = asyncio.get_running_loop().create_future()
        self._joining[chat_id] = joining
        try:
            await self.layer.group_add(chat_group(chat_id), inbox)
        except BaseException:
            # Not in the group after all: the next follower joins it.
            if not again and self._joined.get(chat_id) == joined_at:
                del self._joined[chat_id]
            raise
        finally:
            if self._joining.get(chat_id) is joining:
                del self._joining[chat_id]
            joining.set_result(None)

    async def refresh_memberships(self) -> int:
        """Joins again the groups joined more than MEMBERSHIP_REFRESH s ago; how many.

        The channel layer forgets a group member after its group expiry (a day by default),
        and a chat may be followed here for longer, tab after tab."""
        inbox = await self._inbox_channel()
        due = time.monotonic() - MEMBERSHIP_REFRESH
        stale = [chat_id for chat_id, joined in self._joined.items() if joined <= due]
        for chat_id in stale:
            if chat_id in self._joined:
                await self._join(chat_id, inbox, again=True)
        return len(stale)

    async def _keep_memberships(self) -> None:
        while True:
            await asyncio.sleep(MEMBERSHIP_REFRESH / 4)
            try:
                await self.refresh_memberships()
            except Exception:
                logger.exception("could not refresh this process's channel layer groups")

    async def _inbox_channel(self) -> str:
        if self._inbox is None:
            self._inbox = await self.layer.new_channel()
        if self._inbox_reader is None or self._inbox_reader.done():
            self._inbox_reader = asyncio.create_task(
                self._read_inbox(self._inbox), name="relay-inbox"
            )
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep_memberships(), name="relay-groups")
        return self._inbox

    async def _read_inbox(self, inbox: str) -> None:
        """Rings this process's followers with what other processes logged."""
        while True:
            try:
                message = await self.layer.receive(inbox)
            except Exception:
                logger.exception("channel layer receive failed; retrying")
                await asyncio.sleep(INBOX_RETRY_DELAY)
                continue
            chat_id = message.get("chat")
            if chat_id is None or message.get("origin") == self.origin:
                continue
            await self.fanout.ring(chat_id, message)

    def _members_here(self, chat_id: str) -> int:
        """How many members of the chat's group are this process's own: its inbox, or none."""
        return 1 if chat_id in self._joined else 0

    async def _ring(
        self, chat_id: str, message: dict[str, Any], *, group_members: int | None = None
    ) -> None:
        """Rings this process's followers at once; the courier rings the other processes'.

        `group_members` is the size of the chat's group if already known."""
        message["origin"] = self.origin
        message["chat"] = chat_id
        await self.fanout.ring(chat_id, message)
        elsewhere = None
        if group_members is not None:
            elsewhere = group_members > self._members_here(chat_id)
            if not elsewhere:
                return
        if self._outbox.full():
            self._outbox.get_nowait()
            self._outbox.task_done()
            logger.warning("channel layer backlog full; dropped the oldest doorbell")
        self._outbox.put_nowait((chat_id, message, elsewhere))
        if self._courier is None or self._courier.done():
            self._courier = asyncio.create_task(self._carry(), name="relay-courier")

    async def _carry(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < COURIER_BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            try:
                unknown = {chat_id for chat_id, _, known in batch if known is None}
                elsewhere = await self._followed_elsewhere(unknown) if unknown else set()
                for chat_id, message, known in batch:
                    if known or chat_id in elsewhere:
                        await self._group_send(chat_id, message)
            finally:
                for _ in batch:
                    self._outbox.task_done()

    async def _group_send(self, chat_id: str, message: dict[str, Any]) -> None:
        try:
            await self.layer.group_send(chat_group(chat_id), message)
        except Exception:
            logger.exception("channel layer group_send failed; followers will catch up")

    async def _followed_elsewhere(self, chat_ids: set[str]) -> set[str]:
        """The chats whose group has members besides this process's inbox (or might: those
        it could not count), found by counting instead of group sends whose every copy is
        dropped."""
        groups = {chat_id: chat_group(chat_id) for chat_id in chat_ids}
        counted = await self.groups.count(groups.values())
        return {
            chat_id
            for chat_id, group in groups.items()
            if group not in counted or counted[group] > self._members_here(chat_id)
        }

    async def close(self, timeout: float = 5.0) -> None:
        """Delivers the doorbells still waiting (for up to `timeout` s), then stops."""
        if self._courier is not None and not self._courier.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._outbox.join()
        # Lingering chats leave their groups now: once this process is gone, the others would
        # go on ringing its inbox until the channel layer's group expiry.
        lingering = list(self._lingering)
        for chat_id in lingering:
            self._lingering.pop(chat_id).cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                for chat_id in lingering:
                    if chat_id in self._joined and not self.fanout.followers(chat_id):
                        try:
                            await self._leave(chat_id)
                        except Exception:
                            logger.warning("could not leave chat %s's group", chat_id)
        self._leaving.cancel()
        for task in (self._courier, self._inbox_reader, self._keeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._courier = self._inbox_reader = self._keeper = None

    def _status_key(self, chat_id: str) -> str:
        """Holds "<state>|<holder>". A key of its own, not the former ``upstream`` (the bare
        state): processes of the previous release, still running during a rolling restart,
        pass that one to their clients as it is, and must never meet the new format."""
        return self._keys.chat(chat_id, "upstream-status")

    async def publish(
        self, chat_id: str, event: ChatEvent, *, from_connect: bool = True
    ) -> int | None:
        """Logs and fans out the event; its seq, or None if ephemeral.

        `from_connect` is False for what ChatBridge logs on its own (a message it just sent).
        An event already logged is not rung again; its seq is the one it was logged with when
        this process logged it, else None.
        """
        return (await self.publish_many(chat_id, [event], from_connect=from_connect))[0]

    def upstream_live(self, chat_id: str, live: bool) -> None:
        """Notes whether the chat's upstream in this process is connected to Connect. When it
        is no longer, the items the send path left to it go back to the send path."""
        if live:
            self._live_upstreams.add(chat_id)
            return
        self._live_upstreams.discard(chat_id)
        for future in self._left.pop(chat_id, {}).values():
            if not future.done():
                future.set_result(None)

    async def publish_sent(self, chat_id: str, event: ChatEvent) -> int | None:
        """Logs and fans out a customer's item that Connect has just accepted (the send
        path); its seq, as publish() gives it.

        Connect sends the item to the chat's websocket too. While this process's upstream of
        the chat is connected, the item is left to it: it logs the item with what Connect
        sends next (the agent's answer), in one round trip, instead of waiting for this path
        to log it first. This path then takes the upstream's seq. It logs the item itself
        once the upstream is gone or has not logged it within LEFT_TO_UPSTREAM s (the log
        keeps an item once, whoever logs it)."""
        key = (chat_id, event.id)
        if (
            chat_id in self._live_upstreams
            and event.participant_role == CUSTOMER
            and key not in self._logging
        ):
            future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
            self._left.setdefault(chat_id, {})[event.id] = future
            try:
                async with asyncio.timeout(LEFT_TO_UPSTREAM):
                    seq = await asyncio.shield(future)
            except TimeoutError:
                seq = None
            finally:
                self._take_back(chat_id, event.id, future)
            if seq is not None:
                self._logging.pop(key, None)
                return seq
        return await self.publish(chat_id, event, from_connect=False)

    def _take_back(self, chat_id: str, item_id: str, future: asyncio.Future) -> None:
        """Forgets an item the send path left, unless the upstream took it meanwhile."""
        if self._left.get(chat_id, {}).get(item_id) is future:
            self._left_to_me(chat_id, item_id)

    def _left_to_me(self, chat_id: str, item_id: str) -> asyncio.Future[int | None] | None:
        """The send path's future for an item it left to the upstream, now the upstream's to
        resolve, with the seq it logs the item with (None if it does not)."""
        left = self._left.get(chat_id)
        if left is None:
            return None
        future = left.pop(item_id, None)
        if not left:
            del self._left[chat_id]
        return future

    async def publish_many(
        self,
        chat_id: str,
        events: Sequence[ChatEvent],
        *,
        from_connect: bool = True,
        fence: Fence | None = None,
        floor: Floor = Floor.LIFT,
        early: bool = False,
    ) -> list[int | None]:
        """Logs events that arrived together in one round trip, then fans them out in order;
        the seq of each, as publish() gives it. `floor` is EventLog.append_many's.

        With `early` (what a live Connect websocket just delivered), this process's followers
        that take events before they are logged (LocalFanout.ring_early) get them first, without a
        seq: a client then shows the agent's answer without waiting for the appends before
        it. The log stays the one source of seqs, and every event is rung again once logged.

        A customer's item is published twice in this process, by the send path and by the
        upstream's echo: the second caller waits for the first's result instead of asking
        Redis, and is given its seq. The upstream waits before logging what came after the
        item, so that seq keeps Connect's order. The upstream logs under its lease's `fence`
        (LeaseLost once it is another process's)."""
        self._publishing[chat_id] += 1
        try:
            return await self._publish_many(chat_id, events, from_connect, fence, floor, early)
        finally:
            self._publishing[chat_id] -= 1
            if not self._publishing[chat_id]:
                del self._publishing[chat_id]
                settling = self._settling.pop(chat_id, None)
                if settling is not None and not settling.done():
                    settling.set_result(None)

    async def settled(self, chat_id: str, timeout: float) -> None:
        """Returns once no event of the chat is being published in this process (after
        `timeout` s at most): a long-poll woken by one event answers with those that Connect
        delivered right behind it, instead of being asked again for them."""
        if not self._publishing.get(chat_id):
            return
        settling = self._settling.get(chat_id)
        if settling is None:
            settling = self._settling[chat_id] = asyncio.get_running_loop().create_future()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.shield(settling)

    async def _publish_many(
        self,
        chat_id: str,
        events: Sequence[ChatEvent],
        from_connect: bool,
        fence: Fence | None,
        floor: Floor,
        early: bool,
    ) -> list[int | None]:
        encoded = [(event, event.to_json()) for event in events]
        if early:
            await self.ring_early(chat_id, encoded)
        waiting: dict[str, asyncio.Future[int | None]] = {}
        mine: set[str] = set()
        claimed: dict[str, asyncio.Future[int | None]] = {}
        for event, _ in encoded:
            if event.is_ephemeral or event.id in mine or event.id in waiting:
                continue
            left = self._left_to_me(chat_id, event.id) if from_connect else None
            if left is not None:
                mine.add(event.id)
                claimed[event.id] = left
                self._remember(chat_id, event.id, left)
                continue
            pending = self._logging.get((chat_id, event.id))
            if pending is not None:
                waiting[event.id] = pending
                continue
            mine.add(event.id)
            if event.participant_role == CUSTOMER:
                claimed[event.id] = self._claim(chat_id, event.id)
        try:
            known = {item_id: await pending for item_id, pending in waiting.items()}
            for item_id in known:
                # Both copies are in: the item needs remembering no longer.
                self._logging.pop((chat_id, item_id), None)
            unlogged = mine | {item_id for item_id, seq in known.items() if seq is None}
            to_log: list[tuple[ChatEvent, str]] = []
            for event, text in encoded:
                if event.id in unlogged:
                    unlogged.discard(event.id)
                    to_log.append((event, text))
            return await self._log_and_ring(
                chat_id, encoded, to_log, known, claimed, from_connect, fence, floor
            )
        finally:
            for future in claimed.values():
                if not future.done():
                    future.set_result(None)

    async def ring_early(self, chat_id: str, encoded: Sequence[tuple[ChatEvent, str]]) -> None:
        """Rings this process's early followers with events (each with its JSON) not yet
        logged: what publish_many(early=True) does before it logs them."""
        if not self.fanout.followers(chat_id):
            return
        for event, text in encoded:
            if not event.is_ephemeral and not event.earlier:
                await self.fanout.ring_early(
                    chat_id,
                    {
                        "type": "chat.early",
                        "id": event.id,
                        "event": text,
                        "receipted": event.type in RECEIPTED_TYPES,
                    },
                )

    async def _log_and_ring(
        self,
        chat_id: str,
        encoded: list[tuple[ChatEvent, str]],
        to_log: list[tuple[ChatEvent, str]],
        known: dict[str, int | None],
        claimed: dict[str, asyncio.Future[int | None]],
        from_connect: bool,
        fence: Fence | None,
        floor: Floor,
    ) -> list[int | None]:
        group_key = self.groups.key_on_log_redis(chat_group(chat_id))
        seqs: dict[str, int | None] = {}
        members = None
        if to_log:
            logged, counted = await self.log.append_many(
                chat_id,
                to_log,
                from_connect=from_connect,
                group_key=group_key,
                fence=fence,
                floor=floor,
            )
            if group_key is not None:
                members = counted
                self._counted[chat_id] = (counted, time.monotonic())
            seqs = {event.id: seq for (event, _), seq in zip(to_log, logged, strict=True)}
        # When the events were logged, a wall-clock time that other processes can compare
        # with theirs (chatbridge.metrics.EVENT_DELIVERY_LAG).
        logged_at = time.time()
        results: list[int | None] = []
        for event, text in encoded:
            if event.is_ephemeral:
                await self._ring(
                    chat_id,
                    {"type": "chat.ephemeral", "event": text},
                    group_members=self._recently_counted(chat_id),
                )
                results.append(None)
                continue
            if event.id not in seqs:
                results.append(known.get(event.id))
                continue
            seq = seqs.pop(event.id)
            known[event.id] = seq
            results.append(seq)
            if seq is None:
                continue
            logger.debug("chat_id=%s item=%s type=%s seq=%s", chat_id, event.id, event.type, seq)
            await self._ring(
                chat_id,
                {
                    "type": "chat.event",
                    "seq": seq,
                    "id": event.id,
                    "event": text,
                    "logged_at": logged_at,
                },
                group_members=members,
            )
            if event.id in claimed:
                claimed[event.id].set_result(seq)
        return results

    def _claim(self, chat_id: str, item_id: str) -> asyncio.Future[int | None]:
        """Notes that this process is logging a customer's item. The future gets its seq
        once it is logged and rung (None if it was not), and stays until the other path's
        copy of the item arrives (see publish_many), or a while if it never does."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._remember(chat_id, item_id, future)
        return future

    def _remember(self, chat_id: str, item_id: str, future: asyncio.Future[int | None]) -> None:
        self._logging[(chat_id, item_id)] = future
        if len(self._logging) > REMEMBERED_ITEMS:
            self._logging.popitem(last=False)

    async def upstream_status(self, chat_id: str, status: str, *, fence: Fence) -> None:
        """Tells clients whether ChatBridge is connected to Connect ("connected" or
        "reconnecting"), so that a UI can say so. Only the lease's holder says it (`fence`),
        and the status names it: LeaseLost if the lease is another process's."""
        written = await self._set_status(
            keys=[self._status_key(chat_id), fence.key],
            args=[f"{status}|{fence.owner}", STATUS_TTL, fence.owner],
        )
        if int(written) < 0:
            raise LeaseLost(chat_id)
        await self._ring(chat_id, {"type": "chat.upstream", "status": status})

    async def check_lease(self, chat_id: str, *, fence: Fence) -> None:
        """LeaseLost unless the lease still names its holder: what a holder asks before it
        opens a Connect websocket, which no fenced write guards. A holder that stalled while
        another process took the chat over then opens no second socket for the participant
        (Connect allows each only a few)."""
        if await self._redis.get(fence.key) != fence.owner.encode():
            raise LeaseLost(chat_id)

    async def upstream_taken_over(self, chat_id: str, *, fence: Fence) -> None:
        """A new holder's first word: if the status still says another process is connected
        (it died, or let the chat go), clients hear "reconnecting" until this one connects."""
        taken = await self._take_status(
            keys=[self._status_key(chat_id), fence.key], args=[fence.owner, STATUS_TTL]
        )
        if int(taken) < 0:
            raise LeaseLost(chat_id)
        if int(taken) > 0:
            await self._ring(chat_id, {"type": "chat.upstream", "status": RECONNECTING})

    async def current_upstream_status(self, chat_id: str) -> str:
        """ "connected" only while some process holds a live Connect websocket for the chat:
        the status says so, it names the lease's current holder, and that holder is alive
        (chatbridge.realtime.liveness). Anything else is "reconnecting": a holder that died
        stays named in the status until a new one takes the chat over."""
        status, holder = await self._redis.mget(
            self._status_key(chat_id), self._keys.chat(chat_id, "lease")
        )
        state, _, owner = (status or b"").decode().partition("|")
        if state != CONNECTED or not owner or holder is None or holder.decode() != owner:
            return RECONNECTING
        if self.liveness is not None and owner not in await self.liveness.alive([owner]):
            return RECONNECTING
        return CONNECTED

    async def ended(self, chat_id: str, reason: str) -> None:
        self._counted.pop(chat_id, None)
        await self._ring(chat_id, {"type": "chat.ended", "reason": reason})

    def _recently_counted(self, chat_id: str) -> int | None:
        counted = self._counted.get(chat_id)
        if counted is None:
            return None
        if time.monotonic() - counted[1] > TYPING_COUNT_TTL:
            del self._counted[chat_id]
            return None
        return counted[0]
