"""The REST API's rate limits, in Redis so that they hold across processes.

Per client address (every request), per address for starting chats, and per chat (every
chat-scoped request). Sending messages also counts against the chat's message limit that the
websocket shares (settings.CHATBRIDGE_CHAT_MESSAGES_PER_MINUTE). Exceeding one raises
errors.RateLimited: 429 with Retry-After. The client address is chatbridge.addresses'.
"""

from django.conf import settings
from django.http import HttpRequest

from chatbridge.addresses import address_digest, request_address
from chatbridge.ratelimit import RedisWindow, Window, hit_all
from chatbridge.redis import get_redis, keys


def _address_key(request: HttpRequest, name: str) -> str:
    return keys().api("limit", name, address_digest(request_address(request)))


def address_windows(request: HttpRequest, *, starting_chat: bool = False) -> list[Window]:
    """The address's request window; for a chat start also its window of chat starts."""
    digest = address_digest(request_address(request))
    windows = [
        Window(
            keys().api("limit", "ip", digest),
            settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_IP,
            60,
            kind="api_address",
        )
    ]
    if starting_chat:
        windows.append(
            Window(
                keys().api("limit", "starts", digest),
                settings.CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP,
                60,
                kind="api_chat_starts",
            )
        )
    return windows


async def per_address(request: HttpRequest, *, starting_chat: bool = False) -> None:
    """The address's request window; for a chat start also its window of chat starts, in the
    same round trip to Redis (a start is the request a client waits on most)."""
    await hit_all(get_redis(), address_windows(request, starting_chat=starting_chat))


def chat_window(chat_id: str) -> Window:
    """The chat's request window."""
    return Window(
        keys().api("limit", "chat", chat_id),
        settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_CHAT,
        60,
        kind="api_chat",
    )


async def per_chat(chat_id: str) -> None:
    await hit_all(get_redis(), [chat_window(chat_id)])


async def refund_chat(chat_id: str) -> None:
    """Takes back a hit counted against the chat's window for a request that never reached
    the chat (refused by its path, method or parameters), as if it had not been counted."""
    window = chat_window(chat_id)
    await RedisWindow(get_redis(), limit=window.limit, window=window.window).refund(window.key)


async def left_messages(request: HttpRequest, email: str) -> None:
    """Messages left per hour, per client address and per e-mail address
    (settings.CHATBRIDGE_LEFT_MESSAGES_PER_HOUR each): a form that sends e-mail and webhooks is
    a tempting relay for spam."""
    window = RedisWindow(
        get_redis(),
        limit=settings.CHATBRIDGE_LEFT_MESSAGES_PER_HOUR,
        window=3600,
        kind="left_messages",
    )
    await window.hit(_address_key(request, "left-messages"))
    await window.hit(keys().api("limit", "left-messages-to", address_digest(email.lower())))
