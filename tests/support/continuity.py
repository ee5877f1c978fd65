"""A customer's chats over REST: saying something, ending the chat and archiving it, so that
a next chat can continue it or list it among the previous conversations."""

import time
from typing import Any

import httpx
import jwt

from chatbridge.runtime import Runtime
from tests.support.rest import bearer, start_chat
from tests.support.upstreams import until_upstream_stops


def identity_token(secret: str, sub: str = "user-42") -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 300}, secret, algorithm="HS256")


async def say(api: httpx.AsyncClient, chat: dict[str, Any], content: str) -> None:
    response = await api.post(
        f"/chats/{chat['chat_id']}/messages", json={"content": content}, headers=bearer(chat)
    )
    assert response.status_code == 201, response.text


async def end_and_archive(api: httpx.AsyncClient, runtime: Runtime, chat: dict[str, Any]) -> None:
    """Ends the chat; returns once everything about it, its end included, is archived."""
    ended = await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
    assert ended.status_code == 200, ended.text
    await until_upstream_stops(chat["chat_id"])
    await runtime.archiver.drain_once()


async def ended_chat(
    api: httpx.AsyncClient, runtime: Runtime, content: str, **start: Any
) -> dict[str, Any]:
    """A chat in which the customer said `content`, ended and archived."""
    chat = await start_chat(api, **start)
    await say(api, chat, content)
    await end_and_archive(api, runtime, chat)
    return chat
