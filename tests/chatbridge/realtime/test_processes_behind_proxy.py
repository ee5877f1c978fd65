"""ChatBridge deployed as in production: two ASGI processes (`python -m chatbridge.serve`) as
the upstream servers of nginx running the shipped configuration (TLS, with the test run's
throw-away authority), and a `manage.py relay` process, all sharing Redis, the database and the
emulator. Clients reach the ASGI processes through nginx only, and resume through it after
their process goes away, as the websocket protocol asks; the emulator's agent keeps talking
throughout.

Every scenario ends with the same proof: each chat's event log holds each of Connect's messages
(the emulator's own transcript) exactly once, every client received every event of its chat
exactly once across its reconnects, and no client was told `upstream: connected` while the
process the status named was gone.
"""

import asyncio
import collections
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from django.conf import settings

from chatbridge.chats.events import MESSAGE
from chatbridge.dev.processes import (
    AsgiProcess,
    migrate,
    run_manage,
    stack_environment,
    start_asgi,
)
from chatbridge.dev.proxy import Proxy, serving_proxy
from chatbridge.dev.resuming_client import ResumingClient, has_message, is_connected
from chatbridge.dev.services import free_port
from chatbridge.dev.takeovers import holders, live_again, pid_of, status_owner, until_process_alive
from chatbridge.dev.tls import Certificates, loopback_certificates
from chatbridge.redis import RedisKeys
from chatbridge.runtime import CLOSE_SERVICE_RESTART
from tests.support.proxy import require_nginx

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

# How long a killed process's chats may stay away from Connect, as the deployment promises.
TAKEOVER_BOUND = 5.0
# Failure guard for a whole scenario.
GUARD = 120.0
# Failure guard for every client to be told its chat's upstream is connected.
CONNECTED_GUARD = 60.0
# How long a client whose process went away may take to be served again through the proxy.
RESUME_BOUND = 5.0
# Seconds between the agent's rounds of one message to every chat.
AGENT_PACE = 0.3


@dataclass
class ProxiedStack:
    env: dict[str, str]
    directory: Path
    asgi: list[AsgiProcess]
    proxy: Proxy
    certificates: Certificates
    relay: asyncio.subprocess.Process | None = None
    # Pids of processes killed or stopped: a status naming one of them is no longer true.
    gone: set[int] = field(default_factory=set)

    @property
    def ws_url(self) -> str:
        return self.proxy.https_url.replace("https://", "wss://") + "/ws/chat/"

    async def start_relay(self) -> asyncio.subprocess.Process:
        self.relay = await run_manage(self.env, "relay", log=self.directory / "relay.log")
        return self.relay

    async def stop(self, process: asyncio.subprocess.Process) -> None:
        """SIGTERM, as an orchestrator stops a process; it must drain and exit cleanly."""
        process.send_signal(signal.SIGTERM)
        self.gone.add(process.pid)
        assert await process.wait() == 0

    async def restart_asgi(self, index: int) -> AsgiProcess:
        """The ASGI process stopped, then started again on its port (nginx's upstream)."""
        old = self.asgi[index]
        await self.stop(old.process)
        self.asgi[index] = await start_asgi(self.env, old.log, port=old.port)
        return self.asgi[index]


@pytest.fixture
async def proxied_stack(
    redis_server, emulator_server, redis_client, tmp_path: Path
) -> AsyncIterator[ProxiedStack]:
    nginx = require_nginx()
    env = stack_environment(
        redis_server.url,
        emulator_server.url,
        tmp_path / "db.sqlite3",
        # Every client comes from 127.0.0.1, the proxy's address.
        CHATBRIDGE_CONNECTIONS_PER_ADDRESS="1000",
    )
    await migrate(env, tmp_path / "migrate.log")
    ports = [free_port(), free_port()]
    asgi = list(
        await asyncio.gather(
            *(
                start_asgi(env, tmp_path / f"asgi-{n}.log", port=port)
                for n, port in enumerate(ports)
            )
        )
    )
    certificates = loopback_certificates(tmp_path / "certificates")
    stack = None
    try:
        with serving_proxy(
            nginx,
            tmp_path / "nginx",
            certificates,
            [f"127.0.0.1:{port}" for port in ports],
            free_port(),
            free_port(),
        ) as proxy:
            stack = ProxiedStack(env, tmp_path, asgi, proxy, certificates)
            yield stack
    finally:
        processes = [served.process for served in (stack.asgi if stack else asgi)]
        if stack is not None and stack.relay is not None:
            processes.append(stack.relay)
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()


@dataclass
class Chat:
    chat_id: str
    contact_id: str
    token: str
    clients: list[ResumingClient]
    sent: int = 0


