"""The per-process machinery behind the entry points, one set per event loop: the composition
root that wires the realtime core, the stream workers and the chat service together.

daphne speaks no ASGI lifespan, so the runtime starts on first use (a websocket or API
request) rather than at start-up; `manage.py relay` runs it in a process of its own.

A process that is told to stop (SIGTERM: daphne's shutdown through chatbridge.serve, or
`manage.py relay`'s) drains its runtime (`drain_runtime`): it refuses new connections, stops
its upstreams and releases their leases, shows itself gone so that the other processes take
its chats over at once, and closes its clients' websockets with 4012 (the server restarts), which
tells them to reconnect, to another process, and resume after their last seq.

Getting a serving process ready before its first chat (`prepare_for_serving`): what a
process loads once (Django, botocore's service models, Twisted) is hundreds of thousands of
long-lived objects, and every full pass of the cyclic garbage collector walks them all while
no chat moves. So the heavy parts are loaded up front and everything alive then is frozen out
of the collector's sight (gc.freeze). The collector then runs less often
(settings.CHATBRIDGE_GC_THRESHOLDS): chats make little cyclic garbage, and measured with
1,000 chats, full passes over what they hold took about 200 ms each. A young collection walks
what was allocated since the last one, and stops the event loop meanwhile: while chats start,
nearly all of it is their new state and survives, so at 50,000 a young collection took 20 to
36 ms, at 10,000 4 to 7 ms, no more in all. The middle generation's threshold is raised in
proportion, so that its collections, and the full ones that follow them, come as rarely.

The event loop shares Python's GIL with the threads that make Connect's calls (boto3 is
synchronous). A thread running botocore's Python (building a request, parsing an answer) keeps
the loop waiting for the GIL until it blocks on its socket or the switch interval runs out, and
so does every thread that takes the GIL while the loop is in a system call. Python's interval
is 5 ms; a serving process sets CHATBRIDGE_SWITCH_INTERVAL (1 ms), which bounds how long a
frame waits behind a Connect call's Python.
"""

import asyncio
import contextlib
import contextvars
import gc
import logging
import sys
import weakref
from dataclasses import dataclass, field
from typing import Protocol

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from chatbridge.chats.service import ChatService, get_chat_service
from chatbridge.connect import clients
from chatbridge.realtime.abandonment import REASON as ABANDONED
from chatbridge.realtime.abandonment import AbandonWatch
from chatbridge.realtime.eventlog import EventLog, event_log
from chatbridge.realtime.fanout import LocalFanout
from chatbridge.realtime.layer_groups import layer_shares_redis
from chatbridge.realtime.leases import process_identity
from chatbridge.realtime.liveness import Liveness
from chatbridge.realtime.priority import LiveFirst
from chatbridge.realtime.relay import Relay
from chatbridge.realtime.slots import ConnectionSlots
from chatbridge.realtime.supervisor import Supervisor
from chatbridge.realtime.upstream import Upstream, UpstreamConfig
from chatbridge.redis import get_redis, keys
from chatbridge.streams.archiver import Archiver
from chatbridge.streams.mailer import TranscriptMailer
from chatbridge.streams.webhooks import WebhookWorker
from chatbridge.streams.worker import stable_consumer_name

logger = logging.getLogger(__name__)

# The websocket close code of a process shutting down: reconnect (1012, "service restart",
# is what the standard has, but daphne's websocket layer sends only 1000 and 3000-4999).
CLOSE_SERVICE_RESTART = 4012
# Seconds a drain waits for the websockets it closes.
DRAIN_CLOSE_TIMEOUT = 5.0


class Connection(Protocol):
    """A client connection the runtime closes when its process shuts down."""

    async def close(self, code: int | None = None) -> None: ...


