"""Request and response bodies of the REST API; ninja derives validation and OpenAPI from them."""

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict, StringConstraints, WithJsonSchema

from chatbridge.chats.aftercare import MAX_ADDRESS, MAX_COMMENT
from chatbridge.chats.schema import Event
from chatbridge.chats.service import MAX_ATTRIBUTE_LENGTH, MAX_ATTRIBUTES, MAX_DISPLAY_NAME
from chatbridge.connect.types import MAX_CONTENT_LENGTH, MESSAGE_CONTENT_TYPES

MessageContentType = Literal[tuple(sorted(str(t) for t in MESSAGE_CONTENT_TYPES))]  # type: ignore[valid-type]


# Text with more than blanks in it: the chat service strips what str.isspace() calls blank,
# which is regex's \s and the separators \x1c-\x1f.
NOT_BLANK = r"[^\s\x1c-\x1f]"
RESERVED_ATTRIBUTE_PREFIX = "identity_"

AttributeName = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ATTRIBUTE_LENGTH, pattern=NOT_BLANK)
]
AttributeValue = Annotated[str, StringConstraints(max_length=MAX_ATTRIBUTE_LENGTH)]
# pydantic would list a key pattern as patternProperties, which constrains no name: the schema is
# written out instead. The reserved prefix is the start handler's to refuse, with its own message.
Attributes = Annotated[
    dict[AttributeName, AttributeValue],
    Field(max_length=MAX_ATTRIBUTES),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_ATTRIBUTES,
            "propertyNames": {
                "minLength": 1,
                "maxLength": MAX_ATTRIBUTE_LENGTH,
                "pattern": NOT_BLANK,
                "not": {"pattern": f"^{RESERVED_ATTRIBUTE_PREFIX}"},
            },
            "additionalProperties": {"type": "string", "maxLength": MAX_ATTRIBUTE_LENGTH},
        }
    ),
]


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class Problem(Schema):
    """application/problem+json: every 4xx and 5xx answer."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None
    errors: list[dict[str, str]] | None = None
    next_open: str | None = Field(
        default=None,
        description="`outside_business_hours` only: when the widget next opens (ISO 8601, "
        "UTC), or null when no opening is scheduled.",
    )


class StartChatIn(Strict):
    widget_id: str = Field(min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_]+$")
    display_name: str = Field(min_length=1, max_length=MAX_DISPLAY_NAME, pattern=NOT_BLANK)
    attributes: Attributes | None = Field(
        default=None,
        description="Contact attributes for Amazon Connect, e.g. the widget's pre-chat answers. "
        f"Names starting with `{RESERVED_ATTRIBUTE_PREFIX}` are reserved for the verified "
        "identity.",
    )
    initial_message: str | None = Field(
        default=None, min_length=1, max_length=MAX_CONTENT_LENGTH, pattern=NOT_BLANK
    )
    identity: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="A signed identity token (JWT, HS256) from the site's own backend.",
    )
    customer_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="The `customer_token` of this browser's or app's previous start, so that "
        "the new chat belongs to the same customer (and may continue their last chat). Ignored "
        "with `identity`; one that is no longer valid starts a new customer.",
    )
    continue_previous: bool = Field(
        default=True,
        description="Continue the customer's last chat (an Amazon Connect persistent chat) "
        "when it ended within `CHATBRIDGE_CONTINUITY_WINDOW`; false starts afresh.",
    )


class StartChatOut(Schema):
    chat_id: str
    session_token: str = Field(description="Send it as 'Authorization: Bearer <token>'.")
    expires_at: datetime
    status: str
    participant_id: str
    display_name: str
    history_token: str = Field(
        description="Reads this chat's transcript (only) for longer than the session lives."
    )
    customer_token: str | None = Field(
        description="Proves this customer on the next start (`customer_token`) and reads "
        "their previous conversations; null for a customer identified by an identity token."
    )
    continued_from: str | None = Field(
        description="The chat id of the customer's earlier chat that this one continues; its "
        "events come first in this chat's log, with `earlier` set. Null for a fresh chat."
    )


class ChatStatusOut(Schema):
    chat_id: str
    status: Literal["active", "ended"]
    ended_reason: str
    display_name: str
    created_at: datetime
    last_seq: int
    upstream: str = Field(description="'connected' or 'reconnecting' (ChatBridge to Connect).")


class SendMessageIn(Strict):
    content: str = Field(min_length=1, max_length=MAX_CONTENT_LENGTH, pattern=NOT_BLANK)
    content_type: MessageContentType = "text/plain"  # type: ignore[valid-type]


class StartPositionOut(Schema):
    position: int | None = Field(
        description="The start's place in the queue for Amazon Connect's rate of chat starts "
        "(1: next); null when it is not waiting (not started yet, or already through)."
    )


class SentMessageOut(Schema):
    id: str
    seq: int | None = Field(description="The message's seq in the chat's event log.")
    absolute_time: str
    status: Literal["sent"] = Field(description="The message reached Amazon Connect.")
    queued: bool = Field(
        description="True when the message waited for ChatBridge's share of Amazon Connect's "
        "rate before it was sent."
    )


class SendEventIn(Strict):
    # A receipt is about a message: the handler refuses one without message_id, and so does
    # the schema.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": {"properties": {"type": {"enum": ["delivered", "read"]}}, "required": ["type"]},
            "then": {
                "required": ["message_id"],
                "properties": {"message_id": {"type": "string", "pattern": NOT_BLANK}},
            },
        },
    )

    type: Literal["typing", "delivered", "read"]
    message_id: str | None = Field(default=None, min_length=1, max_length=256, pattern=NOT_BLANK)


class Accepted(Schema):
    accepted: bool
    sent: bool = Field(description="False when ChatBridge skipped it (typing throttled, repeat).")
    status: Literal["sent", "queued", "skipped"] = Field(
        description="sent: this request sent it; queued: a receipt waiting as the chat's one "
        "pending receipt, sent next by the request sending the chat's receipts; skipped: not "
        "sent (typing within the interval or without Connect budget, a repeated receipt, a "
        "delivered receipt after a pending read)."
    )


class SurveyIn(Strict):
    rating: int = Field(
        ge=0,
        le=5,
        description="1 to 5 on the widget's `stars` scale; 0 (down) or 1 (up) on `thumbs`.",
    )
    comment: str = Field(default="", max_length=MAX_COMMENT)


class SurveyOut(Schema):
    scale: Literal["stars", "thumbs"]
    rating: int
    comment: str


class TranscriptMailIn(Strict):
    email: str = Field(min_length=3, max_length=MAX_ADDRESS)
    locale: str = Field(
        default="en",
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})?$",
        description="The language of the e-mail, as the widget speaks it.",
    )


class MailQueuedOut(Schema):
    queued: bool = Field(
        description="Always true: the e-mail is sent once the archive holds "
        "the whole chat, usually within seconds."
    )


class LoggedEventOut(Schema):
    """One logged event and its seq, exactly as the websocket's event frame carries them."""

    seq: int
    event: Event


