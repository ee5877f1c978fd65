"""In-memory state of the emulated Connect instance: contacts, participants, transcript items,
participant and connection tokens, websocket URLs and attachments.

Everything lives in one asyncio process, so plain dictionaries suffice; listeners are told
about every new item and every connection that must close, which is how the websocket hub and
the scripted agents follow a chat without polling."""

from __future__ import annotations

import heapq
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import clock

# Item types as Connect sends them on the websocket and in transcripts.
MESSAGE = "MESSAGE"
EVENT = "EVENT"
ATTACHMENT = "ATTACHMENT"
MESSAGE_METADATA = "MESSAGEMETADATA"
CONNECTION_ACK = "CONNECTION_ACK"

EVENT_PREFIX = "application/vnd.amazonaws.connect.event."
TYPING = EVENT_PREFIX + "typing"
PARTICIPANT_JOINED = EVENT_PREFIX + "participant.joined"
PARTICIPANT_LEFT = EVENT_PREFIX + "participant.left"
CHAT_ENDED = EVENT_PREFIX + "chat.ended"
TRANSFER_SUCCEEDED = EVENT_PREFIX + "transfer.succeeded"
MESSAGE_DELIVERED = EVENT_PREFIX + "message.delivered"
MESSAGE_READ = EVENT_PREFIX + "message.read"
CONNECTION_ACKNOWLEDGED = EVENT_PREFIX + "connection.acknowledged"
MESSAGE_METADATA_TYPE = EVENT_PREFIX + "message.metadata"

CUSTOMER = "CUSTOMER"
AGENT = "AGENT"
SYSTEM = "SYSTEM"

ACTIVE = "ACTIVE"
ENDED = "ENDED"

# Participant states, as the control API shows them.
JOINED = "JOINED"  # in the chat, no connection made yet
CONNECTED = "CONNECTED"  # acknowledged a connection (ConnectParticipant or the ack event)
LEFT = "LEFT"


@dataclass
class Item:
    """One transcript item; ``to_wire`` gives the JSON Connect pushes on the websocket."""

    id: str
    type: str
    absolute_time: str
    contact_id: str | None
    initial_contact_id: str | None
    content_type: str | None = None
    content: str | None = None
    participant_id: str | None = None
    display_name: str | None = None
    participant_role: str | None = None
    attachments: list[dict[str, Any]] | None = None
    message_metadata: dict[str, Any] | None = None
    # Set on items rehydrated from a past chat: the contact the item was sent on (such an
    # item carries no ContactId, as Connect documents GetTranscript's Item).
    related_contact_id: str | None = None

    @property
    def in_transcript(self) -> bool:
        """AWS leaves typing events out of GetTranscript; they only travel on the socket."""
        return self.content_type != TYPING

    def to_wire(self) -> dict[str, Any]:
        fields_ = {
            "AbsoluteTime": self.absolute_time,
            "Attachments": self.attachments,
            "Content": self.content,
            "ContentType": self.content_type,
            "Id": self.id,
            "Type": self.type,
            "ParticipantId": self.participant_id,
            "DisplayName": self.display_name,
            "ParticipantRole": self.participant_role,
            "MessageMetadata": self.message_metadata,
            "InitialContactId": self.initial_contact_id,
            "ContactId": self.contact_id,
            "RelatedContactId": self.related_contact_id,
        }
        return {key: value for key, value in fields_.items() if value is not None}


@dataclass
class Participant:
    participant_id: str
    contact_id: str
    role: str
    display_name: str
    joined_at: float
    participant_token: str | None = None
    state: str = JOINED
    left_at: float | None = None
    # (operation, ClientToken) -> first answer, for idempotent retries
    idempotency: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state != LEFT


@dataclass
class Connection:
    """A ConnectionToken with its websocket URL token; each CreateParticipantConnection
    makes a new one, and older ones stay valid until their own expiry."""

    connection_token: str
    websocket_token: str
    participant_id: str
    contact_id: str
    expires_at: float
    websocket_expires_at: float
    revoked: bool = False

    def valid(self, at: float | None = None) -> bool:
        return not self.revoked and (at if at is not None else clock.now()) < self.expires_at


@dataclass
class Attachment:
    attachment_id: str
    contact_id: str
    participant_id: str
    name: str
    content_type: str
    size: int
    upload_expires_at: float
    data: bytes | None = None
    completed: bool = False


@dataclass
class Contact:
    contact_id: str
    instance_id: str
    contact_flow_id: str
    started_at: float
    attributes: dict[str, str] = field(default_factory=dict)
    supported_content_types: tuple[str, ...] = ()
    status: str = ACTIVE
    ended_at: float | None = None
    participants: dict[str, Participant] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    attachments: dict[str, Attachment] = field(default_factory=dict)
    # message id -> recipient participant id -> receipt (DeliveredTimestamp/ReadTimestamp)
    receipts: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    echo_agent_id: str | None = None
    # The chat ends by itself at ``ends_at`` (ChatDurationInMinutes), and when the customer
    # has made no connection by ``connect_by`` (cleared by the first one).
    ends_at: float = float("inf")
    connect_by: float | None = None
    # Persistent chat: the past contact this one continues and the past transcript items.
    related_contact_id: str | None = None
    past_items: list[Item] = field(default_factory=list)
    rehydrated: bool = False  # a later chat has already continued this one

    @property
    def initial_contact_id(self) -> str:
        return self.contact_id

    def transcript(self) -> list[Item]:
        """What GetTranscript reads: the rehydrated past, then this chat's items."""
        return [*self.past_items, *(item for item in self.items if item.in_transcript)]

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def active_participants(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.active]

    def customer(self) -> Participant | None:
        return next((p for p in self.participants.values() if p.role == CUSTOMER), None)

    def current_agent(self) -> Participant | None:
        """The most recently joined agent still in the chat."""
        agents = [p for p in self.participants.values() if p.role == AGENT and p.active]
        return agents[-1] if agents else None

    def find_item(self, item_id: str) -> Item | None:
        return next((item for item in self.items if item.id == item_id), None)


