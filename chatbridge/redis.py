"""Redis: the process's clients, their connection options, and every key name ChatBridge uses.

redis-py's asyncio clients belong to the event loop that created them, so there is one per
loop (daphne runs one; tests run many). Each holds its own connection pool.

redis-py does not retry a command whose connection broke unless told to. With the options
below a Redis restart or failover costs a short wait instead of a crashed consumer: the
command is retried on a fresh connection with a jittered exponential backoff.

Before each command the pool checks that its connection holds no reply left unread. redis-py
below 8 checks by reading the socket under a zero timeout: a cancelled read and a turn of the
event loop per command, so that on a busy loop every Redis call waited behind all the other
ready work twice. `ReadyCheckParser` looks at what has been received instead, as redis-py 8
does; ChatBridge stays below 8 (requirements.txt).

With Redis Sentinel (settings.REDIS_SENTINELS), every client (ChatBridge's and the channel
layer's) reaches the primary the sentinels name, through redis-py's SentinelConnectionPool:
each new connection asks the sentinels where the primary is, and a connection still on a
demoted primary fails its next write (READONLY), is dropped and retried like any broken one.
So a failover costs what a restart does: the retries above span sentinel's failover time.
Until the sentinels demote an old primary that still runs, though, connections already open
to it write there, and those writes are lost with it (docs/deployment.md).
REDIS_URL then says only how to talk to the primary (credentials, db, TLS), not where it is.

Every key is built here, by `RedisKeys`, so that the layout is readable in one place and
ChatBridge can share a Redis with other software under its own prefix
(settings.CHATBRIDGE_REDIS_PREFIX):

======================================  ==========================================================
``<p>:chat:<id>``                       the chat's session hash (chats.store only)
``<p>:chat:<id>:tokens``                digests of the chat's session tokens
``<p>:chat:<id>:ending``                why the chat is about to end, noted by whoever ends it
``<p>:chat:<id>:refresh``               lock serialising connection refreshes
``<p>:chat:<id>:events``                the event log (a stream, entry id ``<seq>-0``)
``<p>:chat:<id>:ids``                   Connect item ids already logged
``<p>:chat:<id>:messages``              ids of logged messages and attachments (receipts' targets)
``<p>:chat:<id>:cursor``                last seq and newest transcript item (gap fill)
``<p>:chat:<id>:lease``                 which process holds the chat's Connect websocket
``<p>:chat:<id>:upstream-status``       "connected|<holder>" or "reconnecting|<holder>", for clients
``<p>:process:<owner>``                 a process's heartbeat (and its presence channel)
``<p>:released``                        channel: a process released chats (a shutdown)
``<p>:chat:<id>:<n>-rate``              the chat's window of n: send, receipt, sync or end
``<p>:chat:<id>:typing``                typing sent recently
``<p>:chat:<id>:receipt:<k>:<m>``       a receipt of kind k for message m sent
``<p>:chat:<id>:upload:<a>``            a pending attachment upload (sealed)
``<p>:chat:<id>:conns``                 the chat's live connections, scored by expiry (ms)
``<p>:contact:<contact id>``            the chat of a Connect contact (retried starts)
``<p>:handoff:<contact id>``            a start's websocket URL, for another process (sealed)
``<p>:token:<sha256>``                  the chat a session token opens
``<p>:active``                          chats that have not ended
``<p>:archive``                         the feed: every logged event and chat change, for workers
``<p>:webhooks:retry``                  webhook deliveries waiting for their retry
``<p>:webhooks:ended:<id>``             the chat's "ended" webhook was queued
``<p>:mail:retry``                      transcript e-mails waiting for the archive
``<p>:mail:sent:<request id>``          the transcript e-mail was sent (repeats are not)
``<p>:mail:limit:<digest>``             transcript e-mails to one address today (window)
``<p>:survey:<id>:webhook``             the chat's survey answer went out by webhook
``<p>:api:limit:<name>:<digest>``       REST rate-limit windows
``<p>:api:idem:<scope>:<digest>``       REST idempotency records
``<p>:conns:<digest>``                  an address's live connections, scored by expiry (ms)
``<p>:admin:login:<kind>:<digest>``     failed admin logins per address or username (windows)
``<p>:connect:<op>``                    the Connect budget's bucket of operation op (a hash)
``<p>:connect:<op>:queue``              calls waiting for a token, by priority and virtual time
``<p>:connect:<op>:leases``             when each waiting call's process last asked (ms)
``<p>:connect:<op>:chats``              each chat's next virtual start (fair queuing, ms)
``<p>:chat:<id>:receipt-pending``       the chat's one receipt waiting for the budget
``<p>:chat:<id>:receipt-sender``        who sends the chat's pending receipt
======================================  ==========================================================
"""

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import redis.asyncio as aioredis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis._parsers import _AsyncHiredisParser
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError

# About 12 s in all before giving up: longer than a restart, shorter than a client's patience.
RETRIES = 8

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = (
    weakref.WeakKeyDictionary()
)


class ReadyCheckParser(_AsyncHiredisParser):
    """redis-py's hiredis parser, whose check of a pooled connection never waits (see the
    module's docstring). A reply received and not read, or a connection the server closed,
    still fails the check, and the pool connects afresh."""

    async def can_read_destructive(self) -> bool:
        if not self._connected:
            raise ConnectionError("Connection closed by server.")
        received = self._stream
        return self._reader.has_data() or received.at_eof() or bool(received._buffer)


