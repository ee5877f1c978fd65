"""Chats: start, status, end, send messages and events, read events (page, long-poll, SSE)."""

import logging
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Header, Path, Query, Router, Status
from pydantic import WithJsonSchema

from chatbridge import actions
from chatbridge.addresses import request_address
from chatbridge.api.auth import chat_of, issue_history_token, session_auth
from chatbridge.api.common import ERRORS
from chatbridge.api.cors import is_own_origin
from chatbridge.api.customers import (
    identity_key,
    issue_customer_token,
    new_browser_key,
    read_customer_token,
)
from chatbridge.api.events import find_seq, sse_stream, wait_for_events
from chatbridge.api.idempotency import (
    UUID4_PATTERN,
    IdempotencyRecord,
    check_key,
    check_start_key,
    digest,
    fingerprint,
    start_scope,
)
from chatbridge.api.identity import IdentityRequired, verify_identity
from chatbridge.api.limits import count_start_windows, start_windows
from chatbridge.api.middleware import arrived_at
from chatbridge.api.problems import OriginNotAllowed, WidgetNotFound
from chatbridge.api.schemas import (
    RESERVED_ATTRIBUTE_PREFIX,
    Accepted,
    ChatStatusOut,
    EventsPageOut,
    SendEventIn,
    SendMessageIn,
    SentMessageOut,
    StartChatIn,
    StartChatOut,
    StartPositionOut,
)
from chatbridge.archive.customers import previous_chat
from chatbridge.chats.records import ChatSession, PreviousChat
from chatbridge.connect.budget import ConnectBudget, calling_for
from chatbridge.connect.types import ConnectRoute
from chatbridge.errors import InvalidInput, OutsideBusinessHours
from chatbridge.runtime import get_runtime

logger = logging.getLogger(__name__)

router = Router(tags=["chats"])

# The largest seq, as every seq a client sends is bounded.
MAX_SEQ = 2**31 - 1
# A start's key as the schema promises it (check_start_key holds it to that, with its own code).
START_KEY_SCHEMA = {
    "type": "string",
    "pattern": UUID4_PATTERN,
    "examples": ["0b2f6c1e-8d4a-4f3b-9c7e-5a1d2e3f4b6c"],
}


def _enabled_widget(widget_id: str):
    from webwidget.lookup import enabled_widget

    return enabled_widget(widget_id)


async def _start_widget(request: HttpRequest, widget_id: str):
    """The enabled widget a chat starts with: from this process's copy when it is fresh
    (no thread hop on the start path), otherwise from the database on a worker thread, once
    the start's address windows are counted."""
    from webwidget.lookup import cached_widget

    found, widget = cached_widget(widget_id)
    if found:
        return widget
    await count_start_windows(request)
    return await sync_to_async(_enabled_widget)(widget_id)


