"""`python -m bench.floor` (`make bench-floor`): what ChatBridge costs over the least its stack
can do, one message and one chat start at a time.

Three chats on the bench's stack, each sending a message and waiting for the echo agent's
answer before the next, in turns:

- direct: the customer straight to the emulator, as the bench's direct path;
- floor: through a bare relay on ChatBridge's own stack (bench.floor_relay: the same server,
  loop, boto3 client and `websockets` upstream, and nothing else);
- bridge: through ChatBridge.

The floor's cost over direct is what the hop itself costs on this host; ChatBridge's cost over
the floor is what its rules cost (the shared Connect budget and the chat's window, checked in
Redis before each call; the event log, written before each delivery; validation, ordering,
acks). With `--senders K`, K chats of a path send at once in each turn. The turns rotate, so
that no path always runs right after another.

Then `--starts` chat starts per path, one at a time in the same rotation: the direct path's
as the bench's (StartChatContact through boto3, CreateParticipantConnection as chatjs makes
it), the bare relay's and ChatBridge's each one HTTP request that makes both calls.

Prints the figures with their ratios to the direct path, and writes floor.json, floor.png and
floor-starts.png (the latency histograms) into --results-dir.
"""

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
import websockets
from websockets.asyncio.client import ClientConnection

from bench.bridge import ORIGIN
from bench.customers import content_for, message_id_of_echo
from bench.direct import SUBSCRIBE, DirectConnect
from bench.plot import plot_latencies
from bench.procstat import cpu_seconds
from bench.rest import RestApi
from bench.stack import HEALTH_TIMEOUT, ROOT, Stack, StackFailed
from bench.stats import summarize
from chatbridge.dev.services import free_port, stop_process

PATHS = ("direct", "floor", "bridge")
ECHO_TIMEOUT = 10.0
# CPU per exchange (ms) below which a process is left out of the table: it idled meanwhile.
SHOWN_CPU = 0.1
# Seconds between turns: every process goes back to waiting, as between a chat's messages.
PAUSE = 0.01


