"""ChatBridge's events: Connect items, normalized for clients.

Connect items carry a Type (MESSAGE, EVENT, ATTACHMENT, MESSAGEMETADATA, CONNECTION_ACK) and
a ContentType. Clients get one flat shape with a lowercase `type`:

- ``message``: a message of any participant (text, markdown, interactive JSON);
- ``attachment``: a file a participant shared;
- ``event``: participant joined or left, transfer, chat ended;
- ``receipt``: a delivered or read receipt for a message;
- ``typing``: ephemeral; fanned out live but never logged or archived.

An event with ``earlier`` set belongs to the earlier conversation that a continued chat (a
Connect persistent chat) carries over: Connect marks those items with the contact they were
sent on (RelatedContactId).

CONNECTION_ACK items are Connect's own bookkeeping and are dropped.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from chatbridge.connect.types import ContentType, TranscriptItem

MESSAGE = "message"
ATTACHMENT = "attachment"
EVENT = "event"
RECEIPT = "receipt"
TYPING = "typing"

CUSTOMER = "CUSTOMER"

_TYPES = {"MESSAGE": MESSAGE, "ATTACHMENT": ATTACHMENT, "EVENT": EVENT, "MESSAGEMETADATA": RECEIPT}
ENDING_CONTENT_TYPES = frozenset({ContentType.CHAT_ENDED})
_encode = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class ChatEvent:
    id: str
    type: str
    content_type: str
    content: str | None
    participant_role: str
    participant_id: str
    display_name: str
    absolute_time: str
    attachments: list[dict[str, Any]] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    message_id: str | None = None
    earlier: bool = False

    @property
    def is_ephemeral(self) -> bool:
        return self.type == TYPING

    @property
    def ends_chat(self) -> bool:
        """Whether this event ends the chat: the end of an earlier conversation that the chat
        continues ended that one, not this."""
        return not self.earlier and self.type == EVENT and self.content_type in ENDING_CONTENT_TYPES

    def to_json(self) -> str:
        # By hand rather than dataclasses.asdict, whose deep copy shows in profiles.
        return _encode(
            {
                "id": self.id,
                "type": self.type,
                "content_type": self.content_type,
                "content": self.content,
                "participant_role": self.participant_role,
                "participant_id": self.participant_id,
                "display_name": self.display_name,
                "absolute_time": self.absolute_time,
                "attachments": self.attachments,
                "receipts": self.receipts,
                "message_id": self.message_id,
                "earlier": self.earlier,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> "ChatEvent":
        return cls(**json.loads(raw))


def from_item(item: TranscriptItem) -> ChatEvent | None:
    """The client-facing event of a Connect item, or None for Connect's bookkeeping."""
    if item.type == "EVENT" and item.content_type == ContentType.TYPING:
        kind = TYPING
    else:
        kind = _TYPES.get(item.type)
    if kind is None:
        return None
    metadata = item.message_metadata or {}
    return ChatEvent(
        id=item.id,
        type=kind,
        content_type=item.content_type,
        content=item.content,
        participant_role=item.participant_role,
        participant_id=item.participant_id,
        display_name=item.display_name,
        absolute_time=item.absolute_time,
        attachments=[
            {
                "id": attachment.get("AttachmentId"),
                "name": attachment.get("AttachmentName"),
                "content_type": attachment.get("ContentType"),
                "status": attachment.get("Status"),
            }
            for attachment in item.attachments
        ],
        receipts=[
            {
                "participant_id": receipt.get("RecipientParticipantId"),
                "delivered_at": receipt.get("DeliveredTimestamp"),
                "read_at": receipt.get("ReadTimestamp"),
            }
            for receipt in metadata.get("Receipts") or ()
        ],
        message_id=metadata.get("MessageId"),
        earlier=bool(item.related_contact_id),
    )
