"""Fixtures for the archive: a real event log and archiver on the test Redis."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chatbridge.archive.worker import Archiver
from chatbridge.chats.records import ChatSession, ChatStatus
from chatbridge.connect.types import ContentType
from chatbridge.eventlog import EventLog
from chatbridge.events import EVENT, MESSAGE, ChatEvent

PREFIX = "test"
STARTED = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def log(redis_client) -> EventLog:
    return EventLog(redis_client, prefix=PREFIX, ttl=3600)


@pytest.fixture
def archiver(redis_client) -> Archiver:
    return Archiver(redis_client, prefix=PREFIX, consumer_name="archiver-1", batch_size=50)


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


# The viewer's pages are served through ASGI (AsyncClient), like daphne serves them.


@pytest.fixture
async def staff_client(async_client):
    """An AsyncClient logged in as a member of the "Transcript viewer" group."""
    from asgiref.sync import sync_to_async

    from tests.chatbridge.archive.factories import viewer

    user = await sync_to_async(viewer)()
    await async_client.aforce_login(user)
    async_client.user = user
    return async_client