class Chat(ABC):
    """One chat of a path: sends a message, and resolves its future when the echo arrives."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pending: dict[str, asyncio.Future[float]] = {}
        self.count = 0
        self.tasks: list[asyncio.Task] = []

    @abstractmethod
    async def send(self, content: str) -> None: ...

    async def exchange(self) -> float:
        """One message and its echo: ms from the send to the echo's arrival."""
        self.count += 1
        message_id = f"{self.name}-{self.count}"
        echoed = asyncio.get_running_loop().create_future()
        self.pending[message_id] = echoed
        sent = time.perf_counter()
        try:
            await self.send(content_for(message_id))
            async with asyncio.timeout(ECHO_TIMEOUT):
                arrived = await echoed
        finally:
            self.pending.pop(message_id, None)
        return (arrived - sent) * 1000

    def echo(self, content: object) -> None:
        message_id = message_id_of_echo(content)
        future = self.pending.get(message_id) if message_id else None
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    def read(self, socket: ClientConnection) -> None:
        self.tasks.append(asyncio.create_task(self._read(socket)))

    async def _read(self, socket: ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in socket:
                self.on_frame(raw)

    def on_frame(self, raw: str | bytes) -> None:
        """A frame in Connect's own shape (the direct path, the floor)."""
        if raw == "ready":
            return
        frame = json.loads(raw)
        if frame.get("topic") != "aws/chat":
            return
        item = json.loads(frame["content"])
        if item.get("Type") == "MESSAGE" and item.get("ParticipantRole") == "AGENT":
            self.echo(item.get("Content"))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class SocketChat(Chat):
    """A chat whose answers come on `socket`, and whose sends go there as `frame` makes them."""

    def __init__(self, name: str, socket: ClientConnection, frame: Any = None) -> None:
        super().__init__(name)
        self.socket = socket
        self.frame = frame
        self.read(socket)

    async def send(self, content: str) -> None:
        await self.socket.send(json.dumps(self.frame(content)))

    async def close(self) -> None:
        await super().close()
        await self.socket.close()


class DirectChat(SocketChat):
    """Sends as the bench's direct customers do: one HTTP request to the emulator."""

    def __init__(
        self, name: str, socket: ClientConnection, shared: DirectConnect, token: str
    ) -> None:
        super().__init__(name, socket)
        self.shared = shared
        self.token = token

    async def send(self, content: str) -> None:
        response = await self.shared.http.post(
            "/participant/message",
            content=json.dumps({"ContentType": "text/plain", "Content": content}),
            headers={"X-Amz-Bearer": self.token, "Content-Type": "application/json"},
        )
        response.raise_for_status()


class BridgeChat(SocketChat):
    def on_frame(self, raw: str | bytes) -> None:
        frame = json.loads(raw)
        event = frame.get("event") if frame.get("type") == "event" else None
        if event and event.get("type") == "message" and event.get("participant_role") == "AGENT":
            self.echo(event.get("content"))


async def open_connection(shared: DirectConnect) -> dict[str, Any]:
    """A chat started as the bench's direct customers start theirs: its connection."""
    contact = await shared.call(
        shared.connect.start_chat_contact,
        InstanceId=shared.instance_id,
        ContactFlowId=shared.contact_flow_id,
        ParticipantDetails={"DisplayName": "Floor customer"},
    )
    return await shared.create_participant_connection(contact["ParticipantToken"])


async def open_direct(name: str, shared: DirectConnect) -> Chat:
    connection = await open_connection(shared)
    socket = await websockets.connect(
        connection["Websocket"]["Url"], compression=None, ping_interval=None
    )
    await socket.send(SUBSCRIBE)
    await socket.recv()
    return DirectChat(name, socket, shared, connection["ConnectionCredentials"]["ConnectionToken"])


async def start_on_relay(relay: httpx.AsyncClient, shared: DirectConnect) -> dict[str, str]:
    """A chat started by the bare relay: its Connect websocket and connection token."""
    response = await relay.post(
        "/start",
        json={
            "instance_id": shared.instance_id,
            "contact_flow_id": shared.contact_flow_id,
            "display_name": "Floor customer",
        },
    )
    response.raise_for_status()
    return response.json()


async def open_floor(name: str, shared: DirectConnect, relay: httpx.AsyncClient) -> Chat:
    started = await start_on_relay(relay, shared)
    socket = await websockets.connect(
        f"ws://{relay.base_url.host}:{relay.base_url.port}/", compression=None, ping_interval=None
    )
    await socket.send(json.dumps(started))
    if await socket.recv() != "ready":
        raise RuntimeError("the bare relay did not subscribe")
    return SocketChat(name, socket, lambda content: {"content": content})


async def open_bridge(name: str, stack: Stack, api: RestApi) -> Chat:
    token = (await api.start_chat("Floor customer"))["session_token"]
    socket = await websockets.connect(
        stack.ws_url, origin=ORIGIN, compression=None, ping_interval=None
    )
    await socket.send(json.dumps({"type": "auth", "token": token, "ref": "auth"}))
    async for raw in socket:
        frame = json.loads(raw)
        if frame.get("type") == "error":
            raise RuntimeError(f"ChatBridge refused the chat: {frame.get('code')}")
        if frame.get("type") == "upstream" and frame.get("status") == "connected":
            break
    counter = iter(range(1, 1 << 62))

    def frame(content: str) -> dict[str, Any]:
        ref = f"{name}-{next(counter)}"
        return {"type": "send", "content": content, "client_id": ref, "ref": ref}

    return BridgeChat(name, socket, frame)


@dataclass
class Relay:
    process: subprocess.Popen
    port: int


def start_relay(stack: Stack) -> Relay:
    """The bare relay, served as ChatBridge is (`python -m chatbridge.serve`)."""
    port = free_port()
    log = open(Path(stack.workdir) / "floor-relay.log", "wb")  # noqa: SIM115 (the child's)
    process = subprocess.Popen(
        [sys.executable, "-m", "chatbridge.serve", "-b", "127.0.0.1", "-p", str(port),
         "bench.floor_relay:application"],
        cwd=ROOT, env={**os.environ, **stack.env}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while True:
        if process.poll() is not None:
            raise StackFailed(f"the bare relay exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return Relay(process, port)
        if time.monotonic() > deadline:
            stop_process(process)
            raise StackFailed(f"the bare relay did not listen within {HEALTH_TIMEOUT:.0f} s")
        time.sleep(0.2)


class Meter:
    """CPU seconds of some processes, summed over the turns of each path."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.used: dict[str, dict[str, float]] = {path: {} for path in PATHS}

    def read(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) or 0.0 for name, pid in self.pids.items()}

    def add(self, path: str, before: dict[str, float], after: dict[str, float]) -> None:
        used = self.used[path]
        for name in self.pids:
            used[name] = used.get(name, 0.0) + after[name] - before[name]


Turn = Callable[[], Awaitable[list[float | BaseException]]]


async def take_turns(
    turns: dict[str, Turn], *, rounds: int, warmup: int, meter: Meter, what: str
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Runs each path's turn in rotation, `warmup` times unkept then `rounds` times; the
    latencies (ms) of each path, and how many of its exchanges failed."""
    latencies: dict[str, list[float]] = {path: [] for path in turns}
    lost = {path: 0 for path in turns}
    paths = list(turns)
    total = warmup + rounds
    shown = -1
    for turn in range(total):
        kept = turn >= warmup
        for path in paths[turn % len(paths) :] + paths[: turn % len(paths)]:
            before = meter.read()
            answers = await turns[path]()
            after = meter.read()
            if kept:
                meter.add(path, before, after)
                for answer in answers:
                    if isinstance(answer, BaseException):
                        lost[path] += 1
                    else:
                        latencies[path].append(answer)
            await asyncio.sleep(PAUSE)
        done = (turn + 1) * 10 // total
        if done != shown:
            shown = done
            print(f"{what}: {done * 10:3d} % of {total} turns", file=sys.stderr, flush=True)
    return latencies, lost


def figures(
    latencies: dict[str, list[float]], lost: dict[str, int], meter: Meter
) -> dict[str, Any]:
    """Each path's latencies, its CPU per exchange, and its cost over direct and the floor."""
    paths: dict[str, Any] = {}
    for path, values in latencies.items():
        count = max(len(values), 1)
        paths[path] = {
            "latency_ms": summarize(values),
            "lost": lost[path],
            "cpu_ms_each": {
                name: round(seconds * 1000 / count, 3) for name, seconds in meter.used[path].items()
            },
        }
    direct = paths["direct"]["latency_ms"]
    for path in ("floor", "bridge"):
        mine = paths[path]["latency_ms"]
        paths[path]["added_ms"] = {
            p: round(mine[p] - direct[p], 3) for p in ("p50", "p90", "p99") if p in mine
        }
        paths[path]["ratio_to_direct"] = {
            p: round(mine[p] / direct[p], 3) for p in ("p50", "p99") if direct.get(p)
        }
        paths[path]["added_to_direct"] = {
            p: round((mine[p] - direct[p]) / direct[p], 3) for p in ("p50", "p99") if direct.get(p)
        }
    bridge, floor = paths["bridge"]["latency_ms"], paths["floor"]["latency_ms"]
    own = {p: round(bridge[p] - floor[p], 3) for p in ("p50", "p90", "p99") if p in bridge}
    return {"paths": paths, "bridge_over_floor_ms": own}


def render(built: dict[str, Any], title: str, *, ratio: str) -> str:
    """A table of `built` (figures()); `ratio` is the column shown against direct:
    "added_to_direct" (what the path adds, as the message targets count it) or
    "ratio_to_direct" (the whole, as the start target does)."""
    shown = "added p50 / direct p50" if ratio == "added_to_direct" else "p50 / direct p50"
    lines = [title, f"path      p50 ms   p90 ms   p99 ms   {shown:<24} CPU each"]
    for path, figure in built["paths"].items():
        latency = figure["latency_ms"]
        added = figure.get("added_ms", {}).get("p50")
        value = figure.get(ratio, {}).get("p50")
        compared = "" if added is None else f"{added:+.2f} ms ({value:.2f}x)"
        cpu = ", ".join(
            f"{name} {ms:.2f} ms" for name, ms in figure["cpu_ms_each"].items() if ms >= SHOWN_CPU
        )
        lines.append(
            f"{path:<7} {latency.get('p50', 0):8.2f} {latency.get('p90', 0):8.2f} "
            f"{latency.get('p99', 0):8.2f}   {compared:<24} {cpu}"
            + (f"  FAILED {figure['lost']}" if figure["lost"] else "")
        )
    own = built["bridge_over_floor_ms"]
    lines.append(
        f"ChatBridge over the bare relay: p50 {own.get('p50', 0):+.2f} ms, "
        f"p90 {own.get('p90', 0):+.2f} ms, p99 {own.get('p99', 0):+.2f} ms"
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--rounds", type=int, default=500, help="turns kept per path")
    parser.add_argument("--warmup", type=int, default=20, help="turns first, not kept")
    parser.add_argument("--senders", type=int, default=1, help="chats sending at once per turn")
    parser.add_argument("--starts", type=int, default=200, help="chat starts per path (0: none)")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    for name in ("rounds", "senders"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    for name in ("warmup", "starts"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be >= 0")
    return args


async def run(args: argparse.Namespace, stack: Stack, relay: Relay) -> dict[str, Any]:
    from django.conf import settings

    shared = DirectConnect(
        stack.emulator_url,
        instance_id=settings.CONNECT_INSTANCE_ID,
        contact_flow_id=settings.CONNECT_CONTACT_FLOW_ID,
    )
    api = RestApi(stack.base_url, stack.start_urls)
    relay_http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{relay.port}", timeout=30)
    pids = stack.pids()
    processes = {"daphne": pids["daphne"], "relay": relay.process.pid}
    processes.update(redis=pids["redis"], emulator=pids["emulator"])
    opened: list[Chat] = []
    try:
        chats: dict[str, list[Chat]] = {path: [] for path in PATHS}
        for index in range(args.senders):
            for path, chat in (
                ("direct", await open_direct(f"d{index}", shared)),
                ("floor", await open_floor(f"f{index}", shared, relay_http)),
                ("bridge", await open_bridge(f"b{index}", stack, api)),
            ):
                opened.append(chat)
                chats[path].append(chat)
        commands = redis.Redis.from_url(stack.redis_url)
        before = _redis_calls(commands)
        meter = Meter(processes)
        latencies, lost = await take_turns(
            {path: _exchanges(chats[path]) for path in PATHS},
            rounds=args.rounds,
            warmup=args.warmup,
            meter=meter,
            what="messages",
        )
        calls = _redis_calls(commands) - before
        commands.close()
        built: dict[str, Any] = {"messages": figures(latencies, lost, meter)}
        built["messages"]["redis_calls_per_message"] = round(
            calls / max(len(latencies["bridge"]), 1), 1
        )
        series = {"messages": latencies}
        if args.starts:
            starts = {
                "direct": _timed(lambda: open_connection(shared)),
                "floor": _timed(lambda: start_on_relay(relay_http, shared)),
                "bridge": _timed(lambda: api.start_chat("Floor customer")),
            }
            meter = Meter(processes)
            latencies, lost = await take_turns(
                starts, rounds=args.starts, warmup=args.warmup, meter=meter, what="starts"
            )
            built["starts"] = figures(latencies, lost, meter)
            series["starts"] = latencies
        built["series"] = series
        return built
    finally:
        for chat in opened:
            with contextlib.suppress(Exception):
                await chat.close()
        await relay_http.aclose()
        await api.aclose()
        await shared.aclose()


def _exchanges(chats: list[Chat]) -> Turn:
    async def turn() -> list[float | BaseException]:
        return await asyncio.gather(*(chat.exchange() for chat in chats), return_exceptions=True)

    return turn


def _timed(start: Callable[[], Awaitable[Any]]) -> Turn:
    async def turn() -> list[float | BaseException]:
        began = time.perf_counter()
        try:
            await start()
        except Exception as error:
            return [error]
        return [(time.perf_counter() - began) * 1000]

    return turn


def _redis_calls(client: redis.Redis) -> int:
    """Commands Redis has run, those of scripts included (INFO commandstats counts both)."""
    return sum(stats["calls"] for stats in client.info("commandstats").values())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = Stack(ORIGIN, args.results_dir)
    relay: Relay | None = None
    try:
        stack.start()
        relay = start_relay(stack)
        os.environ.update(stack.env)
        import django

        django.setup()
        built = asyncio.run(run(args, stack, relay))
    except StackFailed as error:
        print(f"the stack did not start: {error}", file=sys.stderr)
        return 2
    finally:
        if relay is not None:
            stop_process(relay.process)
        stack.stop()
    series = built.pop("series")
    results = args.results_dir
    results.mkdir(parents=True, exist_ok=True)
    (results / "floor.json").write_text(json.dumps(built, indent=2) + "\n")
    at_once = f"{args.senders} chat{'s' if args.senders > 1 else ''} at once"
    plot_latencies(
        series["messages"],
        f"Messages, one turn at a time: {args.rounds} turns per path, {at_once}",
        results / "floor.png",
    )
    print(render(built["messages"], f"Messages ({at_once}):", ratio="added_to_direct"))
    print(
        f"Redis calls per message through ChatBridge: {built['messages']['redis_calls_per_message']}"
    )
    if "starts" in built:
        plot_latencies(
            series["starts"],
            f"Chat starts, one at a time: {args.starts} per path",
            results / "floor-starts.png",
            measured="start requested → chat's connection answered",
            counted="chat starts",
        )
        print(render(built["starts"], "Chat starts (one at a time):", ratio="ratio_to_direct"))
    print(f"written: {results / 'floor.json'} and its plots")
    failed = [figure["lost"] for part in built.values() for figure in part["paths"].values()]
    return 1 if any(failed) else 0


if __name__ == "__main__":
    sys.exit(main())
