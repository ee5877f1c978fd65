"""How often one connection of /ws/chat/ may ask for what costs.

Every frame that calls Connect, writes Redis or replays the log has a token bucket per
connection, in memory, taken before anything else is done: a client over its limit costs no
round trip. The chat's own limits, shared by its every connection and process, are the
actions' windows (chatbridge.actions) and, for replays, which only the websocket offers,
count_sync() here. Beyond either, RateLimited: the error frame `rate_limited` with
`retry_after`, and the connection stays open.
"""

from dataclasses import dataclass

from django.conf import settings

from chatbridge.ratelimit import TokenBucket, hit_chat_window


@dataclass(slots=True)
class ConnectionLimits:
    """One connection's buckets, one per costly frame type."""

    send: TokenBucket
    typing: TokenBucket
    receipt: TokenBucket
    sync: TokenBucket
    end: TokenBucket

    @classmethod
    def from_settings(cls) -> "ConnectionLimits":
        return cls(
            send=TokenBucket(
                settings.CHATBRIDGE_WS_MESSAGES_PER_SECOND,
                settings.CHATBRIDGE_WS_MESSAGE_BURST,
                kind="ws_send",
            ),
            typing=TokenBucket.per_minute(
                settings.CHATBRIDGE_WS_TYPING_PER_MINUTE, kind="ws_typing"
            ),
            receipt=TokenBucket.per_minute(
                settings.CHATBRIDGE_WS_RECEIPTS_PER_MINUTE, kind="ws_receipt"
            ),
            sync=TokenBucket.per_minute(settings.CHATBRIDGE_WS_SYNCS_PER_MINUTE, kind="ws_sync"),
            end=TokenBucket.per_minute(settings.CHATBRIDGE_WS_ENDS_PER_MINUTE, kind="ws_end"),
        )


async def count_sync(chat_id: str) -> None:
    """Counts a replay against the chat's window (CHATBRIDGE_CHAT_SYNCS_PER_MINUTE)."""
    await hit_chat_window(chat_id, "sync", limit=settings.CHATBRIDGE_CHAT_SYNCS_PER_MINUTE)
