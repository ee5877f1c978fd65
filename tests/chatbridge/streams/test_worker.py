"""The stream worker base, on both of its workers (archiver, webhooks), against a real Redis."""

import asyncio
import logging
import os
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from chatbridge.metrics import FEED_LAG_SECONDS, FEED_PENDING
from chatbridge.redis import RedisKeys
from chatbridge.runtime import build_runtime, build_stream_workers
from chatbridge.streams.archiver import Archiver
from chatbridge.streams.webhooks import WebhookWorker
from chatbridge.streams.worker import StreamWorker
from tests.support.records import PREFIX, append, message

pytestmark = pytest.mark.django_db(transaction=True)

STREAM = RedisKeys(PREFIX).feed
MakeWorker = Callable[..., StreamWorker]


@pytest.fixture(params=[Archiver, WebhookWorker], ids=["archiver", "webhooks"])
def make_worker(request, redis_client) -> MakeWorker:
    def make(client: aioredis.Redis | None = None, **options: object) -> StreamWorker:
        options.setdefault("consumer_name", "live")
        return request.param(client or redis_client, prefix=PREFIX, **options)

    return make


class _DelayRecorder(logging.Handler):
    def __init__(self, delays: asyncio.Queue[float]) -> None:
        super().__init__()
        self.delays = delays

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is not None:
            self.delays.put_nowait(record.args[-1])


@pytest.fixture
def retry_delays() -> Iterator[asyncio.Queue[float]]:
    """The delay a worker announces after each failure, as it logs it."""
    delays: asyncio.Queue[float] = asyncio.Queue()
    handler = _DelayRecorder(delays)
    logger = logging.getLogger("chatbridge.streams.worker")
    logger.addHandler(handler)
    yield delays
    logger.removeHandler(handler)


async def consumers(redis_client, group: str) -> set[str]:
    return {c["name"].decode() for c in await redis_client.xinfo_consumers(STREAM, group)}


async def pending(redis_client, group: str) -> int:
    return (await redis_client.xpending(STREAM, group))["pending"]


async def test_idle_consumers_are_forgotten_but_never_the_worker_itself(make_worker, redis_client):
    worker = make_worker(forget_idle_consumers_ms=0)
    await worker.ensure_group()
    await redis_client.xgroup_createconsumer(STREAM, worker.group, "restarted-long-ago")

    await worker.drain_once()

    assert await consumers(redis_client, worker.group) == {"live"}


async def test_a_consumer_with_pending_entries_is_not_forgotten(make_worker, redis_client, log):
    worker = make_worker(forget_idle_consumers_ms=0)
    await worker.ensure_group()
    await append(log, "chat-1", message("m1"))
    await redis_client.xreadgroup(worker.group, "busy", {STREAM: ">"})

    await worker.drain_once()

    assert "busy" in await consumers(redis_client, worker.group)


async def test_a_recently_active_consumer_is_not_forgotten(make_worker, redis_client):
    worker = make_worker(forget_idle_consumers_ms=3_600_000)
    await worker.ensure_group()
    await redis_client.xgroup_createconsumer(STREAM, worker.group, "recent")

    await worker.drain_once()

    assert "recent" in await consumers(redis_client, worker.group)


async def test_stale_entries_are_claimed_page_after_page_in_one_drain(
    make_worker, redis_client, log
):
    worker = make_worker(batch_size=2, claim_idle_ms=0)
    await worker.ensure_group()
    for n in range(5):
        await append(log, "chat-1", message(f"m{n}", second=n))
    await redis_client.xreadgroup(worker.group, "dead", {STREAM: ">"}, count=10)

    assert await worker.drain_once() == 5

    assert await pending(redis_client, worker.group) == 0


async def test_a_restarted_process_resumes_its_own_pending_entries(make_worker, redis_client, log):
    before = make_worker(consumer_name=None)
    await before.ensure_group()
    await append(log, "chat-1", message("m1"))
    # The process read the entry, then died before handling and acknowledging it.
    await redis_client.xreadgroup(before.group, before.consumer_name, {STREAM: ">"})
    after = make_worker(consumer_name=None, claim_idle_ms=3_600_000)

    assert await after.drain_once() == 1

    assert await pending(redis_client, after.group) == 0


