"""A chat's transcript from the SQL archive: it outlives the chat and its Redis session.

Paged with an opaque cursor in either direction; each page lists events in ascending seq.
Readable with the session token while Redis keeps the chat (settings.CHATBRIDGE_ENDED_SESSION_TTL
after it ends), and with the history token for settings.CHATBRIDGE_API_HISTORY_TOKEN_TTL.
"""

import base64
import binascii
from typing import Literal

from asgiref.sync import sync_to_async
from django.http import HttpRequest
from ninja import Query, Router

from chatbridge.api.auth import history_auth, readable_chat, session_auth
from chatbridge.api.common import ERRORS, connect_time
from chatbridge.api.problems import ChatNotFound
from chatbridge.api.schemas import TranscriptPageOut
from chatbridge.archive.models import Chat, ChatEvent
from chatbridge.chats.records import ChatSession
from chatbridge.errors import InvalidInput

router = Router(tags=["transcript"])

_CURSOR_PREFIX = "t1:"


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError
        seq = int(raw[len(_CURSOR_PREFIX) :])
        if seq < 0 or seq > 2**31:
            raise ValueError
        return seq
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("This cursor is not one ChatBridge gave.", field="cursor") from None


def event_of(row: ChatEvent) -> dict:
    """An archived event in the same shape as a live one."""
    return {
        "id": row.item_id,
        "type": row.type,
        "content_type": row.content_type,
        "content": row.content,
        "participant_role": row.participant_role,
        "participant_id": row.participant_id,
        "display_name": row.display_name,
        "absolute_time": connect_time(row.absolute_time),
        "attachments": row.attachments or [],
        "receipts": row.receipts or [],
        "message_id": row.message_id or None,
        "earlier": row.earlier,
    }


def transcript_page(chat_id: str, cursor: int | None, direction: str, limit: int) -> dict | None:
    """A page of an archived chat's events; None for a chat the archive does not hold."""
    chat = Chat.objects.filter(chat_id=chat_id).first()
    if chat is None:
        return None
    rows = ChatEvent.objects.filter(chat=chat)
    if direction == "forward":
        if cursor is not None:
            rows = rows.filter(seq__gt=cursor)
        found = list(rows.order_by("seq")[: limit + 1])
        more = len(found) > limit
        found = found[:limit]
        next_cursor = encode_cursor(found[-1].seq) if more and found else None
    else:
        if cursor is not None:
            rows = rows.filter(seq__lt=cursor)
        found = list(rows.order_by("-seq")[: limit + 1])
        more = len(found) > limit
        found = list(reversed(found[:limit]))
        next_cursor = encode_cursor(found[0].seq) if more and found else None
    return {
        "chat_id": chat_id,
        "status": chat.status,
        "direction": direction,
        "events": [{"seq": row.seq, "event": event_of(row)} for row in found],
        "next_cursor": next_cursor,
    }


@router.get(
    "/chats/{chat_id}/transcript",
    response={200: TranscriptPageOut, **ERRORS},
    auth=[session_auth, history_auth],
    summary="The archived transcript, paged",
    description="From the archive, so ended chats too. `forward` starts at the first event, "
    "`backward` at the newest; pass `next_cursor` back as `cursor` for the next page. "
    "Authenticate with the session token or the chat's history token.",
)
async def transcript(
    request: HttpRequest,
    chat_id: str,
    cursor: str | None = Query(None, max_length=64),
    direction: Literal["forward", "backward"] = Query("forward"),
    limit: int = Query(50, ge=1, le=200),
):
    chat = await readable_chat(request, chat_id)
    position = decode_cursor(cursor) if cursor else None
    page = await sync_to_async(transcript_page)(chat_id, position, direction, limit)
    if page is None:
        if not isinstance(chat, ChatSession):
            raise ChatNotFound()
        # Started moments ago: the archiver has not written the chat yet.
        page = {
            "chat_id": chat_id,
            "status": chat.status.value,
            "direction": direction,
            "events": [],
            "next_cursor": None,
        }
    return page
