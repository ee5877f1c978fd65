"""What happens in a chat, shared by the participant API, the scripted agents and the control
API: joining, messages, typing, receipts, attachments, leaving, transfer and the end."""

from __future__ import annotations

import json
from typing import Any

from . import clock
from .errors import CONFLICT, VALIDATION, ServiceError
from .state import (
    AGENT,
    ATTACHMENT,
    CHAT_ENDED,
    CONNECTED,
    CONNECTION_ACK,
    CONNECTION_ACKNOWLEDGED,
    CUSTOMER,
    ENDED,
    EVENT,
    LEFT,
    MESSAGE,
    MESSAGE_METADATA,
    MESSAGE_METADATA_TYPE,
    PARTICIPANT_JOINED,
    PARTICIPANT_LEFT,
    TRANSFER_SUCCEEDED,
    TYPING,
    Attachment,
    Contact,
    Item,
    Participant,
    Store,
)

# Content types a participant may send with SendMessage (the model's documentation lists
# them); ``interactive`` itself is for agents and flows, so the control API may use it too.
CUSTOMER_MESSAGE_TYPES = (
    "text/plain",
    "text/markdown",
    "application/json",
    "application/vnd.amazonaws.connect.message.interactive.response",
)
ALL_MESSAGE_TYPES = (
    *CUSTOMER_MESSAGE_TYPES,
    "application/vnd.amazonaws.connect.message.interactive",
)

RECEIPT_KINDS = {"delivered": "DeliveredTimestamp", "read": "ReadTimestamp"}


def _sender(participant: Participant) -> dict[str, Any]:
    return {
        "participant_id": participant.participant_id,
        "display_name": participant.display_name,
        "participant_role": participant.role,
    }


class Chat:
    """Chat semantics on top of the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def join(
        self, contact: Contact, role: str, display_name: str, with_token: bool = False
    ) -> Participant:
        participant = self.store.add_participant(contact, role, display_name, with_token)
        self.store.append(contact, EVENT, content_type=PARTICIPANT_JOINED, **_sender(participant))
        return participant

    def message(
        self, contact: Contact, participant: Participant, content_type: str, content: str
    ) -> Item:
        return self.store.append(
            contact, MESSAGE, content_type=content_type, content=content, **_sender(participant)
        )

    def typing(self, contact: Contact, participant: Participant) -> Item:
        return self.store.append(contact, EVENT, content_type=TYPING, **_sender(participant))

    def acknowledge(self, contact: Contact, participant: Participant) -> Item:
        """Mark the participant connected; the CONNECTION_ACK item is made only once."""
        if participant.state == CONNECTED:
            for item in contact.items:
                if (
                    item.type == CONNECTION_ACK
                    and item.participant_id == participant.participant_id
                ):
                    return item
        participant.state = CONNECTED
        return self.store.append(
            contact, CONNECTION_ACK, content_type=CONNECTION_ACKNOWLEDGED, **_sender(participant)
        )

    def receipt(
        self, contact: Contact, participant: Participant, message_id: str, kind: str
    ) -> Item:
        """A delivered/read receipt becomes a MESSAGEMETADATA item carrying every recipient's
        receipts for that message, as Connect pushes them."""
        if len(contact.active_participants()) > 2:
            raise ServiceError(
                CONFLICT, "Message receipts are not supported with more than two participants"
            )
        target = contact.find_item(message_id)
        if target is None or target.type not in (MESSAGE, ATTACHMENT):
            raise ServiceError(
                VALIDATION, f"messageId {message_id!r} is not a message of this chat"
            )
        stamp = clock.iso(clock.now())
        receipts = contact.receipts.setdefault(message_id, {})
        receipt = receipts.setdefault(
            participant.participant_id, {"RecipientParticipantId": participant.participant_id}
        )
        receipt.setdefault("DeliveredTimestamp", stamp)
        if RECEIPT_KINDS[kind] == "ReadTimestamp":
            receipt.setdefault("ReadTimestamp", stamp)
        return self.store.append(
            contact,
            MESSAGE_METADATA,
            content_type=MESSAGE_METADATA_TYPE,
            message_metadata={
                "MessageId": message_id,
                "Receipts": [dict(r) for r in receipts.values()],
            },
        )

    def attachment(self, contact: Contact, participant: Participant, upload: Attachment) -> Item:
        upload.completed = True
        return self.store.append(
            contact,
            ATTACHMENT,
            content_type=upload.content_type,
            attachments=[
                {
                    "ContentType": upload.content_type,
                    "AttachmentId": upload.attachment_id,
                    "AttachmentName": upload.name,
                    "Status": "APPROVED",
                }
            ],
            **_sender(participant),
        )

    def leave(self, contact: Contact, participant: Participant) -> None:
        """A participant leaves; when the customer leaves, the chat ends."""
        if not participant.active or not contact.active:
            return
        self._mark_left(contact, participant)
        if participant.role == CUSTOMER:
            self.end(contact)
            return
        self.store.revoke(
            self.store.connections_of(contact.contact_id, participant.participant_id),
            "Participant disconnected",
            graceful=True,
        )

    def _mark_left(self, contact: Contact, participant: Participant) -> None:
        participant.state = LEFT
        participant.left_at = clock.now()
        self.store.append(contact, EVENT, content_type=PARTICIPANT_LEFT, **_sender(participant))
        if contact.echo_agent_id == participant.participant_id:
            contact.echo_agent_id = None

    def end(self, contact: Contact) -> None:
        """End the chat: agents leave, CHAT_ENDED, then every socket closes and every token
        is refused."""
        if not contact.active:
            return
        for participant in contact.active_participants():
            if participant.role == AGENT:
                self._mark_left(contact, participant)
        self.store.append(contact, EVENT, content_type=CHAT_ENDED)
        contact.status = ENDED
        contact.ended_at = clock.now()
        for participant in contact.active_participants():
            participant.state = LEFT
            participant.left_at = contact.ended_at
        self.store.revoke(
            self.store.connections_of(contact.contact_id), "Chat ended", graceful=True
        )

    def transfer(self, contact: Contact, display_name: str) -> Participant:
        """TRANSFER_SUCCEEDED, the current agents leave, a new agent joins."""
        was_echo = contact.echo_agent_id is not None
        self.store.append(contact, EVENT, content_type=TRANSFER_SUCCEEDED)
        for participant in contact.active_participants():
            if participant.role == AGENT:
                self._mark_left(contact, participant)
        agent = self.join(contact, AGENT, display_name)
        if was_echo:
            contact.echo_agent_id = agent.participant_id
        return agent


def receipt_target(content: str | None) -> str:
    """The messageId of a receipt event's JSON content."""
    try:
        document = json.loads(content or "")
    except ValueError:
        document = None
    message_id = document.get("messageId") if isinstance(document, dict) else None
    if not isinstance(message_id, str) or not message_id:
        raise ServiceError(VALIDATION, 'Content must be JSON like {"messageId": "<item id>"}')
    return message_id