async def test_a_malformed_entry_is_skipped_and_acknowledged(make_worker, redis_client):
    worker = make_worker()
    await worker.ensure_group()
    await redis_client.xadd(STREAM, {"something": "else"})

    assert await worker.drain_once() == 1

    assert await pending(redis_client, worker.group) == 0


async def test_a_deleted_feed_gets_its_group_again(make_worker, redis_client, log):
    worker = make_worker()
    await worker.drain_once()
    await redis_client.delete(STREAM)
    await worker.drain_once()  # finds the group gone and creates it again
    await append(log, "chat-1", message("m1"))

    assert await worker.drain_once() == 1


async def test_the_consumer_name_is_the_process_host_and_pid_however_often_built(redis_client):
    runtimes = [build_runtime(), build_runtime()]
    workers = [*build_stream_workers(redis_client), *build_stream_workers(redis_client)]
    workers += [w for runtime in runtimes for w in (runtime.archiver, runtime.webhooks)]

    names = {worker.consumer_name for worker in workers}

    assert names == {f"{socket.gethostname()}:{os.getpid()}"}


async def test_failures_back_off_exponentially_up_to_a_cap(make_worker, redis_client, retry_delays):
    await redis_client.set(STREAM, "not a stream")
    worker = make_worker(backoff_initial=0.001, backoff_max=0.004)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))

    async with asyncio.timeout(30):
        delays = [await retry_delays.get() for _ in range(5)]
        stop.set()
        await task

    assert delays == pytest.approx([0.001, 0.002, 0.004, 0.004, 0.004])


async def test_stop_ends_a_backoff_at_once(make_worker, redis_client, retry_delays):
    await redis_client.set(STREAM, "not a stream")
    worker = make_worker(backoff_initial=3600)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    assert await retry_delays.get() == 3600

    stop.set()

    async with asyncio.timeout(30):
        await task


def pending_gauge(group: str) -> float | None:
    return REGISTRY.get_sample_value("chatbridge_feed_pending_entries", {"group": group})


def lag_gauge(group: str) -> float | None:
    return REGISTRY.get_sample_value("chatbridge_feed_lag_entries", {"group": group})


async def reports_lag(redis_client) -> bool:
    """Whether the Redis reports a group's undelivered entries (its `lag`, Redis 7 and newer);
    the tests' own redis-server may be older."""
    return int((await redis_client.info("server"))["redis_version"].split(".")[0]) >= 7


async def test_the_backlog_counts_pending_and_undelivered_entries(make_worker, redis_client, log):
    worker = make_worker()
    await worker.ensure_group()
    for n in range(3):
        await append(log, "chat-1", message(f"m{n}", second=n))
    await redis_client.xreadgroup(worker.group, "dead", {STREAM: ">"}, count=2)

    await worker.report_backlog()

    assert pending_gauge(worker.group) == 2
    if await reports_lag(redis_client):
        assert lag_gauge(worker.group) == 1


async def test_a_drain_reports_the_backlog_it_leaves(make_worker, redis_client, log):
    worker = make_worker()
    await worker.ensure_group()
    for n in range(3):
        await append(log, "chat-1", message(f"m{n}", second=n))
    # Two entries a dead consumer took, not yet idle long enough for this worker to claim.
    await redis_client.xreadgroup(worker.group, "dead", {STREAM: ">"}, count=2)
    FEED_PENDING.labels(group=worker.group).set(-1)  # whatever an earlier test left

    await worker.drain_once()

    assert pending_gauge(worker.group) == 2
    if await reports_lag(redis_client):
        assert lag_gauge(worker.group) == 0


async def test_the_webhook_worker_reports_the_retries_waiting(redis_client):
    worker = WebhookWorker(redis_client, prefix=PREFIX, consumer_name="live")
    retries = RedisKeys(PREFIX).webhook_retries
    await redis_client.zadd(retries, {"a": 4_000_000_000, "b": 4_000_000_000})

    await worker.drain_once()

    assert REGISTRY.get_sample_value("chatbridge_webhook_retries_waiting") == 2


def lag_seconds_gauge(group: str) -> float | None:
    return REGISTRY.get_sample_value("chatbridge_feed_lag_seconds", {"group": group})


