"""Webhooks: ChatBridge tells a widget's backend about agent messages and ended chats.

So an app's backend can wake a sleeping phone with a push notification. The worker follows the
feed (chatbridge.chats.feed) with its own consumer group, "webhooks", so the relay never waits
for it. For every widget with a webhook_url:

- ``message.created``: a message or attachment of an agent or the system (roles AGENT and SYSTEM);
- ``chat.ended``: the chat ended (metadata entries with status "ended"; sent once per chat),
  with the customer's survey answer if the archive holds it by then (else ``null``);
- ``chat.survey``: the customer answered the post-chat survey after ``chat.ended`` went;
- ``message.left``: a customer left a message instead of chatting (``schedule_left_message``:
  not a feed entry, so it joins the retries' set, due at once, and whichever worker drains
  next makes its first attempt).

A survey answer goes out once, in one or the other: whichever is built first takes the chat's
survey marker (``<p>:survey:<id>:webhook``).

Each delivery is a POST of JSON signed with HMAC-SHA256 of ``<timestamp>.<body>`` under the
widget's webhook_secret (headers in docs/rest-api.md). A delivery that fails (network error,
timeout, non-2xx, a redirect: redirects are never followed) is retried with exponential backoff
from a Redis sorted set, at most settings.CHATBRIDGE_WEBHOOK_MAX_ATTEMPTS times in all, by
whichever process comes first.

Deliveries reach only the targets webwidget.webhook_targets accepts: https (http with DEBUG
on), public addresses unless CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS lists them, judged by the
addresses the name resolves to at connection time (chatbridge.streams.webhook_transport). A
refused target is logged and dropped: retrying cannot change the answer.
"""

import asyncio
import hashlib
import hmac
import json
import logging
import random
import ssl
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import httpx
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings

from chatbridge.chats.crypto import get_token_box
from chatbridge.chats.events import ATTACHMENT, MESSAGE
from chatbridge.chats.feed import Entry, EventEntry, MetaEntry, SurveyEntry
from chatbridge.chats.store import SessionStore
from chatbridge.metrics import WEBHOOK_RETRIES_WAITING
from chatbridge.redis import RedisKeys
from chatbridge.streams.records import JsonRecord
from chatbridge.streams.retrying import RetryingWorker
from chatbridge.streams.webhook_transport import CheckedTransport, Resolver, system_resolver
from webwidget.webhook_targets import TargetRefused, check_scheme

logger = logging.getLogger(__name__)

