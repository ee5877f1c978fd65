"""`manage.py relay` claims active chats and stops cleanly on SIGTERM."""

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.django_db(transaction=True)


async def test_relay_process_takes_the_upstream_of_an_active_chat(
    runtime, redis_server, emulator_server, emulator, tmp_path
):
    chat = await runtime.service.start_chat(display_name="Ada")
    await runtime.supervisor.stop()
    env = dict(
        os.environ,
        REDIS_URL=redis_server.url,
        CONNECT_ENDPOINT_URL=emulator_server.url,
        CONNECT_PARTICIPANT_ENDPOINT_URL=emulator_server.url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CHATBRIDGE_RUN_ARCHIVER="0",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "relay",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lease = runtime.supervisor.lease(chat.session.chat_id)
    try:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            assert b"Relay running" in await process.stdout.readline()
        holder = await runtime.service.store.redis.get(lease.key)
        assert holder is not None and holder.decode() != runtime.supervisor.owner
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await process.wait() == 0
    assert await runtime.service.store.redis.get(lease.key) is None