@router.post(
    "/chats",
    response={201: StartChatOut, **ERRORS},
    auth=None,
    summary="Start a chat",
    description="Starts an Amazon Connect chat. With an `Idempotency-Key`, a retried start "
    "returns the same chat (with a fresh session token). Outside the widget's business hours "
    "it is refused with 409 `outside_business_hours` and `next_open`.",
)
async def start_chat(
    request: HttpRequest,
    payload: StartChatIn,
    idempotency_key: Annotated[str | None, WithJsonSchema(START_KEY_SCHEMA)] = Header(
        default=None,
        alias="Idempotency-Key",
        description="A random UUID, version 4 (`crypto.randomUUID()`), made once per chat the "
        "customer starts and sent again on its retries; any other key is refused (422 "
        "`idempotency_key_weak`). The key is scoped to the widget and, with `identity`, to its "
        "subject: whoever else sends it gets this chat, so it must not be guessable.",
    ),
):
    # The address's windows are counted by the start's first round trip (chatbridge.api.limits).
    idempotency_key = check_start_key(idempotency_key)
    widget = await _start_widget(request, payload.widget_id)
    if widget is None:
        raise WidgetNotFound(field="widget_id")
    origin = request.headers.get("Origin")
    if origin and not is_own_origin(request, origin) and not widget.allows_origin(origin):
        raise OriginNotAllowed()
    availability = widget.availability()
    if not availability.open:
        raise OutsideBusinessHours(next_open=availability.as_dict()["next_open"])
    attributes = dict(payload.attributes or {})
    for name in attributes:
        if name.startswith(RESERVED_ATTRIBUTE_PREFIX):
            raise InvalidInput(
                f"Attribute names starting with {RESERVED_ATTRIBUTE_PREFIX!r} are reserved for "
                "the verified identity.",
                field=f"attributes.{name}",
            )
    subject = ""
    if payload.identity is not None:
        identity = verify_identity(
            payload.identity, secret=widget.identity_secret, widget_id=widget.widget_id
        )
        attributes.update(identity.attributes())
        subject = identity.sub
        customer = identity_key(subject)
    elif widget.require_identity:
        raise IdentityRequired()
    else:
        customer = read_customer_token(payload.customer_token or "", widget.widget_id) or ""
    # A customer new to ChatBridge has no chat to continue: no need to look.
    returning = bool(customer)
    customer = customer or new_browser_key()
    instance_id, flow_id, region = widget.connect_route(attributes)
    route = ConnectRoute(instance_id=instance_id, contact_flow_id=flow_id, region=region)
    client_token = None
    if idempotency_key is not None:
        scope = start_scope(widget.widget_id, subject)
        body = payload.dict()
        body.pop("identity", None)
        await IdempotencyRecord(f"start:{scope}", idempotency_key, fingerprint(body)).claim(
            start_windows(request)
        )
        client_token = digest("start", widget.widget_id, subject, idempotency_key)
    previous = None
    if returning and payload.continue_previous and settings.CHATBRIDGE_CONTINUITY_WINDOW > 0:
        await count_start_windows(request)
        previous = await _previous_chat(
            widget.widget_id,
            customer,
            instance_id=instance_id or settings.CONNECT_INSTANCE_ID,
            region=region or settings.CONNECT_REGION,
        )
    runtime = get_runtime()
    # A start waiting for Connect's rate queues under a name its client can ask about.
    waiter = _start_waiter(widget.widget_id, idempotency_key) if idempotency_key else None
    with calling_for(waiter=waiter, asked_at=arrived_at(request), limits=start_windows(request)):
        started = await actions.start_chat(
            runtime,
            display_name=payload.display_name,
            widget_id=widget.widget_id,
            attributes=attributes,
            initial_message=payload.initial_message,
            client_token=client_token,
            route=route,
            customer_key=customer,
            previous=previous,
        )
    session = started.session
    if session.is_active and not started.leased:
        await runtime.supervisor.ensure(session.chat_id)
    return Status(
        201,
        {
            "chat_id": session.chat_id,
            "session_token": started.session_token,
            "expires_at": session.expires_at,
            "status": session.status.value,
            "participant_id": session.participant_id,
            "display_name": session.display_name,
            "history_token": issue_history_token(session.chat_id),
            # A retried start answers the chat of the first: and so its customer.
            "customer_token": issue_customer_token(widget.widget_id, session.customer_key),
            "continued_from": session.continued_from or None,
        },
    )


def _start_waiter(widget_id: str, idempotency_key: str) -> str:
    return digest("start-queue", widget_id, idempotency_key)


@router.get(
    "/widgets/{widget_id}/starts",
    response={200: StartPositionOut, **ERRORS},
    auth=None,
    summary="Where a chat start waits in the queue for Amazon Connect's rate",
    description="While `POST /chats` with this `Idempotency-Key` waits for its turn (Connect "
    "allows only so many chat starts per second), its place in the queue; null otherwise.",
)
async def start_position(
    request: HttpRequest,
    widget_id: str = Path(..., max_length=64),
    idempotency_key: Annotated[str, WithJsonSchema(START_KEY_SCHEMA)] = Header(
        alias="Idempotency-Key", description="The key of the waiting `POST /chats`."
    ),
):
    key = check_start_key(idempotency_key) or ""
    widget = await sync_to_async(_enabled_widget)(widget_id)
    # A widget routed to another Region queues in that Region's budget.
    region = widget.connect_region.strip() if widget is not None else ""
    position = await ConnectBudget.from_settings(region or None).position(
        "StartChatContact", _start_waiter(widget_id, key)
    )
    return {"position": position}