ItemListener = Callable[[Contact, Item], None]
CloseListener = Callable[[list[Connection], str, bool], None]


class Store:
    """Owns all state. Listeners learn of new items and of connections to close."""

    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}
        self.participant_tokens: dict[str, Participant] = {}
        self.connections: dict[str, Connection] = {}
        self.websocket_urls: dict[str, Connection] = {}
        self.start_idempotency: dict[str, dict[str, Any]] = {}
        self.attachments: dict[str, Attachment] = {}
        self.item_listeners: list[ItemListener] = []
        self.close_listeners: list[CloseListener] = []
        self._last_time: dict[str, float] = {}
        # (when, contact id): a contact's deadlines, earliest first
        self.deadlines: list[tuple[float, str]] = []

    def clear(self) -> None:
        self.contacts.clear()
        self.participant_tokens.clear()
        self.connections.clear()
        self.websocket_urls.clear()
        self.start_idempotency.clear()
        self.attachments.clear()
        self._last_time.clear()
        self.deadlines.clear()

    # -- contacts and participants

    def new_contact(
        self, instance_id: str, contact_flow_id: str, attributes: dict[str, str]
    ) -> Contact:
        contact = Contact(
            contact_id=str(uuid.uuid4()),
            instance_id=instance_id,
            contact_flow_id=contact_flow_id,
            started_at=clock.now(),
            attributes=dict(attributes),
        )
        self.contacts[contact.contact_id] = contact
        return contact

    def add_deadline(self, contact: Contact, when: float) -> None:
        heapq.heappush(self.deadlines, (when, contact.contact_id))

    def due_contacts(self, moment: float) -> list[Contact]:
        """Active contacts with a deadline at or before ``moment`` (each deadline once)."""
        due: list[Contact] = []
        while self.deadlines and self.deadlines[0][0] <= moment:
            _, contact_id = heapq.heappop(self.deadlines)
            contact = self.contacts.get(contact_id)
            if contact is not None and contact.active and contact not in due:
                due.append(contact)
        return due

    def active_chats(self, instance_id: str) -> int:
        return sum(1 for c in self.contacts.values() if c.active and c.instance_id == instance_id)

    def add_participant(
        self, contact: Contact, role: str, display_name: str, with_token: bool = False
    ) -> Participant:
        participant = Participant(
            participant_id=str(uuid.uuid4()),
            contact_id=contact.contact_id,
            role=role,
            display_name=display_name,
            joined_at=clock.now(),
        )
        if with_token:
            participant.participant_token = secrets.token_urlsafe(96)
            self.participant_tokens[participant.participant_token] = participant
        contact.participants[participant.participant_id] = participant
        return participant

    # -- items

    def append(self, contact: Contact, type_: str, **fields_: Any) -> Item:
        """Add an item to the contact (times never go backwards) and tell the listeners."""
        stamp = max(clock.now(), self._last_time.get(contact.contact_id, 0.0))
        self._last_time[contact.contact_id] = stamp
        item = Item(
            id=str(uuid.uuid4()),
            type=type_,
            absolute_time=clock.iso(stamp),
            contact_id=contact.contact_id,
            initial_contact_id=contact.initial_contact_id,
            **fields_,
        )
        contact.items.append(item)
        for listener in list(self.item_listeners):
            listener(contact, item)
        return item

    # -- tokens

    def new_connection(
        self, participant: Participant, token_ttl: float, websocket_ttl: float
    ) -> Connection:
        issued = clock.now()
        connection = Connection(
            connection_token=secrets.token_urlsafe(96),
            websocket_token=secrets.token_urlsafe(48),
            participant_id=participant.participant_id,
            contact_id=participant.contact_id,
            expires_at=issued + token_ttl,
            websocket_expires_at=issued + websocket_ttl,
        )
        self.connections[connection.connection_token] = connection
        self.websocket_urls[connection.websocket_token] = connection
        return connection

    def connections_of(
        self, contact_id: str, participant_id: str | None = None
    ) -> list[Connection]:
        return [
            c
            for c in self.connections.values()
            if c.contact_id == contact_id
            and (participant_id is None or c.participant_id == participant_id)
        ]

    def revoke(self, connections: list[Connection], reason: str, graceful: bool = False) -> None:
        """Refuse these connection tokens from now on and close their sockets: at once, or
        (``graceful``) after the sockets have pushed the items already queued for them."""
        for connection in connections:
            connection.revoked = True
        for listener in list(self.close_listeners):
            listener(connections, reason, graceful)

    def expire(self, connections: list[Connection]) -> None:
        """Make these connection tokens expire now (as the clock would) and close sockets."""
        moment = clock.now()
        for connection in connections:
            connection.expires_at = min(connection.expires_at, moment)
        for listener in list(self.close_listeners):
            listener(connections, "Connection token expired", False)

    def participant_for(self, connection: Connection) -> Participant | None:
        contact = self.contacts.get(connection.contact_id)
        return contact.participants.get(connection.participant_id) if contact else None
