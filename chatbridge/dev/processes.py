"""ChatBridge deployed as many processes on loopback: ASGI processes (daphne through
chatbridge.serve) and `manage.py` commands (a relay, the workers), sharing one Redis, the
Connect emulator and one SQLite database. For the multi-process tests and `make bench-rolling`.
"""

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from chatbridge.dev.services import free_port

ROOT = Path(__file__).resolve().parents[2]
# An origin the processes accept by default (CHATBRIDGE_ALLOWED_ORIGINS), for their clients.
ORIGIN = "http://localhost:8000"
# Failure guard for a process to start answering.
STARTUP_GUARD = 60.0


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
