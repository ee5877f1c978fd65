"""Redis: the process's clients, their connection options, and every key name ChatBridge uses.

redis-py's asyncio clients belong to the event loop that created them, so there is one per
loop (daphne runs one; tests run many). Each holds its own connection pool.

redis-py does not retry a command whose connection broke unless told to. With the options
below a Redis restart or failover costs a short wait instead of a crashed consumer: the
command is retried on a fresh connection with a jittered exponential backoff.

Every key is built here, by `RedisKeys`, so that the layout is readable in one place and
ChatBridge can share a Redis with other software under its own prefix
(settings.CHATBRIDGE_REDIS_PREFIX):

``<p>:chat:<id>``                   the chat's session hash (chats.store only)
``<p>:chat:<id>:tokens``            digests of the chat's session tokens
``<p>:chat:<id>:ending``            why the chat is about to end, noted by whoever ends it
``<p>:chat:<id>:refresh``           lock serialising connection refreshes
``<p>:chat:<id>:events``            the event log (a stream, entry id ``<seq>-0``)
``<p>:chat:<id>:ids``               Connect item ids already logged
``<p>:chat:<id>:messages``               ids of logged messages and attachments (receipts' targets)
``<p>:chat:<id>:messages``          ids of logged messages and attachments (receipts' targets)
``<p>:chat:<id>:cursor``            last seq and newest transcript item (gap fill)
``<p>:chat:<id>:lease``             which process holds the chat's Connect websocket
``<p>:chat:<id>:upstream``          "connected" or "reconnecting", for clients
``<p>:chat:<id>:<n>-rate``          the chat's window of n: send, receipt, sync or end
``<p>:chat:<id>:typing``            typing sent recently
``<p>:chat:<id>:receipt:<k>:<m>``   a receipt of kind k for message m sent
``<p>:chat:<id>:upload:<a>``        a pending attachment upload (sealed)
``<p>:contact:<contact id>``        the chat of a Connect contact (retried starts)
``<p>:token:<sha256>``              the chat a session token opens
``<p>:active``                      chats that have not ended
``<p>:archive``                     the feed: every logged event and chat change, for workers
``<p>:webhooks:retry``              webhook deliveries waiting for their retry
``<p>:webhooks:ended:<id>``         the chat's "ended" webhook was queued
``<p>:api:limit:<name>:<digest>``   REST rate-limit windows
``<p>:api:idem:<scope>:<digest>``   REST idempotency records
==================================  ==========================================================
=======
======================================  ==========================================================
``<p>:chat:<id>``                       the chat's session hash (chats.store only)
``<p>:chat:<id>:tokens``                digests of the chat's session tokens
``<p>:chat:<id>:ending``                why the chat is about to end, noted by whoever ends it
``<p>:chat:<id>:refresh``               lock serialising connection refreshes
``<p>:chat:<id>:events``                the event log (a stream, entry id ``<seq>-0``)
``<p>:chat:<id>:ids``                   Connect item ids already logged
``<p>:chat:<id>:messages``               ids of logged messages and attachments (receipts' targets)
``<p>:chat:<id>:cursor``                last seq and newest transcript item (gap fill)
``<p>:chat:<id>:lease``                 which process holds the chat's Connect websocket
``<p>:chat:<id>:upstream``              "connected|<owner>" or "reconnecting|<owner>", for clients
``<p>:process:<owner>``                 a process's heartbeat (and its presence channel)
``<p>:released``                        channel: a process released chats (a shutdown)
``<p>:chat:<id>:<n>-rate``              the chat's window of n: send, receipt, sync or end
``<p>:chat:<id>:typing``                typing sent recently
``<p>:chat:<id>:receipt:<k>:<m>``       a receipt of kind k for message m sent
``<p>:chat:<id>:upload:<a>``            a pending attachment upload (sealed)
``<p>:chat:<id>:conns``                 the chat's live connections, scored by expiry (ms)
``<p>:contact:<contact id>``            the chat of a Connect contact (retried starts)
``<p>:token:<sha256>``                  the chat a session token opens
``<p>:active``                          chats that have not ended
``<p>:archive``                         the feed: every logged event and chat change, for workers
``<p>:webhooks:retry``                  webhook deliveries waiting for their retry
``<p>:webhooks:ended:<id>``             the chat's "ended" webhook was queued
``<p>:api:limit:<name>:<digest>``       REST rate-limit windows
``<p>:api:idem:<scope>:<digest>``       REST idempotency records
``<p>:conns:<digest>``                  an address's live connections, scored by expiry (ms)
``<p>:admin:login:<kind>:<digest>``     failed admin logins per address or username (windows)
======================================  ==========================================================
"""

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError

# About 12 s in all before giving up: longer than a restart, shorter than a client's patience.
RETRIES = 8

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = (
    weakref.WeakKeyDictionary()
)


def redis_options() -> dict[str, Any]:
    """Connection options shared by every Redis client of ChatBridge (its own and Channels')."""
    return {
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=3.0), RETRIES),
        "retry_on_error": [ConnectionError, TimeoutError],
        "health_check_interval": 30,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
    }


def channel_layer_hosts(url: str) -> list[dict[str, Any]]:
    """channels_redis host entries for a Redis URL, with the same resilience."""
    return [{"address": url, **redis_options()}]


def get_redis() -> aioredis.Redis:
    """The shared client of the running event loop for settings.REDIS_URL."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(settings.REDIS_URL, **redis_options())
        _clients[loop] = client
    return client


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Every key name, under one prefix (see the table above)."""

    prefix: str

    def _join(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def chat(self, chat_id: str, *parts: str) -> str:
        """The chat's session hash, or one of the chat's own keys (``events``, ``lease``…)."""
        return self._join("chat", chat_id, *parts)

    def contact(self, contact_id: str) -> str:
        return self._join("contact", contact_id)

    def session_token(self, digest: str) -> str:
        return self._join("token", digest)

    @property
    def active(self) -> str:
        return self._join("active")

    @property
    def feed(self) -> str:
        return self._join("archive")

    @property
    def webhook_retries(self) -> str:
        return self._join("webhooks", "retry")

    def webhook_ended(self, chat_id: str) -> str:
        return self._join("webhooks", "ended", chat_id)

    def api(self, *parts: str) -> str:
        return self._join("api", *parts)

    def chat_connections(self, chat_id: str) -> str:
        """The chat's live connections (chatbridge.realtime.slots)."""
        return self.chat(chat_id, "conns")

    def address_connections(self, digest: str) -> str:
        """A client address's live connections (chatbridge.realtime.slots)."""
        return self._join("conns", digest)

    def process(self, owner: str) -> str:
        """A process's heartbeat key, and the channel it stays subscribed to while it lives
        (chatbridge.realtime.liveness)."""
        return self._join("process", owner)

    @property
    def released(self) -> str:
        """The channel where a process says it released chats, so that others scan now."""
        return self._join("released")

    def admin_login_failures(self, kind: str, digest: str) -> str:
        """Failed admin logins of one address or username (``kind``) in the current window."""
        return self._join("admin", "login", kind, digest)


def keys() -> RedisKeys:
    """The key names under settings.CHATBRIDGE_REDIS_PREFIX."""
    return RedisKeys(settings.CHATBRIDGE_REDIS_PREFIX)


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: object) -> None:
    if setting == "REDIS_URL":
        _clients.clear()