async def _previous_chat(
    widget_id: str, customer: str, *, instance_id: str, region: str
) -> PreviousChat | None:
    """The customer's chat to continue. A database that does not answer costs the customer
    the continuity, never the chat."""
    try:
        return await sync_to_async(previous_chat)(
            widget_id,
            customer,
            window=timedelta(seconds=settings.CHATBRIDGE_CONTINUITY_WINDOW),
            instance_id=instance_id,
            region=region,
        )
    except DatabaseError as error:
        logger.warning("chat not continued: the archive did not answer (%s)", type(error).__name__)
        return None


async def _status(session: ChatSession) -> dict:
    runtime = get_runtime()
    cursor = await runtime.log.cursor(session.chat_id)
    upstream = (
        await runtime.relay.current_upstream_status(session.chat_id)
        if session.is_active
        else "closed"
    )
    return {
        "chat_id": session.chat_id,
        "status": session.status.value,
        "ended_reason": session.ended_reason,
        "display_name": session.display_name,
        "created_at": session.created_at,
        "last_seq": cursor.last_seq,
        "upstream": upstream,
    }


@router.get(
    "/chats/{chat_id}",
    response={200: ChatStatusOut, **ERRORS},
    auth=session_auth,
    summary="A chat's status",
)
async def chat_status(request: HttpRequest, chat_id: str):
    session = await chat_of(request, chat_id)
    if session.is_active:
        await get_runtime().supervisor.ensure(chat_id)
    return await _status(session)


@router.post(
    "/chats/{chat_id}/end",
    response={200: ChatStatusOut, **ERRORS},
    auth=session_auth,
    summary="End the chat (the customer leaves)",
)
async def end_chat(request: HttpRequest, chat_id: str):
    session = await chat_of(request, chat_id)
    ended = await actions.end_chat(get_runtime(), session)
    return await _status(ended)


@router.post(
    "/chats/{chat_id}/messages",
    response={201: SentMessageOut, **ERRORS},
    auth=session_auth,
    summary="Send a message",
    description="With an `Idempotency-Key` (Connect's ClientToken), a retried send returns "
    "the first result and the agent sees the message once.",
)
async def send_message(
    request: HttpRequest,
    chat_id: str,
    payload: SendMessageIn,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
):
    session = await chat_of(request, chat_id)
    runtime = get_runtime()
    idempotency_key = check_key(idempotency_key)
    record = None
    if idempotency_key is not None:
        record = IdempotencyRecord(f"send:{chat_id}", idempotency_key, fingerprint(payload.dict()))
        stored = await record.claim()
        if stored is not None:
            return Status(201, stored)
    waited: list[int] = []

    async def queued(position: int) -> None:
        waited.append(position)

    sent, seq = await actions.send_message(
        runtime,
        session,
        content=payload.content,
        content_type=payload.content_type,
        client_id=idempotency_key,
        on_queued=queued,
    )
    if seq is None:
        seq = await find_seq(runtime.log, chat_id, sent.id)
    result = {
        "id": sent.id,
        "seq": seq,
        "absolute_time": sent.absolute_time,
        "status": "sent",
        "queued": bool(waited),
    }
    if record is not None:
        await record.save(result)
    return Status(201, result)


