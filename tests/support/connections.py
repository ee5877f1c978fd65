"""A started chat's first connection comes after its start answers (chatbridge.chats.service):
what a test of the chat's Connect tokens reads once it has come."""

from chatbridge.chats.records import ChatSession
from chatbridge.chats.store import SessionStore
from chatbridge.redis import get_redis, keys
from tests.support.redis_waits import until_key


async def with_first_connection(store: SessionStore, chat_id: str) -> ChatSession:
    """The chat's session once its first connection is saved: the chat's refresh lock, held
    for that connection from the start, is free."""
    redis = get_redis()
    lock = keys().chat(chat_id, "refresh")

    async def free() -> bool:
        return not await redis.exists(lock)

    await until_key(redis, lock, free)
    return await store.load(chat_id)
