"""The REST API's rate limits, in Redis so that they hold across processes.

Per client address (every request), per address for starting chats, and per chat (every
chat-scoped request). Sending messages also counts against the chat's message limit that the
websocket shares (settings.CHATBRIDGE_CHAT_MESSAGES_PER_MINUTE). Exceeding one raises
errors.RateLimited: 429 with Retry-After. The client address is chatbridge.addresses'.

A chat start's address windows are counted by the start's first round trip to Redis (its
Idempotency-Key's claim, or its budget's script), not in one of their own: a round trip on the
request a client waits on most costs it about half a millisecond. Whatever the start does first
that reaches Redis or the database counts them, or counts them before it (start_windows);
a start that ends before any of that (refused by its own checks) has them counted on its way
out, and is refused with 429 when it went over them, as if they had been counted first.
"""

from django.conf import settings
from django.http import HttpRequest

from chatbridge.actions import counted_with_the_call
from chatbridge.addresses import address_digest, request_address
from chatbridge.connect.budget import CountedLimits, count_alone
from chatbridge.errors import RateLimited
from chatbridge.ratelimit import RedisWindow, Window, hit_all
from chatbridge.redis import get_redis, keys

# Where a chat start's address windows wait for its first round trip (defer_start_windows).
_START_WINDOWS = "chatbridge_start_windows"


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


def defer_start_windows(request: HttpRequest) -> None:
    """The chat start's address windows (per_address's, with its chat starts) wait to be
    counted by its first round trip (start_windows)."""
    setattr(
        request,
        _START_WINDOWS,
        counted_with_the_call(address_windows(request, starting_chat=True)),
    )


def start_windows(request: HttpRequest) -> CountedLimits | None:
    """The start's address windows if they wait to be counted: for its first round trip to
    count (an IdempotencyRecord's claim, a Connect call's budget), or count_start_windows."""
    pending: CountedLimits | None = getattr(request, _START_WINDOWS, None)
    return pending if pending is not None and not pending.counted else None


async def count_start_windows(request: HttpRequest) -> None:
    """Counts the start's address windows now, in a round trip of their own, if they wait to be
    counted (before the start reaches the database); RateLimited over one of them."""
    pending = start_windows(request)
    if pending is None:
        return
    pending.counted = True
    await count_alone(pending)


async def refusal_of_uncounted_start(request: HttpRequest) -> RateLimited | None:
    """For a start that ended without counting its address windows (its own checks refused
    it), counts them; the refusal it would have had, had they been counted first (which
    replaces only an error: what a start did, it did)."""
    try:
        await count_start_windows(request)
    except RateLimited as refused:
        return refused
    return None


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
