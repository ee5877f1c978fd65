"""The browser's websocket, /ws/chat/ (protocol in docs/websocket-protocol.md).

Thin: it authenticates, validates each frame, checks the connection's limits
(chatbridge.ws.limits), calls an action, and relays the chat's events from the log and the
channel layer. Every bad frame is answered with an error frame and the connection stays open;
only a connection that never authenticates, or goes idle, is closed.
"""

import asyncio
import collections
import contextlib
import json
import logging
import time
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chatbridge import actions
from chatbridge.addresses import scope_address
from chatbridge.chats.records import ChatSession
from chatbridge.errors import (
    ChatBridgeError,
    ChatEnded,
    RateLimited,
    TooManyConnections,
    UnknownMessage,
)
from chatbridge.logcontext import bind_chat
from chatbridge.metrics import WEBSOCKET_CLIENTS
from chatbridge.realtime.follower import EventLogFollower, LogCursor, shows_typing
from chatbridge.realtime.slots import Slot
from chatbridge.runtime import CLOSE_SERVICE_RESTART, Runtime, get_runtime
from chatbridge.ws.limits import ConnectionLimits, count_sync
from chatbridge.ws.protocol import (
    PROTOCOL_VERSION,
    Auth,
    End,
    Ping,
    ProtocolError,
    Receipt,
    Send,
    Sync,
    Typing,
    early_frame,
    error_frame,
    event_frame,
    logged_frame,
    parse_client_frame,
    ref_of,
)

try:  # daphne's websocket layer raises this for a send racing the client's leaving
    from autobahn.exception import Disconnected as _Gone
except ImportError:  # another ASGI server: by the ASGI spec, an OSError
    _Gone = OSError

logger = logging.getLogger(__name__)

CLOSE_AUTH_TIMEOUT = 4001
CLOSE_IDLE = 4008
CLOSE_TOO_MANY_CONNECTIONS = 4029
# Sends and ends a connection may have waiting for their turn (Connect's rate) at once.
MAX_ORDERED_FRAMES = 50
# Reads of the upstream status at authentication while statuses are rung meanwhile.
STATUS_READS = 3
# Seconds a leaving connection may take to send the receipts it still holds.
LEAVING_RECEIPTS_TIMEOUT = 10.0
# Events a connection remembers having sent early, until their seq comes.
EARLY_REMEMBERED = 32
# What ChatConsumer.early_sent gives for an event not sent early.
NOT_EARLY = object()


