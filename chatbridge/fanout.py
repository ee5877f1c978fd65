"""This process's followers of each chat, reached without a round trip through Redis.

The relay rings every follower of a chat in its own process directly, then rings the chat's
channel layer group for the followers in other processes. A follower in this process hears
the same message twice; each message carries a unique `mid`, and followers drop what they
have already handled (events are also ordered by their seq).
"""

import collections
import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)

RECENT_MIDS = 256


class Follower(Protocol):
    async def ring(self, message: dict[str, Any]) -> None: ...


class LocalFanout:
    def __init__(self) -> None:
        self._followers: dict[str, set[Follower]] = collections.defaultdict(set)

    def follow(self, chat_id: str, follower: Follower) -> None:
        self._followers[chat_id].add(follower)

    def unfollow(self, chat_id: str, follower: Follower) -> None:
        followers = self._followers.get(chat_id)
        if followers is not None:
            followers.discard(follower)
            if not followers:
                del self._followers[chat_id]

    def followers(self, chat_id: str) -> int:
        return len(self._followers.get(chat_id, ()))

    async def ring(self, chat_id: str, message: dict[str, Any]) -> None:
        for follower in list(self._followers.get(chat_id, ())):
            try:
                await follower.ring(message)
            except Exception:
                logger.exception("a local follower of chat %s failed", chat_id)


class SeenMessages:
    """The last few message ids a follower handled, to drop the second copy."""

    def __init__(self, size: int = RECENT_MIDS) -> None:
        self._order: collections.deque[str] = collections.deque(maxlen=size)
        self._seen: set[str] = set()

    def first_time(self, mid: str | None) -> bool:
        if mid is None:
            return True
        if mid in self._seen:
            return False
        if len(self._order) == self._order.maxlen:
            self._seen.discard(self._order[0])
        self._order.append(mid)
        self._seen.add(mid)
        return True