@router.post(
    "/chats/{chat_id}/events",
    response={202: Accepted, **ERRORS},
    auth=session_auth,
    summary="Send typing or a delivered/read receipt",
)
async def send_event(request: HttpRequest, chat_id: str, payload: SendEventIn):
    session = await chat_of(request, chat_id)
    runtime = get_runtime()
    if payload.type == "typing":
        typed = await actions.send_typing(
            runtime, session, interval=settings.CHATBRIDGE_TYPING_INTERVAL
        )
        status = "sent" if typed else "skipped"
    else:
        if not payload.message_id:
            raise InvalidInput("A receipt needs the message_id it is about.", field="message_id")
        outcome = await actions.send_receipt(
            runtime, session, message_id=payload.message_id, kind=payload.type
        )
        status = outcome.value
    return Status(202, {"accepted": True, "sent": status == "sent", "status": status})


@router.get(
    "/chats/{chat_id}/events",
    response={200: EventsPageOut, **ERRORS},
    auth=session_auth,
    summary="Events after a seq (a page, or a long-poll with wait=)",
    description="The chat's events with seq > `after`, oldest first. With `wait` (seconds), "
    "an empty answer waits until an event arrives or the chat ends. More events are waiting "
    "when `last_seq` is above the last returned seq. A long-poll counts as a live connection "
    "while it waits: over the chat's or the address's cap it is answered 429 "
    "`too_many_connections`.",
)
async def read_events(
    request: HttpRequest,
    chat_id: str,
    after: int = Query(0, ge=0, le=MAX_SEQ),
    limit: int = Query(100, ge=1, le=500),
    wait: float = Query(0, ge=0, le=30),
):
    session = await chat_of(request, chat_id)
    runtime = get_runtime()
    if session.is_active:
        await runtime.supervisor.ensure(chat_id)
    page = await wait_for_events(
        runtime,
        session,
        after=after,
        limit=limit,
        wait=min(wait, settings.CHATBRIDGE_API_MAX_WAIT),
        address=request_address(request),
    )
    return {
        "events": [{"seq": e.seq, "event": asdict(e.event)} for e in page.events],
        "last_seq": page.last_seq,
        "status": page.session.status.value,
    }


def _seq_of_last_event_id(value: str) -> int:
    """The seq a Last-Event-ID names. Only ASCII digits: str.isdigit() also passes "²", which
    int() refuses, and int() takes other scripts' digits, which no id this server sent has."""
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_SEQ)):
        raise InvalidInput("Last-Event-ID must be a seq.", field="Last-Event-ID")
    seq = int(value)
    if seq > MAX_SEQ:
        raise InvalidInput(f"Last-Event-ID must be at most {MAX_SEQ}.", field="Last-Event-ID")
    return seq


@router.get(
    "/chats/{chat_id}/events/stream",
    response={200: None, **ERRORS},
    auth=session_auth,
    summary="Server-Sent Events of the chat, resumable with Last-Event-ID",
    description="`text/event-stream`: `event: chat` (id = seq, data = the event JSON), "
    "`event: typing`, `event: upstream`, `event: ended` (then the stream ends), and a "
    "`: keep-alive` comment every 15 s. Resume with the `Last-Event-ID` header or `after`. "
    "A stream counts as a live connection while it is open: over the chat's or the address's "
    "cap it is answered 429 `too_many_connections`.",
    openapi_extra={
        "responses": {
            "200": {
                "description": "An event stream",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        }
    },
)
async def stream_events(
    request: HttpRequest,
    chat_id: str,
    after: int | None = Query(None, ge=0, le=MAX_SEQ),
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
):
    session = await chat_of(request, chat_id)
    start = after or 0
    if last_event_id is not None:
        start = _seq_of_last_event_id(last_event_id)
    runtime = get_runtime()
    slot = await runtime.slots.acquire(chat_id=chat_id, address=request_address(request))
    try:
        if session.is_active:
            await runtime.supervisor.ensure(chat_id)
    except BaseException:
        await runtime.slots.release(slot)
        raise
    response = StreamingHttpResponse(
        runtime.slots.streaming(slot, sse_stream(runtime, session, after=start)),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
