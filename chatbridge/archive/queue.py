"""Queues a chat's metadata for the archive.

Events reach the archive stream from the event log's append script; a chat's metadata (who,
which widget, when it started and ended) comes from the chat service, through here, on the
same stream, so the archiver sees both in the order they happened.
"""

import redis.asyncio as aioredis

from chatbridge.archive.entries import ChatMeta
from chatbridge.chats.records import ChatSession
from chatbridge.eventlog import ARCHIVE_STREAM_MAXLEN


def archive_stream(prefix: str) -> str:
    """The stream the archiver drains; the event log writes to the same name."""
    return f"{prefix}:archive"


async def queue_chat(redis: aioredis.Redis, session: ChatSession, *, prefix: str) -> None:
    """Queues the chat's current metadata; call it after a chat starts and after it ends."""
    await redis.xadd(
        archive_stream(prefix),
        {"chat": session.chat_id, "meta": ChatMeta.from_session(session).to_json()},
        maxlen=ARCHIVE_STREAM_MAXLEN,
        approximate=True,
    )
