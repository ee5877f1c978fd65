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
    """The client's IP as the first trusted proxy saw it, or REMOTE_ADDR without proxies.

    Each proxy appends the address it received the request from, so only the rightmost
    CHATBRIDGE_API_TRUSTED_PROXIES entries of X-Forwarded-For were written by proxies we trust;
    anything to their left came from the client and would let it pick its own rate-limit key.
    With fewer entries than proxies the header was not written as expected, so REMOTE_ADDR (the
    nearest proxy) is used rather than a guess.
    """
    proxies = settings.CHATBRIDGE_API_TRUSTED_PROXIES
    if proxies > 0:
        hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
        if len(hops) >= proxies and hops[-proxies]:
            return hops[-proxies][:64]
    return request.META.get("REMOTE_ADDR") or "unknown"


def _address_key(request: HttpRequest, name: str) -> str:
    digest = hashlib.sha256(client_address(request).encode()).hexdigest()[:32]
    return keys().api("limit", name, digest)


async def per_address(request: HttpRequest) -> None:
    window = RedisWindow(
        get_redis(),
        limit=settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_IP,
        window=60,
        kind="api_address",
    )
    await window.hit(_address_key(request, "ip"))


async def chat_starts(request: HttpRequest) -> None:
    window = RedisWindow(
        get_redis(),
        limit=settings.CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP,
        window=60,
        kind="api_chat_starts",
    )
    await window.hit(_address_key(request, "starts"))


async def per_chat(chat_id: str) -> None:
    window = RedisWindow(
        get_redis(),
        limit=settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_CHAT,
        window=60,
        kind="api_chat",
    )
    await window.hit(keys().api("limit", "chat", chat_id))
