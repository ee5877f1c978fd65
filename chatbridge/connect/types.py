"""The data that crosses the Connect boundary, as plain dataclasses.

Tokens are kept out of every repr so that a logged object never leaks one.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.utils.dateparse import parse_datetime


def parse_time(value: str | datetime) -> datetime:
    """Connect's ISO 8601 times (2019-11-08T02:41:28.172Z) as aware datetimes."""
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not an ISO 8601 time: {value!r}")
    return parsed


class ContentType(StrEnum):
    TEXT = "text/plain"
    MARKDOWN = "text/markdown"
    JSON = "application/json"
    INTERACTIVE_RESPONSE = "application/vnd.amazonaws.connect.message.interactive.response"
    TYPING = "application/vnd.amazonaws.connect.event.typing"
    DELIVERED = "application/vnd.amazonaws.connect.event.message.delivered"
    READ = "application/vnd.amazonaws.connect.event.message.read"
    PARTICIPANT_JOINED = "application/vnd.amazonaws.connect.event.participant.joined"
    PARTICIPANT_LEFT = "application/vnd.amazonaws.connect.event.participant.left"
    CHAT_ENDED = "application/vnd.amazonaws.connect.event.chat.ended"
    TRANSFER_SUCCEEDED = "application/vnd.amazonaws.connect.event.transfer.succeeded"
    TRANSFER_FAILED = "application/vnd.amazonaws.connect.event.transfer.failed"
    CONNECTION_ACKNOWLEDGED = "application/vnd.amazonaws.connect.event.connection.acknowledged"
    MESSAGE_METADATA = "application/vnd.amazonaws.connect.event.message.metadata"


MESSAGE_CONTENT_TYPES = frozenset(
    {ContentType.TEXT, ContentType.MARKDOWN, ContentType.JSON, ContentType.INTERACTIVE_RESPONSE}
)
EVENT_CONTENT_TYPES = frozenset({ContentType.TYPING, ContentType.DELIVERED, ContentType.READ})
# SendMessage's Content limit in the Connect Participant API.
MAX_CONTENT_LENGTH = 16384


@dataclass(frozen=True, slots=True)
class ConnectRoute:
    """Where a chat starts: its Connect instance, the contact flow that routes it, and the
    region of that instance; empty members mean the settings' (CONNECT_INSTANCE_ID,
    CONNECT_CONTACT_FLOW_ID, CONNECT_REGION)."""

    instance_id: str = ""
    contact_flow_id: str = ""
    region: str = ""


@dataclass(frozen=True, slots=True)
class PersistentChat:
    """StartChatContact's PersistentChat: the new contact continues a past, ended one.

    ENTIRE_PAST_SESSION takes the initial contact id of the past chat session (the contact
    StartChatContact answered for it); Connect picks that session's most recently ended
    contact, so transfers and post-chat flows inside it are followed."""

    source_contact_id: str
    rehydration_type: str = "ENTIRE_PAST_SESSION"


@dataclass(frozen=True, slots=True)
class StartedContact:
    contact_id: str
    participant_id: str
    participant_token: str = field(repr=False)
    # The contact a persistent chat continues (Connect's ContinuedFromContactId).
    continued_from_contact_id: str = ""


@dataclass(frozen=True, slots=True)
class ParticipantConnection:
    websocket_url: str = field(repr=False)
    websocket_expires_at: datetime
    connection_token: str = field(repr=False)
    connection_expires_at: datetime


@dataclass(frozen=True, slots=True)
class SentItem:
    id: str
    absolute_time: str


@dataclass(frozen=True, slots=True)
class TranscriptItem:
    """One item of a chat as Connect reports it, on the websocket or in a transcript."""

    id: str
    type: str
    absolute_time: str
    content_type: str = ""
    content: str | None = None
    participant_id: str = ""
    participant_role: str = ""
    display_name: str = ""
    contact_id: str = ""
    attachments: tuple[dict[str, Any], ...] = ()
    message_metadata: dict[str, Any] | None = None
    # Set only on an item of an earlier chat that a persistent chat carried over: the contact
    # it was sent on.
    related_contact_id: str = ""

    @classmethod
    def from_connect(cls, item: dict[str, Any]) -> "TranscriptItem":
        return cls(
            id=item["Id"],
            type=item.get("Type", ""),
            absolute_time=item.get("AbsoluteTime", ""),
            content_type=item.get("ContentType", ""),
            content=item.get("Content"),
            participant_id=item.get("ParticipantId", ""),
            participant_role=item.get("ParticipantRole", ""),
            display_name=item.get("DisplayName", ""),
            contact_id=item.get("ContactId", ""),
            attachments=tuple(item.get("Attachments") or ()),
            message_metadata=item.get("MessageMetadata"),
            related_contact_id=item.get("RelatedContactId") or "",
        )


@dataclass(frozen=True, slots=True)
class TranscriptPage:
    items: tuple[TranscriptItem, ...]
    next_token: str | None
    initial_contact_id: str | None = None


@dataclass(frozen=True, slots=True)
class AttachmentUpload:
    attachment_id: str
    upload_url: str = field(repr=False)
    upload_url_expires_at: datetime
    headers: dict[str, str] = field(repr=False)


@dataclass(frozen=True, slots=True)
class AttachmentDownload:
    url: str = field(repr=False)
    url_expires_at: datetime
    size_bytes: int | None = None
