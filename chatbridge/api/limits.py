"""The REST API's rate limits, in Redis so that they hold across processes.

Per client address (every request), per address for starting chats, and per chat (every
chat-scoped request). Sending messages also counts against the chat's message limit that the
websocket shares (settings.CHATBRIDGE_CHAT_MESSAGES_PER_MINUTE). Exceeding one raises
errors.RateLimited: 429 with Retry-After.
"""

import hashlib

from django.conf import settings
from django.http import HttpRequest

from chatbridge.ratelimit import RedisWindow
from chatbridge.redis import get_redis, keys


def client_address(request: HttpRequest) -> str:
    """The client's IP: REMOTE_ADDR, or the first X-Forwarded-For hop behind a trusted proxy."""
    if settings.CHATBRIDGE_API_TRUST_X_FORWARDED_FOR:
        forwarded = request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:64]
    return request.META.get("REMOTE_ADDR") or "unknown"


def _address_key(request: HttpRequest, name: str) -> str:
    digest = hashlib.sha256(client_address(request).encode()).hexdigest()[:32]
    return keys().api("limit", name, digest)


async def per_address(request: HttpRequest) -> None:
    window = RedisWindow(
        get_redis(), limit=settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_IP, window=60
    )
    await window.hit(_address_key(request, "ip"))


async def chat_starts(request: HttpRequest) -> None:
    window = RedisWindow(
        get_redis(), limit=settings.CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP, window=60
    )
    await window.hit(_address_key(request, "starts"))


async def per_chat(chat_id: str) -> None:
    window = RedisWindow(
        get_redis(), limit=settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_CHAT, window=60
    )
    await window.hit(keys().api("limit", "chat", chat_id))
