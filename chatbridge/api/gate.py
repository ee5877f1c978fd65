"""A chat request's first round trip: its rate limits and its session token, together.

A request of a chat (``/api/v1/chats/<chat_id>/…`` with a session token) waited for four
round trips to Redis before its own work, one after the other: the address's request window
(chatbridge.api.middleware), the token and the chat it opens (chatbridge.api.auth), then the
chat's request window (auth.chat_of). The chat's id is in the path, so none of them needs the
answer of another: the API's middleware asks once (SessionStore.check_token), in the same
order and with the same refusals, and the token's authentication and chat_of take their
answers from the request. A long-poll's set-up is on the path of the agent message it waits
for (docs/performance.md), a send's on the customer's.

The chat's window is counted in that round trip, before Django has routed the request and
ninja has read its parameters. A request refused by those (404, 405, 422) never reached the
chat and was never counted against it: its hit is taken back after its answer (`settle`).
"""

import logging
import re
from dataclasses import dataclass

from django.http import HttpRequest
from redis.exceptions import RedisError

from chatbridge.api import limits
from chatbridge.chats.crypto import SESSION_TOKEN_PREFIX
from chatbridge.chats.records import ChatSession
from chatbridge.chats.store import TokenCheck
from chatbridge.runtime import get_runtime

logger = logging.getLogger(__name__)

# Chat ids are 32 hex digits; a path with a longer one is no chat's (as chatbridge.api.cors).
_CHAT_PATH = re.compile(r"^/api/v1/chats/([^/]{1,64})(?:/|$)")
# The longest bearer token SessionBearer looks up.
MAX_TOKEN_LENGTH = 512
_ATTRIBUTE = "chatbridge_gate"


@dataclass(slots=True)
class _Passage:
    """What the gate found for a request, and whether chat_of has acted on it."""

    token: str
    chat_id: str
    check: TokenCheck
    taken: bool = False


def session_token(request: HttpRequest) -> str | None:
    """The bearer token, read as ninja's HttpBearer reads it, if it has a session token's
    shape (as SessionBearer checks it before any lookup)."""
    value = request.headers.get("Authorization")
    if not value:
        return None
    parts = value.split(" ")
    if parts[0].lower() != "bearer":
        return None
    token = " ".join(parts[1:])
    if not token.startswith(SESSION_TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    return token


async def pass_gate(request: HttpRequest) -> bool:
    """For a chat's request with a session token, counts the address's request window (raising
    RateLimited as limits.per_address does), looks the token up and, when it opens the chat
    of the path, counts the chat's request window: one round trip, its answers kept on the
    request. False, having done nothing, for any other request: its limits are the caller's."""
    match = _CHAT_PATH.match(request.path)
    token = session_token(request) if match else None
    if match is None or token is None:
        return False
    chat_id = match.group(1)
    check = await get_runtime().service.store.check_token(
        token,
        chat_id,
        first=limits.address_windows(request),
        then=[limits.chat_window(chat_id)],
    )
    setattr(request, _ATTRIBUTE, _Passage(token, chat_id, check))
    return True


def _passage(request: HttpRequest) -> _Passage | None:
    return getattr(request, _ATTRIBUTE, None)


def checked_token(request: HttpRequest, token: str) -> TokenCheck | None:
    """What the gate found for `token` on this request; None if it did not look it up."""
    passage = _passage(request)
    if passage is None or passage.token != token:
        return None
    return passage.check


def take_chat_hit(request: HttpRequest, session: ChatSession) -> bool:
    """Whether the gate counted this request against `session`'s chat window: then it is
    chat_of's to act on, and its refusal, if it was over the limit, is raised here."""
    passage = _passage(request)
    if (
        passage is None
        or passage.taken
        or not passage.check.opened
        or passage.chat_id != session.chat_id
    ):
        return False
    passage.taken = True
    if passage.check.refusal is not None:
        raise passage.check.refusal.error()
    return True


async def settle(request: HttpRequest) -> None:
    """After the answer: takes back the chat's hit of a request that never reached the chat."""
    passage = _passage(request)
    if passage is not None and passage.check.opened and not passage.taken:
        passage.taken = True
        try:
            await limits.refund_chat(passage.chat_id)
        except RedisError as error:
            # The answer stands; the hit lapses with its window.
            logger.warning("a chat's request hit was not taken back: %s", type(error).__name__)
