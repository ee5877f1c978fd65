"""ChatBridge deployed as many processes, for tests: ASGI processes (daphne through
chatbridge.serve) and a `manage.py workers` process, sharing the test run's Redis, the Connect
emulator and one SQLite database; and a client that speaks /ws/chat/ to them over TCP."""

import asyncio
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from chatbridge.dev.services import free_port

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://localhost:8000"
# Failure guard for a process to start answering.
STARTUP_GUARD = 60.0
Frame = dict[str, Any]


def stack_environment(
    redis_url: str, emulator_url: str, database: Path, **overrides: str
) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "CONNECT_ENDPOINT_URL": emulator_url,
        "CONNECT_PARTICIPANT_ENDPOINT_URL": emulator_url,
        "DATABASE_URL": f"sqlite:///{database}",
        "CHATBRIDGE_RUN_ARCHIVER": "0",
        "CHATBRIDGE_RUN_WEBHOOKS": "0",
        "CHATBRIDGE_UPSTREAM_BACKOFF_INITIAL": "0.05",
        "CHATBRIDGE_UPSTREAM_BACKOFF_MAX": "0.5",
        **overrides,
    }


async def run_manage(env: dict[str, str], *args: str, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "manage.py", *args, cwd=ROOT, env=env,
        stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def migrate(env: dict[str, str], log: Path) -> None:
    process = await run_manage(env, "migrate", "--noinput", "-v0", log=log)
    if await process.wait() != 0:
        raise AssertionError(await asyncio.to_thread(log.read_text))


@dataclass
class AsgiProcess:
    process: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat/"

    def owns(self, lease_holder: str | None) -> bool:
        """Whether a lease's value (host:pid:suffix) names this process."""
        return lease_holder is not None and lease_holder.split(":")[1] == str(self.pid)


async def start_asgi(env: dict[str, str], log: Path, *, port: int | None = None) -> AsgiProcess:
    """`python -m chatbridge.serve` on a loopback port (a free one unless given: a process
    started again behind a proxy takes its predecessor's), once it answers /healthz."""
    port = port or free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatbridge.serve", "-b", "127.0.0.1", "-p", str(port),
        "chatbridge.asgi:application",
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    served = AsgiProcess(process, port, log)
    async with asyncio.timeout(STARTUP_GUARD), httpx.AsyncClient(timeout=2) as http:
        while True:
            if process.returncode is not None:
                raise AssertionError(await asyncio.to_thread(log.read_text))
            try:
                if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return served
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)  # polling a process that is starting up


@dataclass
class SocketClient:
    """A chat client on one process's /ws/chat/, over a real websocket."""

    socket: ClientConnection
    frames: list[Frame] = field(default_factory=list)
    close_code: int | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task | None = None

    @classmethod
    async def open(cls, process: AsgiProcess, token: str, *, after: int = 0) -> "SocketClient":
        """Connected and authenticated: its first frames are `ready`, then the chat's events
        after `after`, then the upstream status."""
        socket = await websockets.connect(process.ws_url, origin=ORIGIN, open_timeout=30)
        client = cls(socket)
        client._reader = asyncio.create_task(client._read())
        await socket.send(json.dumps({"type": "auth", "token": token, "after": after}))
        ready = await client.first(lambda f: f["type"] in {"ready", "error"})
        assert ready["type"] == "ready", ready
        return client

    async def _read(self) -> None:
        try:
            async for text in self.socket:
                self.frames.append(json.loads(text))
                self._arrived.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.socket.close_code
            self._arrived.set()

    async def first(self, predicate: Callable[[Frame], bool], *, start: int = 0) -> Frame:
        """The first frame from index `start` on that matches, waiting for it if need be."""
        seen = start
        while True:
            for frame in self.frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.frames)
            if self._reader is not None and self._reader.done():
                raise AssertionError(f"closed ({self.close_code}) first: {self.frames}")
            self._arrived.clear()
            await self._arrived.wait()

    async def closed(self) -> int | None:
        """The close code, once the server has closed the socket."""
        assert self._reader is not None
        await self._reader
        return self.close_code

    def upstream_statuses(self) -> list[str]:
        return [frame["status"] for frame in self.frames if frame["type"] == "upstream"]

    def last_seq(self) -> int:
        return max((frame["seq"] for frame in self.frames if frame["type"] == "event"), default=0)

    def messages(self) -> list[str]:
        return [
            frame["event"]["content"]
            for frame in self.frames
            if frame["type"] == "event" and frame["event"]["type"] == "message"
        ]

    async def close(self) -> None:
        await self.socket.close()
        if self._reader is not None:
            await self._reader


def is_status(status: str) -> Callable[[Frame], bool]:
    return lambda frame: frame["type"] == "upstream" and frame["status"] == status


def is_message(content: str) -> Callable[[Frame], bool]:
    return lambda frame: (
        frame["type"] == "event"
        and frame["event"]["type"] == "message"
        and frame["event"]["content"] == content
    )
