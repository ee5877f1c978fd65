"""Many processes, one of them lost: two ASGI processes and a workers process share Redis, the
database and the emulator; the one holding a chat's Connect websocket is killed (kill -9) or
stopped (SIGTERM), and the other takes the chat over without waiting for its lease to lapse,
tells its clients the truth about the upstream meanwhile, and logs every Connect message once.

The lease TTL here is long (LEASE_TTL): a takeover within the bound can only come from the
holder's liveness (or its release), never from the lease lapsing.
"""

import asyncio
import collections
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatbridge.chats.events import MESSAGE
from chatbridge.dev.processes import (
    AsgiProcess,
    migrate,
    run_manage,
    stack_environment,
    start_asgi,
)
from chatbridge.runtime import CLOSE_SERVICE_RESTART
from tests.support.processes import SocketClient, is_message, is_status
from tests.support.redis_waits import until_key

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_TTL = 30.0
PROCESS_TTL = 1.0
SUPERVISOR_INTERVAL = 0.2
# What a takeover may take beyond detection and the next scan: connecting to Connect on a
# machine that may be busy. Detection plus this stays well within the lease TTL.
TAKEOVER_ALLOWANCE = 3.0
TAKEOVER_BOUND = PROCESS_TTL + SUPERVISOR_INTERVAL + TAKEOVER_ALLOWANCE
# Failure guard for a whole scenario.
GUARD = 60.0


@dataclass
class Stack:
    asgi: list[AsgiProcess]
    workers: asyncio.subprocess.Process


@pytest.fixture
async def stack(redis_server, emulator_server, tmp_path: Path) -> AsyncIterator[Stack]:
    env = stack_environment(
        redis_server.url,
        emulator_server.url,
        tmp_path / "db.sqlite3",
        CHATBRIDGE_LEASE_TTL=str(LEASE_TTL),
        CHATBRIDGE_PROCESS_TTL=str(PROCESS_TTL),
        CHATBRIDGE_SUPERVISOR_INTERVAL=str(SUPERVISOR_INTERVAL),
    )
    await migrate(env, tmp_path / "migrate.log")
    workers = await run_manage(env, "workers", log=tmp_path / "workers.log")
    asgi = list(
        await asyncio.gather(
            start_asgi(env, tmp_path / "asgi-a.log"), start_asgi(env, tmp_path / "asgi-b.log")
        )
    )
    yield Stack(asgi=asgi, workers=workers)
    for process in [*(served.process for served in asgi), workers]:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def held_chat(runtime, stack: Stack):
    """A chat started here whose Connect websocket only the stack's processes may hold, and
    a client of it on each ASGI process, the first process holding the upstream."""
    chat = await runtime.service.start_chat(display_name="Ada")
    await runtime.supervisor.stop()
    holder_side = await SocketClient.open(stack.asgi[0], chat.session_token)
    await holder_side.first(is_status("connected"))
    other_side = await SocketClient.open(stack.asgi[1], chat.session_token)
    await other_side.first(is_status("connected"))
    return chat, holder_side, other_side


async def lease_holder(redis, key: str) -> str | None:
    value = await redis.get(key)
    return value.decode() if value is not None else None


async def until_held_by(redis, key: str, process: AsgiProcess) -> None:
    async def reached() -> bool:
        return process.owns(await lease_holder(redis, key))

    await until_key(redis, key, reached, guard=GUARD)


async def test_a_killed_holders_chat_is_taken_over_within_the_liveness_bound(
    runtime, stack, emulator, redis_client
):
    async with asyncio.timeout(GUARD):
        chat, holder_side, other_side = await held_chat(runtime, stack)
        killed, survivor = stack.asgi
        lease_key = runtime.supervisor.lease(chat.session.chat_id).key
        assert killed.owns(await lease_holder(redis_client, lease_key))

        killed.process.kill()
        await killed.process.wait()
        died = time.monotonic()
        await until_held_by(redis_client, lease_key, survivor)
        await other_side.first(is_status("connected"), start=len(other_side.frames))
        taken_over = time.monotonic() - died

        assert taken_over <= TAKEOVER_BOUND < LEASE_TTL


