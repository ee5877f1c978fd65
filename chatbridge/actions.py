"""What a customer does in a chat, shared by the websocket consumer and the REST API.

Each action calls Connect through the chat service and records its result in the event log at
once, so the customer's own message appears exactly once whether or not, and whenever,
Connect echoes it on the websocket (the log de-duplicates by Connect's item id).

Whatever costs a Connect call or Redis counts against a window of the chat that every tab,
process and API shares (settings.CHATBRIDGE_CHAT_*_PER_MINUTE; typing: one per
CHATBRIDGE_TYPING_INTERVAL); beyond it, RateLimited. The websocket adds its own limits per
connection (chatbridge.ws.limits).

Connect calls spend the shared Connect budget (chatbridge.connect.budget): a message waits
for it (the caller hears `on_queued` first), typing is dropped when it has no token free, and
a chat's receipts share one pending place (chatbridge.chats.receipts).
"""

from collections.abc import Awaitable, Callable

from django.conf import settings

from chatbridge.chats.events import CUSTOMER, MESSAGE, ChatEvent
from chatbridge.chats.receipts import ReceiptOutcome, send_coalesced
from chatbridge.chats.records import ChatSession, StartedChat
from chatbridge.connect.budget import CountedLimits, calling_for
from chatbridge.connect.budget import current as current_call
from chatbridge.connect.types import ContentType, SentItem
from chatbridge.errors import Dropped, UnknownMessage
from chatbridge.ratelimit import (
    WINDOWS_LUA,
    Window,
    chat_window,
    first_within,
    hit_chat_window,
    refusal,
    window_args,
    window_share,
)
from chatbridge.redis import get_redis, keys
from chatbridge.runtime import Runtime

# Seconds a sent receipt is remembered, so that other tabs do not send it again.
RECEIPT_MEMORY = 24 * 3600


async def start_chat(runtime: Runtime, **request: object) -> StartedChat:
    """Starts a chat (ChatService.start_chat's arguments), whose upstream this process holds
    from the moment it is stored (StartedChat.leased; a retried start's chat excepted).

    A chat that continues an earlier one gets that earlier conversation logged in one append
    before its session token leaves this call, so no send of the customer's can be logged
    ahead of it. An upstream that connects meanwhile logs Connect's whole transcript, which
    holds the same items first and in the same order; the log keeps each item once."""
    started = await runtime.service.start_chat(  # type: ignore[arg-type]
        **request, upstream=runtime.supervisor.claim()
    )
    if started.earlier:
        await runtime.relay.publish_many(started.session.chat_id, list(started.earlier))
    return started


async def send_message(
    runtime: Runtime,
    session: ChatSession,
    *,
    content: str,
    content_type: str = ContentType.TEXT,
    client_id: str | None = None,
    on_queued: Callable[[int], Awaitable[None]] | None = None,
) -> tuple[SentItem, int | None]:
    """Sends and logs a message; the Connect item and its seq (None if already logged).

    Every client of the chat (tabs, apps, websocket and REST alike) shares one message window
    (settings.CHATBRIDGE_CHAT_MESSAGES_PER_MINUTE); beyond it, RateLimited. When the message
    has to wait for the Connect budget, `on_queued` hears its place in the queue first. The
    window is counted in the round trip that takes the call's budget token, or, where that
    token was leased, from the process's share of the window (window_share)."""
    limit = settings.CHATBRIDGE_CHAT_MESSAGES_PER_MINUTE
    window = chat_window(session.chat_id, "send", limit=limit)
    counted = counted_with_the_call([window], share=window_share(limit))
    announce = on_queued or current_call().on_queued
    with runtime.relay.live_first.live() as under_way:

        async def queued(position: int) -> None:
            under_way.end()  # setups need not wait while it waits for Connect's rate
            if announce is not None:
                await announce(position)

        with calling_for(on_queued=queued, limits=counted):
            sent = await runtime.service.send_message(
                session,
                content=content,
                content_type=content_type,
                client_id=_client_token(session, client_id),
            )
        seq = await runtime.relay.publish_sent(
            session.chat_id,
            ChatEvent(
                id=sent.id,
                type=MESSAGE,
                content_type=content_type,
                content=content,
                participant_role=CUSTOMER,
                participant_id=session.participant_id,
                display_name=session.display_name,
                absolute_time=sent.absolute_time,
            ),
        )
    return sent, seq


