"""One chat's Connect participant websocket, kept open while this process holds the lease.

The loop: get a fresh websocket URL (create_participant_connection), connect well within its
100 s validity, subscribe to aws/chat, fill the gap since the last logged item with
get_transcript, then relay every item until the socket drops, a heartbeat goes unanswered or
the connection token is about to expire. Then reconnect, after a jittered exponential backoff
if something failed. It stops when the chat ends or the lease is lost: everything it writes
(events, status) is fenced by its lease, and the first refused write stops it.
"""

import asyncio
import functools
import json
import logging
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.proxy import get_proxy
from websockets.uri import parse_uri

from chatbridge.chats.events import from_item
from chatbridge.chats.records import ChatSession
from chatbridge.chats.service import ChatService
from chatbridge.connect.types import TranscriptItem
from chatbridge.errors import ChatBridgeError, ChatEnded, InvalidInput, UnknownChat
from chatbridge.metrics import UPSTREAMS
from chatbridge.realtime.eventlog import EventLog, Floor, LogRegressed
from chatbridge.realtime.leases import Fence, LeaseLost
from chatbridge.realtime.relay import Relay
from chatbridge.realtime.socket_buffer import has_buffered

logger = logging.getLogger(__name__)

SUBSCRIBE = json.dumps({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}})
HEARTBEAT = json.dumps({"topic": "aws/heartbeat"})
# Transcript items logged per append when a gap is filled.
GAP_FILL_BATCH = 100


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    heartbeat_interval: float = 10.0
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    backoff_jitter: float = 0.3
    refresh_margin: float = 60.0
    open_timeout: float = 10.0


@functools.lru_cache(maxsize=64)
def _proxy_for(scheme: str, host: str, port: int | None) -> str | None:
    """The proxy that the environment (HTTPS_PROXY, NO_PROXY...) names for Connect's websockets
    on `host`, as websockets would find it. Looked up once per host: websockets reads the
    whole environment on every connection, and a process opens one per chat and reconnect."""
    netloc = host if port is None else f"{host}:{port}"
    return get_proxy(parse_uri(f"{scheme}://{netloc}/"))


def proxy_for(url: str) -> str | None:
    parsed = parse_uri(url)
    return _proxy_for("wss" if parsed.secure else "ws", parsed.host, parsed.port)


class Backoff:
    """1 s doubling to 30 s, each delay jittered by ±30 %, as chatjs does."""

    __slots__ = ("_config", "_attempt")

    def __init__(self, config: UpstreamConfig) -> None:
        self._config = config
        self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0

    def next_delay(self) -> float:
        base = min(self._config.backoff_max, self._config.backoff_initial * 2**self._attempt)
        self._attempt += 1
        jitter = self._config.backoff_jitter
        return base * random.uniform(1 - jitter, 1 + jitter)


class _Reconnect(Exception):
    """The socket must be replaced (dropped, silent or about to expire)."""


class _Finished(Exception):
    """The chat was over (its end `reason`), or gone (None), before the socket opened."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason)
        self.reason = reason


class _ChatOver(Exception):
    """Connect said the chat ended."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Keepalive:
    """The timers of one Connect websocket: an aws/heartbeat every interval, and a close when
    one is still unanswered as the next falls due, or when the connection is due for refresh.

    Event-loop timers rather than a task or a timeout around every read: a chat's socket
    costs nothing between its frames.
    """

    __slots__ = ("_socket", "_chat_id", "_interval", "_unanswered", "_tasks", "_beat", "_refresh")

    def __init__(
        self, socket: ClientConnection, *, chat_id: str, interval: float, refresh_in: float
    ) -> None:
        self._socket = socket
        self._chat_id = chat_id
        self._interval = interval
        self._unanswered = False
        self._tasks: set[asyncio.Task] | None = None
        loop = asyncio.get_running_loop()
        self._beat = loop.call_later(interval, self._tick)
        self._refresh = loop.call_later(max(refresh_in, 0), self._close, 1000, "refresh")

    def answered(self) -> None:
        self._unanswered = False

    def cancel(self) -> None:
        self._beat.cancel()
        self._refresh.cancel()

    def _tick(self) -> None:
        if self._unanswered:
            logger.info("upstream heartbeat missed chat_id=%s", self._chat_id)
            self._close(4000, "heartbeat missed")
            return
        self._unanswered = True
        self._spawn(self._socket.send(HEARTBEAT))
        self._beat = asyncio.get_running_loop().call_later(self._interval, self._tick)

    def _close(self, code: int, reason: str) -> None:
        self._spawn(self._socket.close(code=code, reason=reason))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task) -> None:
        if self._tasks is not None:
            self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # a send on a socket that just closed: the read loop handles it