GROUP = "webhooks"
SIGNATURE_HEADER = "ChatBridge-Webhook-Signature"
TIMESTAMP_HEADER = "ChatBridge-Webhook-Timestamp"
ID_HEADER = "ChatBridge-Webhook-Id"
ATTEMPT_HEADER = "ChatBridge-Webhook-Attempt"
NOTIFIED_ROLES = frozenset({"AGENT", "SYSTEM"})
# Seconds a widget's webhook settings are reused before they are read again.
ENDPOINT_CACHE_TTL = 30.0
# Chats whose widget id a worker remembers.
WIDGET_CACHE_SIZE = 10_000
NOTIFIED_TYPES = frozenset({MESSAGE, ATTACHMENT})


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300
) -> bool:
    """How a receiver checks a delivery (also documented in docs/rest-api.md)."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = sign(secret, int(timestamp), body)
    return any(hmac.compare_digest(expected, part.strip()) for part in signature.split(","))


@dataclass(frozen=True, slots=True)
class Delivery(JsonRecord):
    widget_id: str
    body: str
    delivery_id: str
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    secret: str


class Outcome(Enum):
    DELIVERED = "delivered"
    FAILED = "failed"  # worth another attempt
    REFUSED = "refused"  # the target is not allowed: no attempt will be


def _endpoint(widget_id: str) -> Endpoint | None:
    from webwidget.models import Widget

    widget = Widget.objects.filter(widget_id=widget_id, enabled=True).first()
    if widget is None or not widget.webhook_url:
        return None
    return Endpoint(widget.webhook_url, widget.webhook_secret)


def _archived_widget_id(chat_id: str) -> str:
    from chatbridge.archive.models import Chat

    return Chat.objects.filter(chat_id=chat_id).values_list("widget_id", flat=True).first() or ""


def _archived_survey(chat_id: str) -> dict | None:
    from chatbridge.archive.surveys import answer_of

    answer = answer_of(chat_id)
    return answer.as_payload() if answer is not None else None


def backoff(attempt: int) -> float:
    """Seconds before retry number `attempt` (1 = the first retry), with ±20 % jitter."""
    base = min(
        settings.CHATBRIDGE_WEBHOOK_BACKOFF_INITIAL * 2 ** (attempt - 1),
        settings.CHATBRIDGE_WEBHOOK_BACKOFF_MAX,
    )
    return base * random.uniform(0.8, 1.2)


async def schedule_left_message(
    redis: aioredis.Redis, *, prefix: str, widget_id: str, message: dict[str, Any]
) -> str:
    """Queues the ``message.left`` delivery of a left message (chatbridge.archive.left_messages
    .payload) for the next drain of any worker; its delivery id."""
    delivery_id = f"left-message:{message['id']}"
    payload = {
        "id": delivery_id,
        "type": "message.left",
        "created_at": datetime.now(UTC).isoformat(),
        "widget_id": widget_id,
        "chat_id": None,
        "data": message,
    }
    delivery = Delivery(
        widget_id=widget_id,
        body=json.dumps(payload, separators=(",", ":")),
        delivery_id=delivery_id,
    )
    await redis.zadd(RedisKeys(prefix).webhook_retries, {delivery.to_json(): time.time()})
    return delivery_id


class WebhookWorker(RetryingWorker):
    """Turns feed entries into deliveries, and attempts the retries that are due.

    `resolver` answers the addresses of a webhook's host (the system's by default; tests give
    their own), and `ssl_context` verifies receivers' certificates (certifi's by default).
    """

    group = GROUP
    # Deliveries start with what happens next, not with the feed's history.
    start_id = "$"

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str,
        concurrency: int = 20,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
        **options: Any,
    ) -> None:
        super().__init__(redis, prefix=prefix, **options)
        self._resolver = resolver
        self._ssl_context = ssl_context
        self._sessions = SessionStore(redis, get_token_box(), prefix=prefix, ended_ttl=0)
        self._retries = self._keys.webhook_retries
        self._slots = asyncio.Semaphore(concurrency)
        self._endpoints: dict[str, tuple[float, Endpoint | None]] = {}
        self._widgets: dict[str, str] = {}
        self._client: httpx.AsyncClient | None = None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def report_backlog(self) -> None:
        """The feed's backlog, and the deliveries waiting for their retry."""
        await super().report_backlog()
        WEBHOOK_RETRIES_WAITING.set(await self._redis.zcard(self._retries))

    async def handle(self, entries: Sequence[Entry]) -> None:
        deliveries = []
        for entry in entries:
            delivery = await self._delivery_of(entry)
            if delivery is not None:
                deliveries.append(delivery)
        await asyncio.gather(*(self._attempt(delivery) for delivery in deliveries))

    async def _delivery_of(self, entry: Entry) -> Delivery | None:
        now = datetime.now(UTC).isoformat()
        if isinstance(entry, EventEntry):
            event = entry.event
            if event.type not in NOTIFIED_TYPES or event.participant_role not in NOTIFIED_ROLES:
                return None
            widget_id = await self._widget_id(entry.chat_id)
            delivery_id = f"{entry.chat_id}:{entry.seq}"
            payload = {
                "id": delivery_id,
                "type": "message.created",
                "created_at": now,
                "widget_id": widget_id,
                "chat_id": entry.chat_id,
                "data": {"seq": entry.seq, "event": asdict(event)},
            }
        elif isinstance(entry, SurveyEntry):
            if not await self._take_survey(entry.chat_id):
                return None
            widget_id = entry.widget_id or await self._widget_id(entry.chat_id)
            delivery_id = f"{entry.chat_id}:survey"
            payload = {
                "id": delivery_id,
                "type": "chat.survey",
                "created_at": now,
                "widget_id": widget_id,
                "chat_id": entry.chat_id,
                "data": {"survey": entry.answer.as_payload()},
            }
        elif isinstance(entry, MetaEntry):
            meta = entry.meta
            if meta.status != "ended":
                return None
            marker = self._keys.webhook_ended(entry.chat_id)
            if not await self._redis.set(marker, b"1", nx=True, ex=7 * 24 * 3600):
                return None
            widget_id = meta.widget_id or await self._widget_id(entry.chat_id)
            delivery_id = f"{entry.chat_id}:ended"
            payload = {
                "id": delivery_id,
                "type": "chat.ended",
                "created_at": now,
                "widget_id": widget_id,
                "chat_id": entry.chat_id,
                "data": {
                    "reason": meta.ended_reason,
                    "ended_at": meta.ended_at.isoformat() if meta.ended_at else None,
                    "survey": await self._survey_for_ended(entry.chat_id),
                },
            }
        else:
            return None
        if not widget_id:
            return None
        body = json.dumps(payload, separators=(",", ":"))
        return Delivery(widget_id=widget_id, body=body, delivery_id=delivery_id)

    async def _take_survey(self, chat_id: str) -> bool:
        """Whether this delivery is the one that tells the chat's survey answer."""
        marker = self._keys.survey_webhook(chat_id)
        return bool(await self._redis.set(marker, b"1", nx=True, ex=7 * 24 * 3600))

    async def _survey_for_ended(self, chat_id: str) -> dict | None:
        """The answer, if the customer gave it before this ``chat.ended`` was built (a
        backlog); then no ``chat.survey`` follows."""
        survey = await sync_to_async(_archived_survey)(chat_id)
        if survey is None or not await self._take_survey(chat_id):
            return None
        return survey

    async def _endpoint_of(self, widget_id: str) -> Endpoint | None:
        """The widget's webhook, read from the database at most every ENDPOINT_CACHE_TTL s:
        an agent message should not cost a query."""
        now = time.monotonic()
        cached = self._endpoints.get(widget_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        endpoint = await sync_to_async(_endpoint)(widget_id)
        self._endpoints[widget_id] = (now + ENDPOINT_CACHE_TTL, endpoint)
        return endpoint

    async def _widget_id(self, chat_id: str) -> str:
        """A chat's widget never changes: it is looked up once per chat, not per event."""
        widget_id = self._widgets.get(chat_id)
        if widget_id is not None:
            return widget_id
        widget_id = await self._sessions.widget_id(chat_id)
        if widget_id is None:
            widget_id = await sync_to_async(_archived_widget_id)(chat_id)
            if not widget_id:
                return widget_id
        if len(self._widgets) >= WIDGET_CACHE_SIZE:
            self._widgets.pop(next(iter(self._widgets)))
        self._widgets[chat_id] = widget_id
        return widget_id

    async def retry(self, records: list[bytes]) -> None:
        await asyncio.gather(*(self._attempt(Delivery.from_json(raw)) for raw in records))

    async def _attempt(self, delivery: Delivery) -> None:
        async with self._slots:
            endpoint = await self._endpoint_of(delivery.widget_id)
            if endpoint is None:
                return
            if await self._post(endpoint, delivery) is not Outcome.FAILED:
                return
        if delivery.attempt >= settings.CHATBRIDGE_WEBHOOK_MAX_ATTEMPTS:
            logger.warning(
                "Webhook %s to widget %s failed %d times; giving up",
                delivery.delivery_id,
                delivery.widget_id,
                delivery.attempt,
            )
            return
        retry = Delivery(
            widget_id=delivery.widget_id,
            body=delivery.body,
            delivery_id=delivery.delivery_id,
            attempt=delivery.attempt + 1,
        )
        await self.retry_later(retry, backoff(delivery.attempt))

    async def _post(self, endpoint: Endpoint, delivery: Delivery) -> Outcome:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=CheckedTransport(resolver=self._resolver, ssl_context=self._ssl_context),
                timeout=settings.CHATBRIDGE_WEBHOOK_TIMEOUT,
                follow_redirects=False,
                trust_env=False,
            )
        body = delivery.body.encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ChatBridge-Webhooks/1",
            ID_HEADER: delivery.delivery_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(endpoint.secret, timestamp, body),
            ATTEMPT_HEADER: str(delivery.attempt),
        }
        try:
            url = httpx.URL(endpoint.url)
            check_scheme(url.scheme, debug=settings.DEBUG)
            response = await self._client.post(url, content=body, headers=headers)
        except TargetRefused as refused:
            logger.warning(
                "Webhook %s to widget %s refused, not retried: %s",
                delivery.delivery_id,
                delivery.widget_id,
                refused.message,
            )
            return Outcome.REFUSED
        except httpx.InvalidURL:
            logger.warning(
                "Webhook %s to widget %s refused, not retried: its URL is not valid",
                delivery.delivery_id,
                delivery.widget_id,
            )
            return Outcome.REFUSED
        except httpx.HTTPError as exc:
            logger.info(
                "Webhook %s attempt %d failed: %s",
                delivery.delivery_id,
                delivery.attempt,
                type(exc).__name__,
            )
            return Outcome.FAILED
        if 200 <= response.status_code < 300:
            return Outcome.DELIVERED
        logger.info(
            "Webhook %s attempt %d answered %d%s",
            delivery.delivery_id,
            delivery.attempt,
            response.status_code,
            " (redirects are not followed)" if response.is_redirect else "",
        )
        return Outcome.FAILED
