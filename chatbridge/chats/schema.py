"""The JSON shape of a ChatEvent, as pydantic models: the one definition of an event that
clients see, on the websocket (event and typing frames), in the REST API (pages, transcripts,
SSE) and in webhooks.

The models describe, they do not build: the hot path keeps encoding events by hand
(ChatEvent.to_json) and the REST API validates its pages with them. Tests check every event
they receive against them, and docs/schemas/chat-event.json is generated from them
(`python -m chatbridge.ws.protocol --schema`), so code, docs and schema cannot drift apart.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# ChatEvent.type (chatbridge.chats.events): typing is never logged, so it has a type of its own.
LoggedType = Literal["message", "attachment", "event", "receipt"]


class _Shape(BaseModel):
    """Exactly these keys, exactly these JSON types: a key added or renamed in the code, or a
    number where a string belongs, fails validation instead of passing unnoticed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class EventAttachment(_Shape):
    """A file shared in an `attachment` event, from Connect's Attachments."""

    id: str | None = Field(description="Connect's AttachmentId: GET …/attachments/{id} reads it.")
    name: str | None
    content_type: str | None
    status: str | None = Field(description="Connect's status: APPROVED, REJECTED, IN_PROGRESS.")


class EventReceipt(_Shape):
    """One participant's delivered and read times of a message, in a `receipt` event."""

    participant_id: str | None
    delivered_at: str | None = Field(description="ISO 8601, as Connect reports it.")
    read_at: str | None = Field(description="ISO 8601, as Connect reports it.")


class Event(_Shape):
    """One event of the chat, as logged with its seq; every key is always present."""

    # ChatEvent.to_json, key for key (tests/chatbridge/ws/test_schema.py holds them together).

    id: str = Field(description="Connect's item Id, or ChatBridge's id for a local event.")
    type: LoggedType
    content_type: str = Field(description="Connect's ContentType, e.g. text/plain.")
    content: str | None = Field(description="The item's content; null when it has none.")
    participant_role: str = Field(
        description="CUSTOMER, AGENT, SYSTEM, CUSTOM_BOT or SUPERVISOR, as Connect names it."
    )
    participant_id: str
    display_name: str
    absolute_time: str = Field(description="Connect's time of the item, ISO 8601 UTC.")
    attachments: list[EventAttachment] = Field(description="Empty unless type is attachment.")
    receipts: list[EventReceipt] = Field(description="Empty unless type is receipt.")
    message_id: str | None = Field(description="The message a receipt is about; else null.")
    earlier: bool = Field(
        description="True for the earlier conversation that a continued chat carries over "
        "(logged before the chat's own events); false otherwise."
    )


class TypingEvent(Event):
    """A typing indicator, in the same shape: ephemeral, never logged, so it has no seq."""

    type: Literal["typing"]  # type: ignore[assignment]


# Every event a client may see, whichever way it reads them: docs/schemas/chat-event.json.
ChatEventShape = Annotated[Event | TypingEvent, Field(discriminator="type")]
chat_events: TypeAdapter[Event | TypingEvent] = TypeAdapter(ChatEventShape)
