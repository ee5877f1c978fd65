"""Serve the emulator with uvicorn and announce the real address once it accepts
connections (``--port 0`` binds a free port first, so the line shows the one picked)."""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from .app import create_app
from .config import EmulatorConfig
from .quotas import QuotaSettings

READY_LINE = "Amazon Connect emulator listening on http://{host}:{port}"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted sockets; without it every
    # answer whose headers and body go out in two writes waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(
    host: str, port: int, config: EmulatorConfig, quotas: QuotaSettings | None = None
) -> None:
    sock = _bind(host, port)
    real_port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, quotas), log_level="warning", lifespan="on", ws="websockets-sansio"
        )
    )

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.02)
        print(READY_LINE.format(host=host, port=real_port), flush=True)

    announcer = asyncio.create_task(announce())
    try:
        await server.serve(sockets=[sock])
    finally:
        announcer.cancel()


def run(host: str, port: int, config: EmulatorConfig, quotas: QuotaSettings | None = None) -> None:
    asyncio.run(serve(host, port, config, quotas))