async def send_typing(runtime: Runtime, session: ChatSession, *, interval: float) -> bool:
    """Sends a typing event at most once per `interval` per chat; True if it was sent. Typing
    is best-effort: without a token of the Connect budget free now, it is not sent."""
    if not await first_within(get_redis(), keys().chat(session.chat_id, "typing"), interval):
        return False
    try:
        await runtime.service.send_typing(session)
    except Dropped:
        return False
    return True


async def send_receipt(
    runtime: Runtime, session: ChatSession, *, message_id: str, kind: str
) -> ReceiptOutcome:
    """Accepts and sends a receipt at once (accept_receipt, then deliver_receipt)."""
    await accept_receipt(runtime, session, message_id=message_id)
    return await deliver_receipt(runtime, session, message_id=message_id, kind=kind)


async def accept_receipt(
    runtime: Runtime, session: ChatSession, *, message_id: str, known: bool = False
) -> None:
    """Counts a receipt against the chat's window (CHATBRIDGE_CHAT_RECEIPTS_PER_MINUTE) and
    refuses one for a message the chat's log does not hold (UnknownMessage): what a client
    asks for is checked when it asks, even if the websocket sends it later in a batch.
    `known` for a message that Connect has just delivered and that is on its way into the
    log (a websocket's early event)."""
    await hit_chat_window(
        session.chat_id, "receipt", limit=settings.CHATBRIDGE_CHAT_RECEIPTS_PER_MINUTE
    )
    if not known and not await runtime.log.has_message(session.chat_id, message_id):
        raise UnknownMessage()


async def deliver_receipt(
    runtime: Runtime, session: ChatSession, *, message_id: str, kind: str
) -> ReceiptOutcome:
    """Sends an accepted receipt once per message and kind, whichever tab asks first: SENT if
    this call sent it, QUEUED if it waits as the chat's one pending receipt (sent by the call
    sending the chat's receipts), SKIPPED if already sent or made moot by a pending read."""
    marker = keys().chat(session.chat_id, "receipt", kind, message_id)
    if not await first_within(get_redis(), marker, RECEIPT_MEMORY):
        return ReceiptOutcome.SKIPPED

    async def send(kind: str, message_id: str) -> None:
        await runtime.service.send_receipt(session, message_id=message_id, kind=kind)

    return await send_coalesced(
        session.chat_id,
        kind,
        message_id,
        send,
        ttl=2 * settings.CHATBRIDGE_CONNECT_MAX_WAIT + 5,
    )


async def end_chat(runtime: Runtime, session: ChatSession) -> ChatSession:
    """The customer leaves. Counts against the chat's window of ends
    (CHATBRIDGE_CHAT_ENDS_PER_MINUTE): each, even of an ended chat, writes Redis and tells
    every tab."""
    await hit_chat_window(session.chat_id, "end", limit=settings.CHATBRIDGE_CHAT_ENDS_PER_MINUTE)
    ended = await runtime.service.disconnect(session)
    await runtime.relay.ended(session.chat_id, ended.ended_reason)
    return ended


def counted_with_the_call(windows: list[Window], *, share: int = 0) -> CountedLimits:
    """`windows`, to be counted by the first Connect call made for them, in the round trip
    that takes its budget token (chatbridge.connect.budget.CountedLimits), `share` hits of
    each ahead with a lease."""

    def refuse(refused: int, ttl_ms: int) -> Exception:
        over = refusal(windows, refused, ttl_ms)
        assert over is not None
        return over.error()

    return CountedLimits(
        lua=WINDOWS_LUA,
        keys=[window.key for window in windows],
        args=window_args(windows),
        refuse=refuse,
        share=share,
    )


def _client_token(session: ChatSession, client_id: str | None) -> str | None:
    """Connect's ClientToken for a client id, scoped to the chat so ids never collide."""
    if client_id is None:
        return None
    return f"{session.chat_id}:{client_id}"