class Agent:
    """The emulator's agent in every chat, sending a message to each chat in turn until
    stopped: Connect keeps talking whatever ChatBridge's processes do."""

    def __init__(self, emulator_url: str, chats: list[Chat]) -> None:
        self._http = httpx.AsyncClient(base_url=f"{emulator_url}/_emulator", timeout=10)
        self._chats = chats
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    async def say(self, chat: Chat, content: str) -> None:
        response = await self._http.post(
            f"/contacts/{chat.contact_id}/agent/message", json={"content": content}
        )
        response.raise_for_status()
        chat.sent += 1

    async def join_all(self) -> None:
        for chat in self._chats:
            (
                await self._http.post(f"/contacts/{chat.contact_id}/agent/join", json={})
            ).raise_for_status()

    def start(self) -> None:
        self._task = asyncio.create_task(self._talk())

    async def _talk(self) -> None:
        n = 0
        while not self._stop.is_set():
            for chat in self._chats:
                await self.say(chat, f"agent {n}")
            n += 1
            # The agent's pace, not a wait on ChatBridge.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(AGENT_PACE):
                    await self._stop.wait()

    async def stop(self) -> None:
        """Once the round under way is said: every message sent is counted."""
        assert self._task is not None
        self._stop.set()
        await self._task

    async def aclose(self) -> None:
        await self._http.aclose()


class TruthCheck:
    """Each `upstream: connected` a client is told is checked, as it arrives, against the
    status it was derived from: a status naming a killed or stopped process as connected is a
    claim nobody can make true (the dead holder's Connect websocket is gone)."""

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys, stack: ProxiedStack) -> None:
        self._redis, self._keys, self._stack = redis, keys, stack
        self._checks: list[asyncio.Task] = []
        self.false: list[tuple[str, str]] = []

    def __call__(self, client: ResumingClient) -> None:
        self._checks.append(asyncio.create_task(self._check(client.chat_id)))

    async def _check(self, chat_id: str) -> None:
        owner = await status_owner(self._redis, self._keys, chat_id)
        if owner is None or pid_of(owner) in self._stack.gone:
            self.false.append((chat_id, owner or "nobody"))

    async def settled(self) -> list[tuple[str, str]]:
        await asyncio.gather(*self._checks)
        return self.false

    async def told_connected(self, waiting: list[ResumingClient]) -> None:
        """Waits until every client's last status is `connected`. Past CONNECTED_GUARD, fails
        naming each client still waiting, with what it was told and what Redis holds of its
        chat's upstream and of its holder's liveness, so that a miss says where it happened."""
        try:
            async with asyncio.timeout(CONNECTED_GUARD):
                await asyncio.gather(*(client.until(is_connected) for client in waiting))
        except TimeoutError:
            lines = []
            for client in waiting:
                if not is_connected(client):
                    status, lease = await self._redis.mget(
                        self._keys.chat(client.chat_id, "upstream-status"),
                        self._keys.chat(client.chat_id, "lease"),
                    )
                    holder = self._keys.process((lease or b"").decode())
                    beating = await self._redis.exists(holder)
                    present = (await self._redis.pubsub_numsub(holder))[0][1]
                    lines.append(
                        f"{client.chat_id}: told {client.statuses}, status {status!r}, "
                        f"lease {lease!r} (heartbeat {beating}, presence {present})"
                    )
            raise AssertionError("not told connected:\n" + "\n".join(lines)) from None


async def settle(chats: list["Chat"], truth: TruthCheck) -> None:
    """Every client told `connected` and every such frame checked: the moment to stop a
    process, so that what a client is told from then on comes after the stop."""
    await truth.told_connected(clients(chats))
    await truth.settled()


async def start_chats(runtime, stack: ProxiedStack, truth: TruthCheck, count: int, per_chat: int):
    chats = []
    for n in range(count):
        started = await runtime.service.start_chat(display_name=f"Customer {n}")
        chat = Chat(started.session.chat_id, started.session.contact_id, started.session_token, [])
        for _ in range(per_chat):
            client = ResumingClient(
                stack.ws_url,
                chat.token,
                chat.chat_id,
                tls=stack.certificates.trusting(),
                on_connected=truth,
            )
            client.start()
            chat.clients.append(client)
        chats.append(chat)
    return chats


def clients(chats: list[Chat]) -> list[ResumingClient]:
    return [client for chat in chats for client in chat.clients]


