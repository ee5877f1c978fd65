"""`python -m bench.failover [--chats N]` (`make bench-failover`): how long a crashed process
keeps its chats away from Connect.

The bench's stack with a second ASGI process (`python -m chatbridge.serve`) beside its daphne,
both with the deployed defaults. N chats start over REST, and a customer of each follows it
over /ws/chat/, alternately on either process, until its upstream is connected. Then the
process that holds the most chats' Connect websockets is killed (kill -9), and, for each chat
it held, the bench times how long until a living process has taken the chat over and is
connected to Connect again (the chat's upstream status names the new holder as connected).
The killed process's customers do not come back: what is measured is the supervisors'
takeover alone, the slowest case (a returning client brings its chat's takeover with it).

Reports the time until every chat is live again, with the median and the 95th percentile.
"""

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import time

import redis.asyncio as aioredis
import websockets
from websockets.asyncio.client import ClientConnection

from bench.bridge import ORIGIN
from bench.rest import RestApi
from bench.stack import ROOT, Stack, StackFailed
from chatbridge.dev.services import stop_process

PREFIX = "chatbridge"
# Seconds between looks at the chats' upstream status while they are taken over.
POLL_INTERVAL = 0.02
# Chats started and followed at once.
CONCURRENCY = 20
# Seconds after which chats not live again count as lost.
GIVE_UP = 120.0


def start_second_asgi(stack: Stack) -> tuple[subprocess.Popen, int]:
    """`python -m chatbridge.serve` beside the stack's daphne, same environment."""
    return stack.serve("chatbridge.asgi:application", "asgi-b.log", what="the second ASGI process")


async def follow(ws_url: str, token: str) -> tuple[ClientConnection, str]:
    """A customer's websocket once its chat's upstream is connected, and the chat's id."""
    socket = await websockets.connect(ws_url, origin=ORIGIN, ping_interval=None, open_timeout=60)
    await socket.send(json.dumps({"type": "auth", "token": token}))
    chat_id = ""
    async for raw in socket:
        frame = json.loads(raw)
        if frame["type"] == "ready":
            chat_id = frame["chat_id"]
        elif frame["type"] == "upstream" and frame["status"] == "connected":
            return socket, chat_id
        elif frame["type"] in {"error", "ended"}:
            raise RuntimeError(f"chat did not start: {frame}")
    raise RuntimeError("the websocket closed before the upstream connected")


def pid_of(owner: bytes | None) -> int | None:
    return int(owner.decode().split(":")[1]) if owner else None


async def measure(stack: Stack, second_port: int, pids: dict[int, subprocess.Popen], chats: int):
    api = RestApi(stack.base_url)
    urls = [stack.ws_url, f"ws://127.0.0.1:{second_port}/ws/chat/"]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(index: int) -> tuple[ClientConnection, str]:
        async with gate:
            token = (await api.start_chat(f"Failover customer {index}"))["session_token"]
            return await follow(urls[index % 2], token)

    followed = await asyncio.gather(*(one(index) for index in range(chats)))
    chat_ids = [chat_id for _, chat_id in followed]
    redis = aioredis.Redis.from_url(stack.redis.url)
    holders = await redis.mget([f"{PREFIX}:chat:{chat_id}:lease" for chat_id in chat_ids])
    held: dict[int, list[str]] = {}
    for chat_id, holder in zip(chat_ids, holders, strict=True):
        held.setdefault(pid_of(holder), []).append(chat_id)
    victim = max((pid for pid in held if pid in pids), key=lambda pid: len(held[pid]))
    lost = held[victim]

    pids[victim].send_signal(signal.SIGKILL)
    pids[victim].wait()
    killed = time.monotonic()
    live_after: dict[str, float] = {}
    status_keys = [f"{PREFIX}:chat:{chat_id}:upstream-status" for chat_id in lost]
    while len(live_after) < len(lost) and time.monotonic() - killed < GIVE_UP:
        for chat_id, status in zip(lost, await redis.mget(status_keys), strict=True):
            if chat_id in live_after or status is None:
                continue
            state, _, owner = status.decode().partition("|")
            if state == "connected" and pid_of(owner.encode()) != victim:
                live_after[chat_id] = time.monotonic() - killed
        await asyncio.sleep(POLL_INTERVAL)
    for socket, _ in followed:
        await socket.close()
    await redis.aclose()
    await api.aclose()
    return len(lost), sorted(live_after.values())


def report(chats: int, lost: int, delays: list[float]) -> str:
    lines = [f"chats: {chats}, held by the killed process: {lost}"]
    if delays:
        p95 = delays[min(len(delays) - 1, int(len(delays) * 0.95))]
        lines.append(
            f"live again: {len(delays)} of {lost}; every one after {delays[-1]:.2f} s; "
            f"median {statistics.median(delays):.2f} s, p95 {p95:.2f} s"
        )
    if len(delays) < lost:
        lines.append(f"not live again after {GIVE_UP:.0f} s: {lost - len(delays)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__)
    parser.add_argument("--chats", type=int, default=100, help="chats across both processes")
    options = parser.parse_args(argv)
    stack = Stack(ORIGIN, ROOT / "bench" / "results")
    second = None
    try:
        stack.start()
        second, port = start_second_asgi(stack)
        assert stack.daphne is not None
        pids = {stack.daphne.pid: stack.daphne, second.pid: second}
        lost, delays = asyncio.run(measure(stack, port, pids, options.chats))
    except StackFailed as error:
        print(f"The stack did not start: {error}", file=sys.stderr)
        return 1
    finally:
        stop_process(second)
        stack.stop()
    print(report(options.chats, lost, delays))
    return 0


if __name__ == "__main__":
    sys.exit(main())
