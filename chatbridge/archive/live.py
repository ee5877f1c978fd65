"""/ws/staff/chats/<chat_id>/: the live transcript view, read-only, for staff who may view.

Authenticated by the Django session (AuthMiddlewareStack in chatbridge.asgi), it follows the
chat's event log exactly like the customer's websocket does (chatbridge.realtime.follower:
catch up after a seq, then the channel layer's doorbell), and sends each line already rendered
with the transcript page's own template, so the page's script only appends it.

Frames: {"type": "entry", "seq", "item_id", "html"}, {"type": "receipt", "seq",
"message_id", "html"}, {"type": "skip", "seq"} for events with no line, and
{"type": "ended", "reason"}. Anything the browser sends is ignored.
"""

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from chatbridge.archive import audit
from chatbridge.archive.models import AuditEntry, Chat
from chatbridge.archive.transcript import Receipt, archived_form, entry_of
from chatbridge.chats.events import RECEIPT
from chatbridge.chats.events import ChatEvent as LiveEvent
from chatbridge.realtime.eventlog import event_log
from chatbridge.realtime.follower import EventLogFollower, LogCursor
from chatbridge.realtime.relay import chat_group

CLOSE_FORBIDDEN = 4003
VIEW_PERMISSION = "archive.view_chat"


def may_watch(user: Any) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(VIEW_PERMISSION)
    )


@database_sync_to_async
def _allowed_chat(user: Any, chat_id: str) -> Chat | None:
    if not may_watch(user):
        return None
    chat = Chat.objects.filter(chat_id=chat_id).first()
    if chat is not None:
        audit.record(user, AuditEntry.Action.LIVE, chat_id=chat_id)
    return chat


class StaffTranscriptConsumer(EventLogFollower, AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.delivery = asyncio.Lock()
        self.group: str | None = None
        self.chat_id = self.scope["url_route"]["kwargs"]["chat_id"]
        self.chat = await _allowed_chat(self.scope.get("user"), self.chat_id)
        if self.chat is None:
            # Refused before the handshake completes: the browser sees a failed connection.
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.accept()
        self.group = chat_group(self.chat_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        after = _after(self.scope.get("query_string", b""))
        await self.follow_log(LogCursor(event_log(), self.chat_id, after))

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Read-only: staff cannot say anything in the chat from here."""

    async def send_logged(self, seq: int, event_json: str, item_id: str | None) -> None:
        event = archived_form(seq, LiveEvent.from_json(event_json))
        if event.type == RECEIPT:
            receipt = Receipt()
            receipt.merge(event.receipts or ())
            frame = {
                "type": "receipt",
                "seq": seq,
                "message_id": event.message_id,
                "html": render_to_string("admin/archive/chat/receipt.html", {"receipt": receipt})
                if receipt.time
                else "",
            }
        else:
            entry = entry_of(event)
            if entry is None:
                frame = {"type": "skip", "seq": seq}
            else:
                html = render_to_string(
                    "admin/archive/chat/entry.html", {"entry": entry, "chat_pk": self.chat.pk}
                )
                frame = {"type": "entry", "seq": seq, "item_id": entry.item_id, "html": html}
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))

    async def chat_ephemeral(self, message: dict[str, Any]) -> None:
        """Typing indicators are not part of the transcript."""

    async def chat_upstream(self, message: dict[str, Any]) -> None:
        """Whether ChatBridge is connected to Connect concerns the customer's UI only."""

    async def chat_ended(self, message: dict[str, Any]) -> None:
        await self.catch_up()
        await self.send(
            text_data=json.dumps({"type": "ended", "reason": message.get("reason", "")})
        )


def _after(query_string: bytes) -> int:
    values = parse_qs(query_string.decode("latin-1")).get("after", ["0"])
    try:
        return max(int(values[-1]), 0)
    except ValueError:
        return 0