class ChatConsumer(EventLogFollower, AsyncWebsocketConsumer):
    touches_database = False
    # The relay of this process rings the consumer itself (Relay.follow): a connection needs
    # no channel layer channel of its own, nor the task Channels would keep reading it.
    channel_layer_alias = None

    async def connect(self) -> None:
        self.runtime: Runtime = get_runtime()
        self.session: ChatSession | None = None
        self.following = False
        self.delivery = asyncio.Lock()
        # Upstream statuses rung to this connection so far (see _send_upstream_status).
        self.statuses_rung = 0
        # Whether `ready` went out: the client hears nothing of the chat before it. An end rung
        # before then waits here (its reason) for the authentication to tell it.
        self.ready = False
        self.ended_before_ready: str | None = None
        # Whether the client takes events before they are logged (Auth.early_events), and
        # those sent so, until logged (see early).
        self.early_events = False
        self.early_sent: collections.OrderedDict[str, str | None] = collections.OrderedDict()
        self.last_activity = time.monotonic()
        self.limits = ConnectionLimits.from_settings()
        self.pending_receipts: dict[str, str] = {}
        self.receipt_flush: asyncio.Task | None = None
        # While a batch of receipts waits out its delay: resolved early when the client leaves.
        self.receipts_due: asyncio.Future | None = None
        self.leaving = False
        self.closing: asyncio.Task | None = None
        # Sends and ends waiting for their turn, and the task running them: both only while
        # there are some (see _order).
        self.ordered: collections.deque[Send | End] | None = None
        self.ordered_worker: asyncio.Task | None = None
        self.auth_deadline = self.last_activity + settings.CHATBRIDGE_WS_AUTH_TIMEOUT
        self.slots: list[Slot] = []
        await self.accept()
        WEBSOCKET_CLIENTS.inc()
        self.counted = True
        self.watchdog: asyncio.TimerHandle | None = None
        if not self.runtime.admit(self):
            # This process is shutting down: the client reconnects, to another one.
            await self.close(code=CLOSE_SERVICE_RESTART)
            return
        if await self._hold_slot(None, address=scope_address(self.scope)):
            self._watch()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "counted", False):
            self.counted = False
            WEBSOCKET_CLIENTS.dec()
        self.leaving = True
        try:
            await self._leave()
        finally:
            # Last: a process shutting down waits for its connections to be done, receipts
            # and all.
            if getattr(self, "runtime", None) is not None:
                self.runtime.forget(self)

    async def _leave(self) -> None:
        if getattr(self, "watchdog", None) is not None:
            self.watchdog.cancel()
        if getattr(self, "ordered_worker", None) is not None:
            self.ordered_worker.cancel()
        if getattr(self, "following", False):
            assert self.session is not None
            await self.runtime.relay.unfollow(self.session.chat_id, self)
        for slot in getattr(self, "slots", ()):
            try:
                await self.runtime.slots.release(slot)
            except Exception:
                logger.exception("a connection slot was left to expire")
        for item_id, receipt in list(getattr(self, "early_sent", {}).items()):
            self._forget_early(item_id, receipt)
        await self._send_receipts_on_leaving()

    async def _send_receipts_on_leaving(self) -> None:
        """Sends the receipts still waiting for their batch, now: a customer who reads a
        message and at once closes the tab or reloads the page has read it, and the agent
        sees so. Its slot is released first, so that a reload's new connection finds room."""
        flush = getattr(self, "receipt_flush", None)
        if flush is None or flush.done():
            return
        if self.receipts_due is not None and not self.receipts_due.done():
            self.receipts_due.set_result(None)
        try:
            async with asyncio.timeout(LEAVING_RECEIPTS_TIMEOUT):
                await flush
        except Exception:
            # A receipt is worth a try, not a hung disconnect: Connect or Redis are away.
            logger.warning("receipts of a leaving connection were not all sent", exc_info=True)
            flush.cancel()

    async def _hold_slot(
        self, ref: str | None, *, chat_id: str | None = None, address: str | None = None
    ) -> bool:
        """Takes a live-connection slot under the chat's or the address's cap; when the cap is
        full, says so and closes instead (4029)."""
        try:
            self.slots.append(await self.runtime.slots.acquire(chat_id=chat_id, address=address))
        except TooManyConnections as error:
            await self._send(error_frame(error, ref))
            await self.close(code=CLOSE_TOO_MANY_CONNECTIONS)
            return False
        return True

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.last_activity = time.monotonic()
        ref = None
        try:
            if text_data is None:
                raise ProtocolError("binary_not_supported", "Send frames as JSON text.")
            if len(text_data.encode()) > settings.CHATBRIDGE_WS_MAX_FRAME_BYTES:
                raise ProtocolError(
                    "frame_too_large",
                    f"Frames may be at most {settings.CHATBRIDGE_WS_MAX_FRAME_BYTES} bytes.",
                )
            ref = ref_of(text_data)
            frame = parse_client_frame(text_data)
            await self._dispatch(frame)
        except Exception as error:
            await self._answer_failure(error, ref)

    async def _answer_failure(self, error: Exception, ref: str | None) -> None:
        if isinstance(error, ChatBridgeError):
            await self._send(error_frame(error, ref))
            return
        logger.exception("websocket frame failed", exc_info=error)
        await self._send(error_frame(ChatBridgeError(), ref))

    def _order(self, frame: Send | End) -> None:
        """Queues a send or an end behind the connection's earlier ones. They may wait for
        Connect's rate (chatbridge.connect.budget), and the connection's other frames (pings,
        typing, receipts, syncs) must not wait with them; their own order is the customer's.

        The task that runs them lives only while some are waiting: most connections send
        now and then, and a task with its queue held for each would cost memory per chat."""
        if self.ordered is None:
            self.ordered = collections.deque()
            self.ordered_worker = asyncio.create_task(self._run_ordered(self.ordered))
        elif len(self.ordered) >= MAX_ORDERED_FRAMES:
            raise RateLimited("Too many messages are waiting to be sent; wait for their acks.")
        self.ordered.append(frame)

    async def _run_ordered(self, frames: collections.deque[Send | End]) -> None:
        """Runs the waiting frames in order, then ends: the next send starts a new run. No
        await separates the last check for frames from the end of the run, so none is left
        behind."""
        while frames:
            frame = frames.popleft()
            try:
                await self._run(frame)
            except Exception as error:
                await self._answer_failure(error, frame.ref)
        self.ordered = None
        self.ordered_worker = None

    async def _dispatch(self, frame: Any) -> None:
        if isinstance(frame, Ping):
            await self._send({"type": "pong", "ref": frame.ref})
            return
        if isinstance(frame, Auth):
            await self._authenticate(frame)
            return
        if self.session is None:
            raise ProtocolError("not_authenticated", "Send an auth frame first.")
        if isinstance(frame, Send):
            self.limits.send.take()
            self._order(frame)
        elif isinstance(frame, End):
            self.limits.end.take()
            self._order(frame)
        else:
            await self._run(frame)

    async def _run(self, frame: Any) -> None:
        session = self.session
        assert session is not None
        if not isinstance(frame, Sync):  # the others call Connect
            session = await self._current_session()
        if isinstance(frame, Send):
            ref = frame.ref or frame.client_id

            async def queued(position: int) -> None:
                await self._send(
                    {"type": "ack", "ref": ref, "status": "queued", "position": position}
                )

            sent, seq = await actions.send_message(
                self.runtime,
                session,
                content=frame.content,
                content_type=frame.content_type,
                client_id=frame.client_id,
                on_queued=queued if self.queued_acks else None,
            )
            await self._send(
                {"type": "ack", "ref": ref, "status": "sent", "id": sent.id, "seq": seq}
            )
        elif isinstance(frame, Typing):
            self.limits.typing.take()
            sent = await actions.send_typing(
                self.runtime, session, interval=settings.CHATBRIDGE_TYPING_INTERVAL
            )
            await self._send({"type": "ack", "ref": frame.ref, "sent": sent})
        elif isinstance(frame, Receipt):
            self.limits.receipt.take()
            early = self.early_sent.get(frame.message_id, NOT_EARLY)
            if early is None:
                raise UnknownMessage()
            await actions.accept_receipt(
                self.runtime, session, message_id=frame.message_id, known=early is not NOT_EARLY
            )
            if early is NOT_EARLY:
                self._queue_receipt(frame.message_id, frame.kind)
            elif early != "read":
                # Held until the message is logged (send_logged): Connect has it already.
                self.early_sent[frame.message_id] = frame.kind
            await self._send({"type": "ack", "ref": frame.ref})
        elif isinstance(frame, End):
            self.session = await actions.end_chat(self.runtime, session)
            await self._send({"type": "ack", "ref": frame.ref})
        elif isinstance(frame, Sync):
            self.limits.sync.take()
            await count_sync(session.chat_id)
            last_seq = await self.catch_up(rewind_to=frame.after)
            await self._send({"type": "ack", "ref": frame.ref, "last_seq": last_seq})

    async def _current_session(self) -> ChatSession:
        """The connection's session, with the chat's current connection once the one it
        holds is due for refresh: a client that authenticated before the chat's first
        connection came, or whose chat another tab refreshed, then makes its calls without
        asking the chat's refresh lock each time."""
        session = self.session
        assert session is not None
        if session.is_active and self.runtime.service.needs_refresh(session):
            try:
                session = await self.runtime.service.refresh(session)
            except ChatEnded:  # as recorded: the call then answers as for any ended chat
                session = await self.runtime.service.store.load(session.chat_id)
            self.session = session
        return session

    async def _authenticate(self, frame: Auth) -> None:
        if self.session is not None:
            raise ProtocolError("already_authenticated", "This connection is authenticated.")
        await self.runtime.relay.live_first.turn()
        session = await self.runtime.service.authenticate(frame.token)
        if not await self._hold_slot(frame.ref, chat_id=session.chat_id):
            return
        self.session = session
        self.queued_acks = frame.queued_acks
        self.early_events = frame.early_events
        # The consumer's later frames run in this task: their log lines name the chat.
        bind_chat(session.chat_id)
        self.following = True
        await self.runtime.relay.follow(session.chat_id, self)
        cursor = await self.runtime.log.cursor(session.chat_id)
        await self._send(
            {
                "type": "ready",
                "ref": frame.ref,
                "protocol": PROTOCOL_VERSION,
                "chat_id": session.chat_id,
                "status": session.status.value,
                "participant_id": session.participant_id,
                "display_name": session.display_name,
                "last_seq": cursor.last_seq,
            }
        )
        self.ready = True
        await self.follow_log(LogCursor(self.runtime.log, session.chat_id, frame.after))
        if self.ended_before_ready is not None:
            await self.chat_ended({"reason": self.ended_before_ready})
        elif session.is_active:
            await self.runtime.supervisor.ensure(session.chat_id)
            await self._send_upstream_status(session.chat_id)
        else:
            await self._send({"type": "ended", "reason": session.ended_reason})

    async def _send_upstream_status(self, chat_id: str) -> None:
        """The chat's upstream status as it stands, after `ready` and the events.

        The connection already follows the chat, so a status rung while this one is read
        reaches the client first, and may be newer than what the read saw: the holder writes
        its status, then rings it. Sent after the ring, that stale read would be the client's
        last word, "reconnecting" for good on a connected chat. So a read during which a
        status was rung is read again; after STATUS_READS reads the last one is sent anyway
        (the rings it raced are sent, and so is every later one)."""
        for _ in range(STATUS_READS):
            rung = self.statuses_rung
            status = await self.runtime.relay.current_upstream_status(chat_id)
            if self.statuses_rung == rung:
                break
        await self._send({"type": "upstream", "status": status})

    async def send_logged(self, seq: int, event_json: str, item_id: str | None) -> None:
        if item_id is None or item_id not in self.early_sent:
            await self.send(text_data=event_frame(seq, event_json))
            return
        receipt = self.early_sent.pop(item_id)
        await self.send(text_data=logged_frame(item_id, seq))
        if receipt:
            self._queue_receipt(item_id, receipt)

    async def early(self, message: dict[str, Any]) -> None:
        """An event rung before it is logged (Relay.publish_many), for a client that asked.

        Until its seq comes, the connection remembers it: None for an event that no receipt
        may name, else the receipt the client asked for meanwhile ("" for none yet). The
        client may read the message at once, and a receipt then must neither find the log
        without it nor wait, holding the connection's frames: it is held and batched once
        the message is logged."""
        if not (self.early_events and self.ready) or self.cursor is None:
            return
        item_id = message["id"]
        if item_id in self.early_sent or self.cursor.has_delivered(item_id):
            return
        await self.send(text_data=early_frame(message["event"]))
        # Logged and sent meanwhile (rung from another process's append), it needs no seq.
        if not self.cursor.has_delivered(item_id):
            self.early_sent[item_id] = "" if message["receipted"] else None
            if len(self.early_sent) > EARLY_REMEMBERED:
                self._forget_early(*self.early_sent.popitem(last=False))

    def _forget_early(self, item_id: str, receipt: str | None) -> None:
        """Lets a receipt held for an early event go without its seq: the message came from
        Connect, which takes the receipt whether or not the log has it yet."""
        if receipt:
            self._queue_receipt(item_id, receipt)

    # What the relay rings: chat_event (the doorbell) comes from EventLogFollower.

    async def chat_ephemeral(self, message: dict[str, Any]) -> None:
        if not self.ready:
            return
        session = self.session
        if shows_typing(message["event"], session.participant_id if session else None):
            await self.send(text_data=f'{{"type":"typing","event":{message["event"]}}}')

    async def chat_upstream(self, message: dict[str, Any]) -> None:
        """Before `ready`, the status read that follows it tells the client instead."""
        self.statuses_rung += 1
        if self.ready:
            await self._send({"type": "upstream", "status": message["status"]})

    async def chat_ended(self, message: dict[str, Any]) -> None:
        if not self.ready:
            self.ended_before_ready = message["reason"]
            return
        if self.session is not None:
            await self.catch_up()
            with contextlib.suppress(ChatBridgeError):
                self.session = await self.runtime.service.store.load(self.session.chat_id)
        await self._send({"type": "ended", "reason": message["reason"]})

    def _queue_receipt(self, message_id: str, kind: str) -> None:
        """Batches receipts: a delivered receipt waits briefly so a read one can replace it."""
        if self.pending_receipts.get(message_id) != "read":
            self.pending_receipts[message_id] = kind
        if self.receipt_flush is None or self.receipt_flush.done():
            self.receipt_flush = asyncio.create_task(self._flush_receipts())

    async def _flush_receipts(self) -> None:
        """Sends batch after batch until none is pending: a receipt queued while a batch is
        being sent finds this task still running, and goes in the next batch."""
        while self.pending_receipts:
            if not self.leaving:
                await self._receipts_delay()
            pending, self.pending_receipts = self.pending_receipts, {}
            for message_id, kind in pending.items():
                if self.session is None:
                    return
                try:
                    await actions.deliver_receipt(
                        self.runtime,
                        await self._current_session(),
                        message_id=message_id,
                        kind=kind,
                    )
                except ChatEnded:
                    return
                except ChatBridgeError as error:
                    if self.leaving:
                        logger.info("a leaving connection's receipt was refused: %s", error.code)
                    else:
                        await self._send(error_frame(error))

    async def _receipts_delay(self) -> None:
        """CHATBRIDGE_RECEIPT_DELAY, cut short if the client leaves meanwhile (disconnect)."""
        loop = asyncio.get_running_loop()
        due = self.receipts_due = loop.create_future()
        timer = loop.call_later(settings.CHATBRIDGE_RECEIPT_DELAY, _settle, due)
        try:
            await due
        finally:
            timer.cancel()
            self.receipts_due = None

    def _watch(self) -> None:
        """Closes a connection that never authenticates or falls silent. A timer, not a task:
        it costs next to nothing per connection."""
        self.watchdog = None
        now = time.monotonic()
        if self.session is None and now >= self.auth_deadline:
            self._close_soon("auth_timeout", "No auth frame arrived in time.", CLOSE_AUTH_TIMEOUT)
            return
        idle_deadline = self.last_activity + settings.CHATBRIDGE_WS_IDLE_TIMEOUT
        if now >= idle_deadline:
            self._close_soon("idle_timeout", "The connection was idle too long.", CLOSE_IDLE)
            return
        next_check = idle_deadline if self.session else min(self.auth_deadline, idle_deadline)
        self.watchdog = asyncio.get_running_loop().call_later(
            max(next_check - now, 0.05), self._watch
        )

    def _close_soon(self, code: str, message: str, close_code: int) -> None:
        self.closing = asyncio.create_task(self._close_with(code, message, close_code))

    async def _close_with(self, code: str, message: str, close_code: int) -> None:
        await self._send({"type": "error", "code": code, "message": message})
        await self.close(code=close_code)

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        """Channels' send, minus the error of a frame for a client that has just left: its
        disconnect is on its way, and there is nobody left to tell."""
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except (_Gone, OSError):
            logger.debug("a frame for a client that left was dropped")

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))


def _settle(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