def redis_options(url: str = "") -> dict[str, Any]:
    """Connection options shared by every Redis client of ChatBridge (its own and Channels')
    of the Redis at `url`. TCP keepalive is for TCP alone: a connection through a unix socket
    (``unix:///run/redis/redis.sock``, Redis on the same host) refuses the option."""
    options: dict[str, Any] = {
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=3.0), RETRIES),
        "retry_on_error": [ConnectionError, TimeoutError],
        "health_check_interval": 30,
        "socket_connect_timeout": 5,
        "parser_class": ReadyCheckParser,
    }
    if urlparse(url).scheme != "unix":
        options["socket_keepalive"] = True
    return options


SENTINEL_PORT = 26379


@dataclass(frozen=True, slots=True)
class SentinelConfig:
    """Redis Sentinel: the sentinels to ask, the name of the primary they watch (their
    ``sentinel monitor <master>``), and the sentinels' own password, if they have one."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    password: str | None = None


def parse_sentinels(entries: list[str]) -> tuple[tuple[str, int], ...]:
    """``host:port`` entries (``[v6]:port`` for IPv6, port 26379 when left out) as pairs.

    Raises ValueError naming the entry at fault."""
    sentinels = []
    for entry in entries:
        host, colon, port = entry.rpartition(":")
        if not colon or "]" in port or (":" in host and not host.startswith("[")):
            host, port = entry, str(SENTINEL_PORT)
        host = host.removeprefix("[").removesuffix("]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"not a sentinel's host:port: {entry!r}")
        sentinels.append((host, int(port)))
    return tuple(sentinels)


def sentinel_config() -> SentinelConfig | None:
    """The Sentinel set-up that settings configure, or None for the one Redis of REDIS_URL."""
    if not settings.REDIS_SENTINELS:
        return None
    return SentinelConfig(
        sentinels=parse_sentinels(settings.REDIS_SENTINELS),
        master=settings.REDIS_SENTINEL_MASTER,
        password=settings.REDIS_SENTINEL_PASSWORD or None,
    )


def _primary_options(url: str) -> dict[str, Any]:
    """What REDIS_URL says of how to talk to the primary (credentials, db, TLS and its
    options), without where it is: the sentinels say that."""
    options = {
        name: value
        for name, value in parse_url(url).items()
        if name not in {"host", "port", "path", "connection_class"}
    }
    if urlparse(url).scheme == "rediss":
        options["ssl"] = True
    return options


def _sentinel_options(url: str, sentinel: SentinelConfig) -> dict[str, Any]:
    """Connection options for the sentinels themselves: the same timeouts and TLS as the
    primary's, with the sentinels' password (sentinels have no db and no ACL user here)."""
    options: dict[str, Any] = {
        "socket_connect_timeout": 5,
        "socket_timeout": 5,
        "socket_keepalive": True,
    }
    tls = {k: v for k, v in _primary_options(url).items() if k == "ssl" or k.startswith("ssl_")}
    options.update(tls)
    if sentinel.password:
        options["password"] = sentinel.password
    return options


def channel_layer_hosts(url: str, sentinel: SentinelConfig | None = None) -> list[dict[str, Any]]:
    """channels_redis host entries for a Redis URL, or for the primary that sentinels name,
    with the same resilience. (channels_redis builds a SentinelConnectionPool from an entry
    with ``master_name`` and ``sentinels``; the rest of the entry goes to the connections.)"""
    if sentinel is None:
        return [{"address": url, **redis_options(url)}]
    return [
        {
            "master_name": sentinel.master,
            "sentinels": list(sentinel.sentinels),
            "sentinel_kwargs": _sentinel_options(url, sentinel),
            **_primary_options(url),
            **redis_options(),
        }
    ]


def new_redis(url: str, sentinel: SentinelConfig | None = None) -> aioredis.Redis:
    """A new asyncio client of the Redis at `url`, or of the primary that sentinels name."""
    if sentinel is None:
        return aioredis.Redis.from_url(url, **redis_options(url))
    sentinels = Sentinel(sentinel.sentinels, sentinel_kwargs=_sentinel_options(url, sentinel))
    return sentinels.master_for(sentinel.master, **_primary_options(url), **redis_options())


def get_redis() -> aioredis.Redis:
    """The shared client of the running event loop, as settings configure Redis."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = new_redis(settings.REDIS_URL, sentinel_config())
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

    def handoff(self, contact_id: str) -> str:
        return self._join("handoff", contact_id)

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

    @property
    def mail_retries(self) -> str:
        return self._join("mail", "retry")

    def mail_sent(self, request_id: str) -> str:
        return self._join("mail", "sent", request_id)

    def mail_address_limit(self, digest: str) -> str:
        return self._join("mail", "limit", digest)

    def survey_webhook(self, chat_id: str) -> str:
        return self._join("survey", chat_id, "webhook")

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

    def connect_budget(self, operation: str, *parts: str, region: str | None = None) -> str:
        """The shared Connect budget of one operation (chatbridge.connect.budget), in `region`
        (None: the default Region, whose keys name none)."""
        if region:
            return self._join("connect", "region", region, operation, *parts)
        return self._join("connect", operation, *parts)

    def admin_login_failures(self, kind: str, digest: str) -> str:
        """Failed admin logins of one address or username (``kind``) in the current window."""
        return self._join("admin", "login", kind, digest)


def keys() -> RedisKeys:
    """The key names under settings.CHATBRIDGE_REDIS_PREFIX."""
    return RedisKeys(settings.CHATBRIDGE_REDIS_PREFIX)


_CLIENT_SETTINGS = frozenset(
    {"REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD"}
)


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: object) -> None:
    if setting in _CLIENT_SETTINGS:
        _clients.clear()