@dataclass
class Runtime:
    service: ChatService
    log: EventLog
    relay: Relay
    supervisor: Supervisor
    slots: ConnectionSlots
    archiver: Archiver | None = None
    webhooks: WebhookWorker | None = None
    mailer: TranscriptMailer | None = None
    _workers: list[asyncio.Task] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _connections: "weakref.WeakSet[Connection]" = field(default_factory=weakref.WeakSet)
    _none_left: asyncio.Event = field(default_factory=asyncio.Event)
    draining: bool = False

    def admit(self, connection: Connection) -> bool:
        """Counts a new client connection in, unless the process is shutting down."""
        if self.draining:
            return False
        self._connections.add(connection)
        return True

    def forget(self, connection: Connection) -> None:
        self._connections.discard(connection)
        if not self._connections:
            self._none_left.set()

    async def drain(self) -> None:
        """Shuts down gracefully: new connections are refused, the upstreams stop and their
        leases are released (other processes take the chats over at once), then every client
        connection is closed with 4012 so that it reconnects elsewhere, and the rest stops."""
        self.draining = True
        await self.supervisor.stop()
        connections = list(self._connections)
        if connections:
            logger.info("closing %d client connections for shutdown", len(connections))
            self._none_left.clear()
            closing = [connection.close(code=CLOSE_SERVICE_RESTART) for connection in connections]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_CLOSE_TIMEOUT):
                    await asyncio.gather(*closing, return_exceptions=True)
                    # Each closing handshake done: the server cancels nothing mid-close.
                    await self._none_left.wait()
        await self.stop()

    def start(self) -> None:
        self.supervisor.start()
        self.slots.start()
        if not self._workers:
            self._workers = [
                asyncio.create_task(worker.run(self._stopping))
                for worker in (self.archiver, self.webhooks, self.mailer)
                if worker is not None
            ]

    async def stop(self) -> None:
        """Stops at once: the stream workers may be blocked reading, and what they have not
        acknowledged is delivered again to whoever reads next.

        A worker cancelled inside a database call leaves that call running in the sync thread,
        its transaction open: stop() returns once the thread is done with it, so that nothing
        this runtime started touches the database afterwards."""
        self._stopping.set()
        await self.supervisor.stop()
        await self.slots.stop()
        await self.relay.close()
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._workers:
            # The sync thread runs one call at a time, in order: this one runs after theirs.
            await sync_to_async(_nothing, thread_sensitive=True)()
        self._workers = []


def _nothing() -> None:
    pass


_runtimes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Runtime]" = (
    weakref.WeakKeyDictionary()
)


def upstream_config() -> UpstreamConfig:
    return UpstreamConfig(
        heartbeat_interval=settings.CHATBRIDGE_UPSTREAM_HEARTBEAT,
        backoff_initial=settings.CHATBRIDGE_UPSTREAM_BACKOFF_INITIAL,
        backoff_max=settings.CHATBRIDGE_UPSTREAM_BACKOFF_MAX,
        refresh_margin=settings.CHATBRIDGE_REFRESH_MARGIN,
    )


def build_stream_workers(
    redis, *, archive: bool = True, deliver_webhooks: bool = True, send_mail: bool = True
) -> tuple[Archiver | None, WebhookWorker | None, TranscriptMailer | None]:
    """The workers that follow the feed: into the SQL archive, to webhooks, and the
    transcript e-mails customers ask for.

    All consume under the process's stable name, however often they are built.
    """
    consumer_name = stable_consumer_name()
    archiver = None
    if archive:
        archiver = Archiver(
            redis,
            prefix=settings.CHATBRIDGE_REDIS_PREFIX,
            consumer_name=consumer_name,
            linger=settings.CHATBRIDGE_ARCHIVE_LINGER,
        )
    webhooks = None
    if deliver_webhooks:
        webhooks = WebhookWorker(
            redis,
            prefix=settings.CHATBRIDGE_REDIS_PREFIX,
            consumer_name=consumer_name,
            linger=settings.CHATBRIDGE_WEBHOOK_LINGER,
        )
    mailer = None
    if send_mail:
        mailer = TranscriptMailer(
            redis,
            prefix=settings.CHATBRIDGE_REDIS_PREFIX,
            consumer_name=consumer_name,
            linger=settings.CHATBRIDGE_MAIL_LINGER,
        )
    return archiver, webhooks, mailer


