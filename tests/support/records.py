"""Builders of ChatBridge's records for tests: events, sessions, the test key prefix."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from chatbridge.chats.events import EVENT, MESSAGE, ChatEvent
from chatbridge.chats.records import ChatSession, ChatStatus
from chatbridge.connect.types import ContentType
from chatbridge.realtime.eventlog import EventLog

PREFIX = "test"
STARTED = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def message(
    item_id: str,
    content: str = "Hello",
    *,
    role: str = "CUSTOMER",
    name: str = "Ada",
    second: int = 0,
) -> ChatEvent:
    return ChatEvent(
        id=item_id,
        type=MESSAGE,
        content_type=ContentType.TEXT,
        content=content,
        participant_role=role,
        participant_id=f"{role.lower()}-1",
        display_name=name,
        absolute_time=f"2026-01-01T10:00:{second:02d}.000Z",
    )


def connect_event(
    item_id: str, content_type: str, *, role: str = "AGENT", name: str = "Alice", second: int = 0
) -> ChatEvent:
    return ChatEvent(
        id=item_id,
        type=EVENT,
        content_type=content_type,
        content=None,
        participant_role=role,
        participant_id=f"{role.lower()}-1",
        display_name=name,
        absolute_time=f"2026-01-01T10:00:{second:02d}.000Z",
    )


def session(chat_id: str = "chat-1") -> ChatSession:
    return ChatSession(
        chat_id=chat_id,
        contact_id=f"contact-of-{chat_id}",
        participant_id="participant-1",
        participant_token="participant-token-secret",
        connection_token="connection-token-secret",
        connection_expires_at=STARTED + timedelta(days=1),
        generation=1,
        status=ChatStatus.ACTIVE,
        display_name="Ada",
        widget_id="support",
        created_at=STARTED,
        expires_at=STARTED + timedelta(hours=25),
    )


def ended(chat: ChatSession, reason: str = "customer_left") -> ChatSession:
    return replace(
        chat,
        status=ChatStatus.ENDED,
        ended_at=STARTED + timedelta(minutes=5),
        ended_reason=reason,
    )


async def append(
    log: EventLog, chat_id: str, event: ChatEvent, *, from_connect: bool = True
) -> int | None:
    """Logs one event as a lone frame is logged; its seq, or None if already logged."""
    seqs, _ = await log.append_many(chat_id, [(event, event.to_json())], from_connect=from_connect)
    return seqs[0]
