"""The transcript mailer: sends the transcript e-mails customers ask for, from the archive.

It follows the feed (chatbridge.chats.feed) with its own group, "mailer", and handles only the
e-mail requests. A request names the chat's last seq when it was made; the e-mail is rendered
only once the archive holds the ended chat up to that seq (chatbridge.archive.mail). Until it
does (the archiver has a backlog, or runs in another process), the request waits in a Redis
sorted set and is looked at again with a doubling wait, at most
settings.CHATBRIDGE_TRANSCRIPT_MAIL_ATTEMPTS times, by whichever process comes first.

A request is sent once: a marker per request id, set after the send, skips a repeat (an entry
delivered again after a crash between send and acknowledgement may still send twice: an extra
copy of a transcript the customer asked for, never a lost one).
"""

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings

from chatbridge.archive.mail import archived_up_to, send_transcript
from chatbridge.chats.aftercare import MailRequest
from chatbridge.chats.feed import Entry, MailEntry
from chatbridge.streams.records import JsonRecord
from chatbridge.streams.retrying import RetryingWorker

logger = logging.getLogger(__name__)

GROUP = "mailer"
# A sent request is remembered this long (seconds): longer than any redelivery.
SENT_TTL = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class PendingMail(JsonRecord):
    chat_id: str
    request: dict[str, Any]
    attempt: int = 1


def backoff(attempt: int) -> float:
    """Seconds before look number `attempt` + 1."""
    return min(
        settings.CHATBRIDGE_TRANSCRIPT_MAIL_BACKOFF_INITIAL * 2 ** (attempt - 1),
        settings.CHATBRIDGE_TRANSCRIPT_MAIL_BACKOFF_MAX,
    )


class TranscriptMailer(RetryingWorker):
    group = GROUP
    # Requests start with what is asked next: a group created again (Redis lost its data)
    # must not mail the feed's old requests a second time.
    start_id = "$"

    def __init__(self, redis: aioredis.Redis, *, prefix: str, **options: Any) -> None:
        super().__init__(redis, prefix=prefix, **options)
        self._retries = self._keys.mail_retries

    async def handle(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            if isinstance(entry, MailEntry):
                await self._attempt(PendingMail(entry.chat_id, asdict(entry.request)))

    async def retry(self, records: list[bytes]) -> None:
        for raw in records:
            await self._attempt(PendingMail.from_json(raw))

    async def _attempt(self, pending: PendingMail) -> None:
        request = MailRequest(**pending.request)
        sent = self._keys.mail_sent(request.request_id)
        if await self._redis.exists(sent):
            return
        readiness = await sync_to_async(archived_up_to, thread_sensitive=True)(
            pending.chat_id, request.last_seq
        )
        if not readiness.ready:
            await self._later(pending, readiness.reason)
            return
        try:
            await sync_to_async(send_transcript, thread_sensitive=True)(pending.chat_id, request)
        except Exception as exc:
            # The class name only: a mail server's answer may quote the address.
            logger.warning(
                "The transcript e-mail of chat %s failed (%s)", pending.chat_id, type(exc).__name__
            )
            await self._later(pending, "sending failed")
            return
        await self._redis.set(sent, b"1", ex=SENT_TTL)

    async def _later(self, pending: PendingMail, reason: str) -> None:
        if pending.attempt >= settings.CHATBRIDGE_TRANSCRIPT_MAIL_ATTEMPTS:
            logger.error(
                "Giving up the transcript e-mail of chat %s after %d attempts: %s",
                pending.chat_id,
                pending.attempt,
                reason,
            )
            return
        retry = PendingMail(pending.chat_id, pending.request, pending.attempt + 1)
        await self.retry_later(retry, backoff(pending.attempt))
