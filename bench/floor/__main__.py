"""`python -m bench.floor` (`make bench-floor`): see bench/floor/__init__.py and
docs/performance.md#chatbridge-against-a-bare-relay-on-its-own-stack."""

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import redis

from bench.bridge import ORIGIN
from bench.direct import DirectConnect
from bench.floor.chats import (
    DISPLAY_NAME,
    Chat,
    open_bridge,
    open_direct,
    open_floor,
    start_on_relay,
)
from bench.floor.options import parse_args
from bench.floor.turns import PATHS, Meter, Turn, figures, render, take_turns
from bench.plot import plot_latencies
from bench.rest import RestApi
from bench.stack import Stack, StackFailed
from chatbridge.dev.services import stop_process


@dataclass
class Relay:
    """The bare relay's process, and the port it listens on."""

    process: subprocess.Popen
    port: int


def start_relay(stack: Stack) -> Relay:
    """The bare relay, served as ChatBridge is (`python -m chatbridge.serve`)."""
    process, port = stack.serve(
        "bench.floor.relay:application", "floor-relay.log", what="the bare relay", ready=listening
    )
    return Relay(process, port)


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 1):
            return True
    except OSError:
        return False


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
                "direct": _timed(lambda: shared.start_chat(DISPLAY_NAME)),
                "floor": _timed(lambda: start_on_relay(relay_http, shared)),
                "bridge": _timed(lambda: api.start_chat(DISPLAY_NAME)),
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