async def test_every_connect_message_is_logged_once_across_a_kill(
    runtime, stack, emulator, redis_client
):
    async with asyncio.timeout(GUARD):
        chat, holder_side, other_side = await held_chat(runtime, stack)
        contact_id = chat.session.contact_id
        killed, survivor = stack.asgi
        emulator.agent_join(contact_id)
        for n in range(20):
            emulator.agent_message(contact_id, f"before {n}")
        await other_side.first(is_message("before 19"))

        killed.process.kill()
        await killed.process.wait()
        for n in range(20):
            emulator.agent_message(contact_id, f"during {n}")
        await holder_side.closed()
        back = await SocketClient.open(survivor, chat.session_token, after=holder_side.last_seq())
        for n in range(20):
            emulator.agent_message(contact_id, f"after {n}")
        await back.first(is_message("after 19"))
        await other_side.first(is_message("after 19"))

    items = emulator.contact(contact_id)["items"]
    connect_messages = [item["Id"] for item in items if item["Type"] == "MESSAGE"]
    logged = await runtime.log.read_after(chat.session.chat_id, 0)
    logged_messages = [entry.event.id for entry in logged if entry.event.type == MESSAGE]
    assert collections.Counter(logged_messages) == collections.Counter(connect_messages)
    assert len(set(logged_messages)) == len(logged_messages) == 60
    assert holder_side.messages() + back.messages() == other_side.messages()


async def test_a_client_of_the_survivor_hears_reconnecting_until_the_takeover_connects(
    runtime, stack, emulator
):
    async with asyncio.timeout(GUARD):
        chat, holder_side, other_side = await held_chat(runtime, stack)
        killed, survivor = stack.asgi
        # The survivor cannot reach Connect until the faults are cleared.
        emulator.fault("CreateParticipantConnection", "error", count=100_000)
        since = len(other_side.frames)

        killed.process.kill()
        await killed.process.wait()
        await other_side.first(is_status("reconnecting"), start=since)
        await holder_side.closed()
        back = await SocketClient.open(survivor, chat.session_token)
        told = await back.first(lambda frame: frame["type"] == "upstream")
        emulator.clear_faults()
        await other_side.first(is_status("connected"), start=since)
        await back.first(is_status("connected"))

    assert told["status"] == "reconnecting"
    assert other_side.upstream_statuses()[-2:] == ["reconnecting", "connected"]


async def test_the_upstream_status_does_not_repeat_a_dead_holders_connected(
    runtime, stack, emulator, redis_client
):
    """Until some process takes the chat over, the status still names the dead holder as
    connected, and its lease still names it: the status read must see through both."""
    async with asyncio.timeout(GUARD):
        chat, holder_side, other_side = await held_chat(runtime, stack)
        killed, survivor = stack.asgi
        lease_key = runtime.supervisor.lease(chat.session.chat_id).key
        status_key = runtime.relay._status_key(chat.session.chat_id)
        survivor.process.send_signal(signal.SIGSTOP)  # nobody takes the chat over meanwhile
        try:
            killed.process.kill()
            await killed.process.wait()
            told = await runtime.relay.current_upstream_status(chat.session.chat_id)
            still_named = (await redis_client.get(status_key)).decode()
            holder = await lease_holder(redis_client, lease_key)
        finally:
            survivor.process.send_signal(signal.SIGCONT)

    assert killed.owns(holder) and still_named.startswith("connected|")
    assert told == "reconnecting"


async def test_a_stopped_holder_hands_its_chats_over_and_closes_its_clients_for_reconnect(
    runtime, stack, emulator, redis_client
):
    async with asyncio.timeout(GUARD):
        chat, holder_side, other_side = await held_chat(runtime, stack)
        stopped, survivor = stack.asgi
        lease_key = runtime.supervisor.lease(chat.session.chat_id).key

        since = len(other_side.frames)
        stopped.process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        code = await holder_side.closed()
        await until_held_by(redis_client, lease_key, survivor)
        taken_over = time.monotonic() - stopping
        assert await stopped.process.wait() == 0
        await other_side.first(is_status("connected"), start=since)

    assert code == CLOSE_SERVICE_RESTART
    assert taken_over <= TAKEOVER_BOUND < LEASE_TTL