async def finish(agent: Agent, chats: list[Chat], emulator, runtime, truth: TruthCheck) -> None:
    """Stops the agent, has it say a last word in every chat, waits until every client has
    it, and checks that nothing was lost or doubled, and that no client was told a false
    `connected`."""
    await agent.stop()
    for chat in chats:
        await agent.say(chat, "last")
    await agent.aclose()
    await asyncio.gather(*(client.until(has_message("last")) for client in clients(chats)))
    for chat in chats:
        items = (await asyncio.to_thread(emulator.contact, chat.contact_id))["items"]
        from_connect = [item["Id"] for item in items if item["Type"] == "MESSAGE"]
        logged = await runtime.log.read_after(chat.chat_id, 0)
        logged_messages = [entry.event.id for entry in logged if entry.event.type == MESSAGE]
        assert len(from_connect) == chat.sent
        assert collections.Counter(logged_messages) == collections.Counter(from_connect)
        assert len(set(logged_messages)) == len(logged_messages)
        every_seq = [entry.seq for entry in logged]
        for client in chat.clients:
            assert client.seqs == every_seq, f"client of {chat.chat_id} lost or doubled events"
    assert await truth.settled() == []


async def test_a_killed_asgi_process_behind_the_proxy_loses_no_chat_and_no_message(
    runtime, proxied_stack, emulator, redis_client
):
    stack = proxied_stack
    keys = RedisKeys(settings.CHATBRIDGE_REDIS_PREFIX)
    truth = TruthCheck(redis_client, keys, stack)
    await runtime.supervisor.stop()  # only the stack's processes hold Connect websockets
    async with asyncio.timeout(GUARD):
        chats = await start_chats(runtime, stack, truth, count=8, per_chat=2)
        await truth.told_connected(clients(chats))
        # Started now, the relay holds none of the chats: the ASGI processes do.
        relay = await stack.start_relay()
        await until_process_alive(redis_client, keys, relay.pid)
        agent = Agent(emulator.url, chats)
        await agent.join_all()
        agent.start()
        await asyncio.gather(*(client.until(has_message("agent 1")) for client in clients(chats)))

        held = await holders(redis_client, keys, [chat.chat_id for chat in chats])
        by_pid = collections.Counter(pid_of(holder) for holder in held)
        victim = max(stack.asgi, key=lambda served: by_pid[served.pid])
        victims_chats = [
            chat.chat_id for chat, holder in zip(chats, held, strict=True) if victim.owns(holder)
        ]
        assert victims_chats
        await settle(chats, truth)

        victim.process.kill()
        stack.gone.add(victim.pid)
        killed = time.monotonic()
        await victim.process.wait()
        taken_over = await live_again(redis_client, keys, victims_chats, stack.gone, killed)

        # Every client has Connect's last word: the killed process's clients have resumed
        # through the proxy on the survivor by then.
        await finish(agent, chats, emulator, runtime, truth)
        for client in clients(chats):
            await client.close()

    resumed = [client for client in clients(chats) if client.resumes]
    assert 0 < len(resumed) < len(clients(chats)), "clients were not spread over both"
    assert max(taken_over.values()) <= TAKEOVER_BOUND, taken_over
    assert max(resume.seconds for client in resumed for resume in client.resumes) <= RESUME_BOUND


async def test_a_rolling_restart_behind_the_proxy_loses_and_doubles_nothing(
    runtime, proxied_stack, emulator, redis_client
):
    stack = proxied_stack
    keys = RedisKeys(settings.CHATBRIDGE_REDIS_PREFIX)
    truth = TruthCheck(redis_client, keys, stack)
    await runtime.supervisor.stop()
    async with asyncio.timeout(GUARD):
        chats = await start_chats(runtime, stack, truth, count=20, per_chat=1)
        chat_ids = [chat.chat_id for chat in chats]
        await truth.told_connected(clients(chats))
        relay = await stack.start_relay()
        await until_process_alive(redis_client, keys, relay.pid)
        agent = Agent(emulator.url, chats)
        await agent.join_all()
        agent.start()

        for index in range(len(stack.asgi)):
            await settle(chats, truth)
            stopping = time.monotonic()
            await stack.restart_asgi(index)
            await live_again(redis_client, keys, chat_ids, stack.gone, stopping)
        await settle(chats, truth)
        await stack.stop(relay)
        await live_again(redis_client, keys, chat_ids, stack.gone, time.monotonic())
        relay = await stack.start_relay()
        await until_process_alive(redis_client, keys, relay.pid)

        await finish(agent, chats, emulator, runtime, truth)
        for client in clients(chats):
            await client.close()

    resumes = [resume for client in clients(chats) for resume in client.resumes]

    # Every client's process was stopped under it at least once, and told to come back.
    assert all(client.resumes for client in clients(chats))
    assert {resume.close_code for resume in resumes} == {CLOSE_SERVICE_RESTART}
    assert max(resume.seconds for resume in resumes) <= RESUME_BOUND
