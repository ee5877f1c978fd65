"""`manage.py workers` archives logged events in a process of its own and stops on SIGTERM."""

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

from chatbridge.realtime.eventlog import EventLog
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