def build_runtime(*, owner: str | None = None) -> Runtime:
    redis = get_redis()
    service = get_chat_service()
    log = event_log()
    owner = owner or process_identity()
    liveness = Liveness(redis, keys=keys(), owner=owner, ttl=settings.CHATBRIDGE_PROCESS_TTL)
    relay = Relay(
        log,
        get_channel_layer(),
        redis,
        prefix=settings.CHATBRIDGE_REDIS_PREFIX,
        fanout=LocalFanout(),
        layer_shares_redis=layer_shares_redis(),
        liveness=liveness,
        live_first=LiveFirst(max_wait=settings.CHATBRIDGE_LIVE_FIRST_MAX_WAIT),
    )
    config = upstream_config()
    upstream_service = get_chat_service(background=True)

    async def end_abandoned(chat_id: str) -> None:
        session = await upstream_service.store.load(chat_id)
        if session.is_active:
            ended = await upstream_service.disconnect(session, reason=ABANDONED)
            await relay.ended(chat_id, ended.ended_reason)

    supervisor = Supervisor(
        redis=redis,
        store=service.store,
        make_upstream=lambda chat_id, fence: Upstream(
            chat_id, service=upstream_service, relay=relay, log=log, config=config, fence=fence
        ),
        owner=owner,
        prefix=settings.CHATBRIDGE_REDIS_PREFIX,
        lease_ttl=settings.CHATBRIDGE_LEASE_TTL,
        scan_interval=settings.CHATBRIDGE_SUPERVISOR_INTERVAL,
        liveness=liveness,
        abandon=AbandonWatch(
            redis, keys=keys(), after=settings.CHATBRIDGE_ABANDON_AFTER, end=end_abandoned
        ),
        holds_upstreams=settings.CHATBRIDGE_HOLD_UPSTREAMS,
    )
    archiver, webhooks, mailer = build_stream_workers(
        redis,
        archive=settings.CHATBRIDGE_RUN_ARCHIVER,
        deliver_webhooks=settings.CHATBRIDGE_RUN_WEBHOOKS,
        send_mail=settings.CHATBRIDGE_RUN_MAILER,
    )
    slots = ConnectionSlots(
        redis,
        keys=keys(),
        ttl=settings.CHATBRIDGE_CONNECTION_SLOT_TTL,
        per_chat=settings.CHATBRIDGE_CONNECTIONS_PER_CHAT,
        per_address=settings.CHATBRIDGE_CONNECTIONS_PER_ADDRESS,
    )
    return Runtime(
        service=service,
        log=log,
        relay=relay,
        supervisor=supervisor,
        slots=slots,
        archiver=archiver,
        webhooks=webhooks,
        mailer=mailer,
    )


def get_runtime() -> Runtime:
    """The started runtime of the running event loop.

    It is built and started in a context of its own, not the first request's: its tasks
    outlive that request, and must not inherit what is scoped to it (the chat its log lines
    are about, the thread its synchronous code runs on, which it gives back when it ends)."""
    loop = asyncio.get_running_loop()
    runtime = _runtimes.get(loop)
    if runtime is None:
        runtime = contextvars.Context().run(_started_runtime)
        _runtimes[loop] = runtime
    return runtime


def _started_runtime() -> Runtime:
    runtime = build_runtime()
    runtime.start()
    return runtime


async def stop_runtime() -> None:
    runtime = _runtimes.pop(asyncio.get_running_loop(), None)
    if runtime is not None:
        await runtime.stop()


async def drain_runtime() -> None:
    """Shuts the running event loop's runtime down gracefully (Runtime.drain), if it started.

    It stays the loop's runtime, draining: a connection that still arrives is refused by it
    instead of starting a new runtime in a process on its way out."""
    runtime = _runtimes.get(asyncio.get_running_loop())
    if runtime is not None and not runtime.draining:
        await runtime.drain()


def prepare_for_serving() -> None:
    """Loads what every chat needs, then freezes it out of the garbage collector's sight;
    shortens the GIL's switch interval (see the module's docstring)."""
    clients.connect_client()
    clients.participant_client()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*settings.CHATBRIDGE_GC_THRESHOLDS)
    sys.setswitchinterval(settings.CHATBRIDGE_SWITCH_INTERVAL)
