"""Bearer authentication: the ChatBridge session token, never a cookie.

A session token opens exactly one chat; a request for any other chat gets the very answer an
unknown chat gets (404), so tokens cannot probe for chat ids. A history token (``cbh_…``,
issued with the session token) reads one chat's archived transcript for longer than the
session lives in Redis: it is signed, not stored, so it outlives Redis's ended-session TTL.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.http import HttpRequest
from ninja.security import HttpBearer

from chatbridge.api import gate, limits
from chatbridge.api.problems import ChatNotFound
from chatbridge.chats.crypto import SESSION_TOKEN_PREFIX
from chatbridge.chats.records import ChatSession
from chatbridge.errors import UnknownChat
from chatbridge.logcontext import bind_chat
from chatbridge.runtime import get_runtime

HISTORY_PREFIX = "cbh_"
_HISTORY_SALT = "chatbridge.api.history-token"


@dataclass(frozen=True, slots=True)
class HistoryGrant:
    """What a history token allows: reading one chat's transcript."""

    chat_id: str


def issue_history_token(chat_id: str) -> str:
    return HISTORY_PREFIX + signing.dumps({"c": chat_id}, salt=_HISTORY_SALT, compress=False)


def read_history_token(token: str) -> HistoryGrant | None:
    if not token.startswith(HISTORY_PREFIX) or len(token) > 512:
        return None
    try:
        data = signing.loads(
            token[len(HISTORY_PREFIX) :],
            salt=_HISTORY_SALT,
            max_age=settings.CHATBRIDGE_API_HISTORY_TOKEN_TTL,
        )
    except signing.BadSignature:
        return None
    chat_id = data.get("c") if isinstance(data, dict) else None
    return HistoryGrant(chat_id) if isinstance(chat_id, str) and chat_id else None


class SessionBearer(HttpBearer):
    """Authorization: Bearer <session token> → the chat's ChatSession."""

    async def authenticate(self, request: HttpRequest, token: str) -> ChatSession | None:
        if not token.startswith(SESSION_TOKEN_PREFIX) or len(token) > gate.MAX_TOKEN_LENGTH:
            return None
        checked = gate.checked_token(request, token)
        try:
            if checked is not None and not checked.elsewhere:
                return get_runtime().service.store.session_of(checked)
            return await get_runtime().service.authenticate(token)
        except UnknownChat:
            return None


class HistoryBearer(HttpBearer):
    """Authorization: Bearer <history token> → a HistoryGrant (transcript only)."""

    async def authenticate(self, request: HttpRequest, token: str) -> HistoryGrant | None:
        return read_history_token(token)


session_auth = SessionBearer()
history_auth = HistoryBearer()


async def chat_of(request: HttpRequest, chat_id: str) -> ChatSession:
    """The authenticated chat if it is `chat_id`; the unknown-chat answer otherwise."""
    session = request.auth  # type: ignore[attr-defined]
    if not isinstance(session, ChatSession) or session.chat_id != chat_id:
        raise ChatNotFound()
    # The rest of the request runs in this task: its log lines name the chat.
    bind_chat(chat_id)
    if not gate.take_chat_hit(request, session):
        await limits.per_chat(chat_id)
    return session


async def readable_chat(request: HttpRequest, chat_id: str) -> ChatSession | HistoryGrant:
    """A chat the request may read the history of: by session or history token."""
    grant = request.auth  # type: ignore[attr-defined]
    if isinstance(grant, HistoryGrant) and grant.chat_id == chat_id:
        bind_chat(chat_id)
        await limits.per_chat(chat_id)
        return grant
    return await chat_of(request, chat_id)
