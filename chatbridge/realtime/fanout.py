"""This process's followers of each chat, reached without a round trip through Redis.

The relay rings every follower of a chat in its own process directly, whether it logged the
event itself or heard of it from another process through its inbox (see chatbridge.realtime.relay).
"""

import collections
import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)


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
        followers = self._followers.get(chat_id)
        if not followers:
            return
        for follower in list(followers):
            try:
                await follower.ring(message)
            except Exception:
                logger.exception("a local follower of chat %s failed", chat_id)

    async def ring_early(self, chat_id: str, message: dict[str, Any]) -> None:
        """Rings the followers that take events before they are logged (those with an
        `early` method, like the customer's websocket), and only them."""
        for follower in list(self._followers.get(chat_id, ())):
            early = getattr(follower, "early", None)
            if early is None:
                continue
            try:
                await early(message)
            except Exception:
                logger.exception("a local follower of chat %s failed", chat_id)