class Upstream:
    __slots__ = (
        "chat_id",
        "service",
        "relay",
        "log",
        "config",
        "fence",
        "_connected",
        "state",
        "lease_lost",
    )

    def __init__(
        self,
        chat_id: str,
        *,
        service: ChatService,
        relay: Relay,
        log: EventLog,
        config: UpstreamConfig,
        fence: Fence,
    ) -> None:
        self.chat_id = chat_id
        self.fence = fence
        self.service = service
        self.relay = relay
        self.log = log
        self.config = config
        self._connected = False
        # Where it stands, as chatbridge.metrics.UPSTREAMS counts it (None: not running).
        self.state: str | None = None
        # Whether it stopped because a fenced write found the lease another process's.
        self.lease_lost = False

    @property
    def connected(self) -> bool:
        """Whether it holds a subscribed Connect websocket of the chat: the relay hears of it,
        and leaves the logging of the customer's items to it (Relay.publish_sent)."""
        return self._connected

    @connected.setter
    def connected(self, connected: bool) -> None:
        if connected != self._connected:
            self._connected = connected
            self.relay.upstream_live(self.chat_id, connected)

    async def run(self) -> None:
        """Relays until the chat ends or the lease is lost; cancel the task to stop early."""
        try:
            await self.relay.live_first.turn()
            await self.relay.upstream_taken_over(self.chat_id, fence=self.fence)
            await self._run()
        except LeaseLost:
            self.lease_lost = True
            logger.warning("upstream stopped: lease lost chat_id=%s", self.chat_id)
        finally:
            self.connected = False
            self._enter(None)

    def _enter(self, state: str | None) -> None:
        if self.state is not None:
            UPSTREAMS.labels(state=self.state).dec()
        if state is not None:
            UPSTREAMS.labels(state=state).inc()
        self.state = state

    async def _run(self) -> None:
        backoff = Backoff(self.config)
        while True:
            self._enter("connecting")
            try:
                await self._connect_and_relay(backoff)
            except _Finished as finished:
                if finished.reason is not None:
                    await self.relay.ended(self.chat_id, finished.reason)
                return
            except ChatEnded:
                await self._end("connect_access_denied")
                return
            except _ChatOver as over:
                await self._end(over.reason)
                return
            except (_Reconnect, ChatBridgeError, OSError, TimeoutError) as exc:
                logger.info(
                    "upstream reconnecting chat_id=%s reason=%s", self.chat_id, type(exc).__name__
                )
            except websockets.WebSocketException as exc:
                logger.info(
                    "upstream reconnecting chat_id=%s reason=%s", self.chat_id, type(exc).__name__
                )
            if self.connected:
                self.connected = False
                await self.relay.upstream_status(self.chat_id, "reconnecting", fence=self.fence)
            self._enter("backing_off")
            await asyncio.sleep(backoff.next_delay())

    async def _connect_and_relay(self, backoff: Backoff) -> None:
        socket, refresh_at = await self._open(backoff)
        try:
            await self._relay_frames(socket, refresh_at)
        finally:
            await socket.close()
        raise _Reconnect()

    async def _open(self, backoff: Backoff) -> tuple[ClientConnection, float]:
        """Connects, subscribes and fills the gap; the socket, and when it is due for refresh.

        The session, with its tokens, lives only while connecting: nothing of it stays
        referenced while the chat's frames are relayed."""
        live_first = self.relay.live_first
        await live_first.turn()
        try:
            session = await self.service.store.load(self.chat_id)
        except UnknownChat:
            raise _Finished(None) from None
        if not session.is_active:
            raise _Finished(session.ended_reason)
        await live_first.turn()
        session, connection = await self.service.open_connection(session)
        # The budget may have kept it waiting: the lease may be another process's by now.
        await self.relay.check_lease(self.chat_id, fence=self.fence)
        await live_first.turn()
        socket = await websockets.connect(
            connection.websocket_url,
            proxy=proxy_for(connection.websocket_url),
            open_timeout=self.config.open_timeout,
            ping_interval=None,
            max_size=2**20,
            # Chat frames are small; per-message deflate would cost ~40 KiB per chat.
            compression=None,
        )
        _forget_handshake(socket)
        try:
            await socket.send(SUBSCRIBE)
            await self._await_subscribed(socket)
            await live_first.turn()
            await self._fill_gap(session)
        except BaseException:
            await socket.close()
            raise
        backoff.reset()
        self.connected = True
        self._enter("connected")
        await self.relay.upstream_status(self.chat_id, "connected", fence=self.fence)
        return socket, connection.connection_expires_at.timestamp() - self.config.refresh_margin

    async def _await_subscribed(self, socket: ClientConnection) -> None:
        async with asyncio.timeout(self.config.open_timeout):
            async for raw in socket:
                frame = _parse(raw)
                if frame.get("topic") == "aws/subscribe":
                    status = (frame.get("content") or {}).get("status")
                    if status != "success":
                        raise _Reconnect()
                    return
                if frame.get("topic") == "aws/chat":
                    await self._relay_frame(frame)
        raise _Reconnect()

    async def _fill_gap(self, session: ChatSession) -> None:
        """Everything Connect has that the log lacks, in AbsoluteTime order.

        This is also how a log that a Redis failover cut short is repaired: its cursor names
        the last item the new primary has, and what came after is logged again."""
        cursor = await self.log.cursor(self.chat_id)
        try:
            items = await self.service.full_transcript(session, after_id=cursor.last_item_id)
        except InvalidInput:
            items = await self.service.full_transcript(session)
        for start in range(0, len(items), GAP_FILL_BATCH):
            await self._relay_items(items[start : start + GAP_FILL_BATCH], floor=Floor.REPAIR)

    async def _relay_frames(self, socket: ClientConnection, refresh_at: float) -> None:
        """Relays frames until the socket closes: dropped by Connect, or closed by the
        keepalive when a heartbeat goes unanswered or the connection is due for refresh.

        The frames already received when one is read are relayed with it, in one append."""
        keepalive = _Keepalive(
            socket,
            chat_id=self.chat_id,
            interval=self.config.heartbeat_interval,
            refresh_in=refresh_at - time.time(),
        )
        try:
            while True:
                await self._relay_received(socket, keepalive, await socket.recv())
        except websockets.ConnectionClosedOK:
            return
        finally:
            keepalive.cancel()

    async def _relay_received(
        self, socket: ClientConnection, keepalive: _Keepalive, first: str | bytes
    ) -> None:
        """Relays a frame and those received with it. A function of its own so that nothing
        of them stays referenced while the socket waits for the next."""
        with self.relay.live_first.live():
            frames = [first]
            while has_buffered(socket):
                frames.append(await socket.recv())
            items = []
            for raw in frames:
                frame = _parse(raw)
                topic = frame.get("topic")
                if topic == "aws/heartbeat":
                    keepalive.answered()
                elif topic == "aws/chat":
                    item = self._item_of(frame)
                    if item is not None:
                        items.append(item)
            if items:
                await self._relay_items(items, early=True)

    async def _relay_frame(self, frame: dict) -> None:
        item = self._item_of(frame)
        if item is not None:
            await self._relay_items([item])

    def _item_of(self, frame: dict) -> TranscriptItem | None:
        try:
            return TranscriptItem.from_connect(json.loads(frame["content"]))
        except (KeyError, TypeError, ValueError):
            logger.warning("upstream dropped a malformed aws/chat frame chat_id=%s", self.chat_id)
            return None

    async def _relay_items(
        self, items: list[TranscriptItem], *, floor: Floor = Floor.STRICT, early: bool = False
    ) -> None:
        """`early` for what the websocket just delivered (Relay.publish_many)."""
        events = [event for event in map(from_item, items) if event is not None]
        if not events:
            return
        try:
            await self.relay.publish_many(
                self.chat_id, events, fence=self.fence, floor=floor, early=early
            )
        except LogRegressed:
            logger.warning("event log lost entries, repairing it chat_id=%s", self.chat_id)
            await self._repair_log()
            await self.relay.publish_many(self.chat_id, events, fence=self.fence, floor=floor)
        if any(event.ends_chat for event in events):
            raise _ChatOver("chat_ended")

    async def _repair_log(self) -> None:
        """Logs again what Connect has after the log's cursor, before anything newer."""
        try:
            session = await self.service.store.load(self.chat_id)
        except UnknownChat:
            raise _Finished(None) from None
        await self._fill_gap(session)

    async def _end(self, reason: str) -> None:
        self.connected = False
        try:
            session = await self.service.store.load(self.chat_id)
        except UnknownChat:
            return
        session = await self.service.end(session, reason)
        await self.relay.ended(self.chat_id, session.ended_reason)


def _forget_handshake(socket: ClientConnection) -> None:
    """Drops the opening handshake's request (its URL carries the connection's token) and
    the response's headers: nothing reads them again, and they cost some 3 KiB per chat. The
    response itself stays: the connection tells the handshake from the frames by it."""
    socket.request = None
    if socket.response is not None:
        socket.response.headers.clear()


def _parse(raw: str | bytes) -> dict:
    try:
        frame = json.loads(raw)
    except ValueError:
        return {}
    return frame if isinstance(frame, dict) else {}