async def redis_now(redis_client) -> float:
    seconds, micros = await redis_client.time()
    return seconds + micros / 1_000_000


async def test_the_backlog_gives_the_age_of_the_oldest_undelivered_entry(make_worker, redis_client):
    worker = make_worker()
    await worker.ensure_group()
    # Entries whose ids say Redis added them in November 2023 and December 2023.
    for entry_id in ("1700000000000-0", "1701000000000-0", "1702000000000-0"):
        await redis_client.xadd(STREAM, {"chat": "chat-1"}, id=entry_id)
    await redis_client.xreadgroup(worker.group, "dead", {STREAM: ">"}, count=1)

    before = await redis_now(redis_client)
    await worker.report_backlog()
    after = await redis_now(redis_client)

    assert before - 1_701_000_000 <= lag_seconds_gauge(worker.group) <= after - 1_701_000_000


async def test_a_group_that_has_caught_up_lags_by_nothing(make_worker, redis_client, log):
    worker = make_worker()
    await worker.ensure_group()
    await append(log, "chat-1", message("m0", second=0))
    await redis_client.xreadgroup(worker.group, "dead", {STREAM: ">"})
    FEED_LAG_SECONDS.labels(group=worker.group).set(-1)  # whatever an earlier test left

    await worker.report_backlog()

    assert lag_seconds_gauge(worker.group) == 0


async def test_a_drain_reports_the_backlog_at_most_once_per_interval(
    make_worker, redis_client, log
):
    worker = make_worker(report_interval=3600)
    await worker.ensure_group()
    await worker.drain_once()
    await append(log, "chat-1", message("m0", second=0))
    await redis_client.xreadgroup(worker.group, "dead", {STREAM: ">"})
    FEED_PENDING.labels(group=worker.group).set(-1)

    await worker.drain_once()

    assert pending_gauge(worker.group) == -1


class _CountingRedis(aioredis.Redis):
    """Counts the commands sent on this client alone: the server's own counts also take in
    whatever else uses the test Redis meanwhile."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sent: Counter[str] = Counter()

    async def execute_command(self, *args, **options):
        self.sent[str(args[0]).lower()] += 1
        return await super().execute_command(*args, **options)


@pytest.fixture
async def counting_client(redis_server) -> AsyncIterator[_CountingRedis]:
    client = _CountingRedis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def test_a_drain_soon_after_a_clean_one_only_reads_new_entries(
    make_worker, counting_client, log
):
    worker = make_worker(client=counting_client)
    await worker.drain_once()
    before = counting_client.sent.copy()
    await append(log, "chat-1", message("m0", second=0))

    assert await worker.drain_once() == 1

    assert counting_client.sent["xautoclaim"] == before["xautoclaim"]
    assert counting_client.sent["xreadgroup"] == before["xreadgroup"] + 1


class _FailingOnce(StreamWorker):
    group = "failing-once"
    start_id = "0"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.handled: list[str] = []

    async def handle(self, entries) -> None:
        if not self.handled:
            self.handled.append("failed")
            raise RuntimeError("the database went away")
        self.handled.extend(entry.event.id for entry in entries)


async def test_a_drain_that_failed_is_followed_by_one_that_reads_what_it_left_pending(
    redis_client, log
):
    worker = _FailingOnce(redis_client, prefix=PREFIX, consumer_name="live")
    await worker.drain_once()
    await append(log, "chat-1", message("m0", second=0))
    with pytest.raises(RuntimeError):
        await worker.drain_once()

    assert await worker.drain_once() == 1

    assert worker.handled == ["failed", "m0"]
    assert await pending(redis_client, worker.group) == 0


def test_each_worker_lingers_as_its_setting_says(redis_client, settings):
    settings.CHATBRIDGE_ARCHIVE_LINGER = 1.5
    settings.CHATBRIDGE_WEBHOOK_LINGER = 0.5
    settings.CHATBRIDGE_MAIL_LINGER = 2.5

    archiver, webhooks, mailer = build_stream_workers(redis_client)

    assert (archiver._linger, webhooks._linger, mailer._linger) == (1.5, 0.5, 2.5)
