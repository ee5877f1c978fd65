"""Serve the emulator with uvicorn and announce the real address once it accepts
connections (``--port 0`` binds a free port first, so the line shows the one picked).

Before it announces itself, the emulator puts everything it loaded to start (uvicorn, its
app, the service model) out of the garbage collector's sight, and collects young objects
less often. Otherwise a full collection walks all of it: 77 ms in the middle of a bench's
ramp of 300 chats, and the 2 to 7 ms of each middle-generation collection every 3 s, a pause
for every chat and test the emulator serves at that moment, which Amazon Connect's own
latency has nothing to do with.
"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Callable

import uvicorn

from .app import create_app
from .config import EmulatorConfig
from .quotas import QuotaSettings

READY_LINE = "Amazon Connect emulator listening on http://{host}:{port}"
# The collector's thresholds once serving (Python's defaults are 700, 10, 10).
GC_THRESHOLDS = (10_000, 100, 20)


def settle_heap() -> None:
    """What is loaded by now lives as long as the process: collected once, then frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _print_ready(line: str) -> None:
    print(line, flush=True)


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
    host: str,
    port: int,
    config: EmulatorConfig,
    quotas: QuotaSettings | None = None,
    announce_ready: Callable[[str], None] = _print_ready,
) -> None:
    """Serves until cancelled or told to exit; once it accepts connections, with its heap
    settled, hands the ready line to `announce_ready` (printed by default)."""
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
        settle_heap()
        announce_ready(READY_LINE.format(host=host, port=real_port))

    announcer = asyncio.create_task(announce())
    try:
        await server.serve(sockets=[sock])
    finally:
        announcer.cancel()


def run(host: str, port: int, config: EmulatorConfig, quotas: QuotaSettings | None = None) -> None:
    asyncio.run(serve(host, port, config, quotas))
