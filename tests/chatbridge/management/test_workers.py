"""`manage.py workers`: a process of its own that archives logged events, consumes under its
host and pid, and stops on SIGTERM."""

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import httpx
from redis.exceptions import ResponseError

from chatbridge.dev.services import free_port
from chatbridge.realtime.eventlog import EventLog
from chatbridge.redis import RedisKeys
from chatbridge.streams.webhooks import GROUP as WEBHOOKS
from tests.support.records import PREFIX, append, message

ROOT = Path(__file__).resolve().parents[3]


def archived_item_ids(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT item_id FROM archive_chatevent")]


async def run_manage(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_workers_process_archives_what_the_log_queued(redis_server, redis_client, tmp_path):
    database = tmp_path / "db.sqlite3"
    env = dict(
        os.environ,
        REDIS_URL=redis_server.url,
        DATABASE_URL=f"sqlite:///{database}",
        CHATBRIDGE_REDIS_PREFIX=PREFIX,
        CHATBRIDGE_ARCHIVE_LINGER="0",
        CHATBRIDGE_WEBHOOK_LINGER="0",
    )
    migrate = await run_manage(env, "migrate", "--noinput")
    output, _ = await migrate.communicate()
    assert migrate.returncode == 0, output.decode()
    await append(EventLog(redis_client, prefix=PREFIX, ttl=600), "chat-w", message("m1", "Hi"))

    process = await run_manage(env, "workers", "--no-webhooks")
    try:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            assert b"Workers running" in await process.stdout.readline()
        # The database is another process's: look until the row is there (30 s at most).
        for _ in range(600):
            if archived_item_ids(database) == ["m1"]:
                break
            await asyncio.sleep(0.05)
        assert archived_item_ids(database) == ["m1"]
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await process.wait() == 0


async def test_workers_consume_under_their_host_and_pid(redis_server, redis_client, tmp_path):
    env = dict(
        os.environ,
        REDIS_URL=redis_server.url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CHATBRIDGE_REDIS_PREFIX=PREFIX,
    )
    process = await run_manage(env, "workers", "--no-archive")
    name = f"{socket.gethostname()}:{process.pid}"
    try:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            assert f"Workers running as {name};".encode() in await process.stdout.readline()
        # Redis lists the consumer once the worker first reads: look until it does (30 s at most).
        consumers: list[str] = []
        for _ in range(600):
            with contextlib.suppress(ResponseError):  # no group before the worker's first read
                found = await redis_client.xinfo_consumers(RedisKeys(PREFIX).feed, WEBHOOKS)
                consumers = [consumer["name"].decode() for consumer in found]
            if consumers:
                break
            await asyncio.sleep(0.05)
        assert consumers == [name]
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await process.wait() == 0


async def test_workers_process_serves_its_metrics_on_the_port_asked_for(
    redis_server, redis_client, tmp_path
):
    port = free_port()
    env = dict(
        os.environ,
        REDIS_URL=redis_server.url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CHATBRIDGE_REDIS_PREFIX=PREFIX,
    )
    process = await run_manage(env, "workers", "--no-archive", "--metrics-port", str(port))
    try:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            assert b"Workers running" in await process.stdout.readline()
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200
        assert "chatbridge_feed_pending_entries" in response.text
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await process.wait() == 0