class EventsPageOut(Schema):
    events: list[LoggedEventOut]
    last_seq: int
    status: Literal["active", "ended"]


class TranscriptPageOut(Schema):
    chat_id: str
    status: str
    direction: Literal["forward", "backward"]
    events: list[LoggedEventOut] = Field(description="In ascending seq order, in both directions.")
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next page.")


class ConversationOut(Schema):
    """One ended chat of the customer, as the archive keeps it."""

    chat_id: str
    display_name: str
    agent_name: str = Field(description="The first agent who joined or spoke.")
    started_at: datetime | None
    ended_at: datetime | None
    ended_reason: str
    message_count: int = Field(description="Messages and attachments, without earlier ones.")
    continued_from: str | None = Field(description="The chat this one continued, if any.")


class ConversationsPageOut(Schema):
    conversations: list[ConversationOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next page.")


class AttachmentIn(Strict):
    name: str = Field(min_length=1, max_length=256)
    content_type: str = Field(min_length=1, max_length=256)
    size: int = Field(gt=0, description="Bytes; at most 20 MB.")


class AttachmentUploadOut(Schema):
    attachment_id: str
    upload_url: str
    upload_headers: dict[str, str]
    upload_expires_at: datetime


class AttachmentUrlOut(Schema):
    url: str
    expires_at: datetime


class AvailabilityOut(Schema):
    """Whether the widget takes chats now (its business hours and holidays)."""

    open: bool
    next_open: str | None = Field(
        description="When it next opens (ISO 8601, UTC) while closed; null while open, or when "
        "no opening is scheduled."
    )
    closes_at: str | None = Field(
        description="When it closes (ISO 8601, UTC) while open; null when it never closes."
    )
    time_zone: str = Field(description="The IANA time zone its hours are written in.")


LEFT_MESSAGE_REASONS = ("outside_business_hours", "at_capacity", "other")
# An e-mail address as the schema states it, so that what the schema accepts ChatBridge takes:
# a dot-atom local part (RFC 5322's atext), and a domain of letter-digit-hyphen labels ending
# in a top-level domain of letters. Quoted local parts and address literals are not taken.
_ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$"


class LeaveMessageIn(Strict):
    name: str = Field(min_length=1, max_length=120, pattern=NOT_BLANK)
    email: str = Field(
        min_length=6, max_length=254, pattern=EMAIL_PATTERN, examples=["ada@example.com"]
    )
    message: str = Field(min_length=1, max_length=4000, pattern=NOT_BLANK)
    reason: Literal[LEFT_MESSAGE_REASONS] | None = Field(  # type: ignore[valid-type]
        default=None,
        description="Why the customer leaves a message rather than chatting; by default "
        "`outside_business_hours` while the widget is closed, `other` otherwise.",
    )


class LeftMessageOut(Schema):
    id: int
    status: Literal["open"]
    reason: str
    created_at: datetime


class WidgetConfigOut(Schema):
    model_config = ConfigDict(extra="allow")

    widget_id: str
    title: str
    greeting: str
    primary_color: str
    text_color: str
    position: str
    logo_url: str
    locale: str
    texts: dict[str, dict[str, Any]]
    prechat_fields: list[dict[str, Any]]
    attachment_types: list[str]
    require_identity: bool
    survey_scale: Literal["stars", "thumbs", "off"]
    availability: AvailabilityOut
