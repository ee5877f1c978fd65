"""The archiver: drains the feed into the SQL archive, off the chat's hot path.

Its group starts at the feed's beginning, so that entries queued before the first archiver
ran are archived too. Writing is idempotent (see chatbridge.archive.writer), so an entry
archived twice, after a crash between commit and acknowledgement, is harmless.

An entry the database refuses while it answers other queries is logged and acknowledged, like
a malformed one: it must never hold up the stream behind it.
"""

import logging
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async

from chatbridge.archive.writer import archive_entries
from chatbridge.chats.feed import Entry
from chatbridge.streams.worker import StreamWorker

logger = logging.getLogger(__name__)

GROUP = "archiver"


class Archiver(StreamWorker):
    group = GROUP
    start_id = "0"

    def __init__(self, redis: aioredis.Redis, *, batch_size: int = 200, **options: Any) -> None:
        super().__init__(redis, batch_size=batch_size, **options)

    async def handle(self, entries: Sequence[Entry]) -> None:
        rejected = await sync_to_async(archive_entries, thread_sensitive=True)(entries)
        for entry in rejected:
            logger.error(
                "The database refused archive entry %s of chat %s; skipping it",
                entry.entry_id,
                entry.chat_id,
            )
