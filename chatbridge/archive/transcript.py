"""A chat's events as a conversation: bubbles, system lines, attachments and receipts.

Shared by the transcript page, its live updates, the exports and the printable page, so that
they all say the same thing. Redaction (CHATBRIDGE_REDACT_PII) is applied here, once.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy, pgettext_lazy

from chatbridge.archive import redaction
from chatbridge.archive.models import ChatEvent
from chatbridge.chats.events import ATTACHMENT, EVENT, MESSAGE, RECEIPT
from chatbridge.chats.events import ChatEvent as LiveEvent
from chatbridge.chats.feed import clean, parse_time
from chatbridge.connect.types import ContentType

SIDES = {"CUSTOMER": "customer", "AGENT": "agent", "SUPERVISOR": "agent", "CUSTOM_BOT": "bot"}
# In the active language (English but for the transcript e-mail: chatbridge/locale).
ROLE_LABELS = {
    "CUSTOMER": pgettext_lazy("role", "customer"),
    "AGENT": pgettext_lazy("role", "agent"),
    "SUPERVISOR": pgettext_lazy("role", "supervisor"),
    "CUSTOM_BOT": pgettext_lazy("role", "bot"),
    "SYSTEM": pgettext_lazy("role", "system"),
}
SOMEONE = pgettext_lazy("role", "someone")
EVENT_TEXT = {
    ContentType.PARTICIPANT_JOINED: gettext_lazy("{name} joined the chat"),
    ContentType.PARTICIPANT_LEFT: gettext_lazy("{name} left the chat"),
    ContentType.CHAT_ENDED: gettext_lazy("The chat ended"),
    ContentType.TRANSFER_SUCCEEDED: gettext_lazy("The chat was transferred"),
    ContentType.TRANSFER_FAILED: gettext_lazy("A transfer failed"),
}
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/heic", "image/gif", "image/webp"})


def redacting() -> bool:
    return bool(getattr(settings, "CHATBRIDGE_REDACT_PII", False))


@dataclass
class Receipt:
    delivered_at: datetime | None = None
    read_at: datetime | None = None

    def merge(self, receipts: Iterable[dict[str, Any]]) -> None:
        for receipt in receipts:
            delivered = parse_time(receipt.get("delivered_at"))
            read = parse_time(receipt.get("read_at"))
            if delivered and (self.delivered_at is None or delivered < self.delivered_at):
                self.delivered_at = delivered
            if read and (self.read_at is None or read < self.read_at):
                self.read_at = read

    @property
    def label(self) -> str:
        if self.read_at:
            return "Read"
        return "Delivered" if self.delivered_at else ""

    @property
    def time(self) -> datetime | None:
        return self.read_at or self.delivered_at


@dataclass
class Attachment:
    id: str
    name: str
    content_type: str
    status: str

    @property
    def extension(self) -> str:
        _, dot, ext = self.name.rpartition(".")
        return ext.lower()[:5] if dot else "file"

    @property
    def is_image(self) -> bool:
        return self.content_type in IMAGE_TYPES


@dataclass
class Entry:
    """One line of the conversation."""

    seq: int
    item_id: str
    kind: str  # "message", "attachment" or "system"
    side: str  # "customer", "agent", "bot" or "system"
    role: str
    name: str
    time: datetime | None
    text: str = ""
    content_type: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    receipt: Receipt | None = None
    # Carried over from the earlier conversation that a continued chat continues.
    earlier: bool = False

    @property
    def role_label(self) -> str:
        return str(ROLE_LABELS.get(self.role, self.role.lower() or ROLE_LABELS["SYSTEM"]))

    @property
    def is_structured(self) -> bool:
        return self.content_type in {ContentType.JSON, ContentType.INTERACTIVE_RESPONSE}

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "id": self.item_id,
            "kind": self.kind,
            "role": self.role,
            "name": self.name,
            "time": _iso(self.time),
            "text": self.text,
            "content_type": self.content_type,
            "attachments": [vars(a) for a in self.attachments],
            "delivered_at": _iso(self.receipt.delivered_at) if self.receipt else None,
            "read_at": _iso(self.receipt.read_at) if self.receipt else None,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _text(content: str | None, *, redact: bool) -> str:
    if content is None:
        return ""
    return redaction.redact(content) if redact else content


def entry_of(event: ChatEvent, *, redact: bool | None = None) -> Entry | None:
    """The conversation line of an archived event; None for receipts (they annotate)."""
    redact = redacting() if redact is None else redact
    role = event.participant_role
    base = {
        "seq": event.seq,
        "item_id": event.item_id,
        "role": role,
        "name": event.display_name,
        "time": event.absolute_time,
        "content_type": event.content_type,
        "earlier": event.earlier,
    }
    if event.type == MESSAGE:
        side = SIDES.get(role, "system")
        text = _text(event.content, redact=redact)
        if event.content_type in {ContentType.JSON, ContentType.INTERACTIVE_RESPONSE}:
            text = _pretty_json(text)
        return Entry(kind="message", side=side, text=text, **base)
    if event.type == ATTACHMENT:
        attachments = [
            Attachment(
                id=str(a.get("id") or ""),
                name=_text(str(a.get("name") or "attachment"), redact=redact),
                content_type=str(a.get("content_type") or ""),
                status=str(a.get("status") or ""),
            )
            for a in event.attachments or ()
        ]
        return Entry(
            kind="attachment", side=SIDES.get(role, "system"), attachments=attachments, **base
        )
    if event.type == EVENT:
        template = EVENT_TEXT.get(event.content_type)
        name = event.display_name or str(ROLE_LABELS.get(role, SOMEONE)).capitalize()
        if template is None:
            kind = event.content_type.rsplit("/", 1)[-1]
            template = "Event: " + kind.removeprefix("vnd.amazonaws.connect.event.")
        return Entry(
            kind="system", side="system", text=str(template).replace("{name}", name), **base
        )
    return None


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def conversation(events: Iterable[ChatEvent], *, redact: bool | None = None) -> list[Entry]:
    """The chat's lines in order, each message carrying its latest receipt."""
    entries: list[Entry] = []
    by_item: dict[str, Entry] = {}
    receipts: dict[str, Receipt] = {}
    for event in events:
        if event.type == RECEIPT:
            if event.message_id:
                receipts.setdefault(event.message_id, Receipt()).merge(event.receipts or ())
            continue
        entry = entry_of(event, redact=redact)
        if entry is not None:
            entries.append(entry)
            by_item[entry.item_id] = entry
    for message_id, receipt in receipts.items():
        if message_id in by_item and by_item[message_id].kind != "system":
            by_item[message_id].receipt = receipt
    return entries


def archived_form(seq: int, event: LiveEvent) -> ChatEvent:
    """An unsaved archive row for a live event, as the archiver would write it."""
    return ChatEvent(
        seq=seq,
        item_id=event.id,
        type=event.type,
        content_type=clean(event.content_type, 256),
        content=event.content,
        participant_role=event.participant_role,
        participant_id=event.participant_id,
        display_name=event.display_name,
        absolute_time=parse_time(event.absolute_time),
        attachments=event.attachments,
        receipts=event.receipts,
        message_id=event.message_id or "",
        earlier=event.earlier,
    )
