"""A customer's previous conversations: their ended chats and each one's transcript, read
from the SQL archive (no call to Connect).

Authenticated by what proves the customer to the widget: the customer token a start handed
back (chatbridge.api.customers), or a signed identity token (chatbridge.api.identity). A chat
of anyone else gets the very answer an unknown chat gets (404).
"""

import base64
import binascii
from typing import Literal

from asgiref.sync import sync_to_async
from django.http import HttpRequest
from ninja import Path, Query, Router

from chatbridge.api import limits
from chatbridge.api.common import ERRORS
from chatbridge.api.customers import CustomerCredential, customer_auth, customer_key
from chatbridge.api.problems import ChatNotFound, WidgetNotFound
from chatbridge.api.schemas import ConversationsPageOut, TranscriptPageOut
from chatbridge.api.transcript import decode_cursor, transcript_page
from chatbridge.archive.customers import ended_chats, owned_chat
from chatbridge.archive.models import Chat
from chatbridge.errors import InvalidInput

router = Router(tags=["conversations"])

_CURSOR_PREFIX = "c1:"
WIDGET_ID = Path(..., max_length=64, pattern=r"^[-a-zA-Z0-9_]+$")


def _encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{row_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError
        row_id = int(raw[len(_CURSOR_PREFIX) :])
        if row_id < 1 or row_id > 2**63:
            raise ValueError
        return row_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("This cursor is not one ChatBridge gave.", field="cursor") from None


async def _customer(request: HttpRequest, widget_id: str) -> tuple[str, str]:
    """(widget id, customer key) that the request's bearer token proves."""
    from webwidget.lookup import enabled_widget

    widget = await sync_to_async(enabled_widget)(widget_id)
    if widget is None:
        raise WidgetNotFound()
    credential: CustomerCredential = request.auth  # type: ignore[attr-defined]
    key = customer_key(
        credential, widget_id=widget.widget_id, identity_secret=widget.identity_secret
    )
    return widget.widget_id, key


def _conversation(chat: Chat) -> dict:
    return {
        "chat_id": chat.chat_id,
        "display_name": chat.display_name,
        "agent_name": chat.agent_name,
        "started_at": chat.started_at,
        "ended_at": chat.ended_at,
        "ended_reason": chat.ended_reason,
        "message_count": chat.message_count,
        "continued_from": chat.continued_from or None,
    }


@router.get(
    "/widgets/{widget_id}/conversations",
    response={200: ConversationsPageOut, **ERRORS},
    auth=customer_auth,
    summary="The customer's previous conversations (ended chats), newest first",
    description="From the archive, read-only. Authenticate with the customer token a start "
    "answered, or a signed identity token for this widget. Pass `next_cursor` back as "
    "`cursor` for the next page.",
)
async def conversations(
    request: HttpRequest,
    widget_id: str = WIDGET_ID,
    cursor: str | None = Query(None, max_length=64),
    limit: int = Query(20, ge=1, le=100),
):
    widget_id, key = await _customer(request, widget_id)
    before = _decode_cursor(cursor) if cursor else None
    page = await sync_to_async(ended_chats)(widget_id, key, before=before, limit=limit)
    return {
        "conversations": [_conversation(chat) for chat in page.chats],
        "next_cursor": _encode_cursor(page.next_before) if page.next_before else None,
    }


@router.get(
    "/widgets/{widget_id}/conversations/{chat_id}/transcript",
    response={200: TranscriptPageOut, **ERRORS},
    auth=customer_auth,
    summary="One of the customer's conversations: its archived transcript, paged",
    description="As `GET /chats/{chat_id}/transcript`, for a chat of the customer that the "
    "bearer token proves (the customer token or an identity token).",
)
async def conversation_transcript(
    request: HttpRequest,
    chat_id: str = Path(..., max_length=64),
    widget_id: str = WIDGET_ID,
    cursor: str | None = Query(None, max_length=64),
    direction: Literal["forward", "backward"] = Query("forward"),
    limit: int = Query(50, ge=1, le=200),
):
    widget_id, key = await _customer(request, widget_id)
    chat = await sync_to_async(owned_chat)(widget_id, key, chat_id)
    if chat is None:
        raise ChatNotFound()
    await limits.per_chat(chat_id)
    position = decode_cursor(cursor) if cursor else None
    page = await sync_to_async(transcript_page)(chat_id, position, direction, limit)
    if page is None:
        raise ChatNotFound()
    return page
