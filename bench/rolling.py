"""`python -m bench.rolling [--chats N]` (`make bench-rolling`): every process restarted in turn
under N live chats, behind nginx; what is lost, doubled, and how long it takes.

The stack as deployed (docs/deployment.md): two ASGI processes (`python -m chatbridge.serve`)
as the upstream servers of nginx running the shipped configuration (TLS with a throw-away
authority), and one `manage.py relay` process that also archives, all sharing Redis, the
database and the emulator. N chats start over REST through nginx; a customer of each follows
it over /ws/chat/ through nginx, and when its websocket closes connects again through nginx and
resumes after the last seq it holds, as the websocket protocol asks. The emulator's agent
sends a message to every chat every --pace seconds throughout.

First the steady state, for --steady seconds: each process's CPU, the memory each process
gained with the chats, Redis's memory and commands per second. Then the roll: each ASGI
process, then the relay, is stopped with SIGTERM and started again, the next only once every
chat is live again and every customer is back.

Reported: for each step, how long until each chat the stopped process held was connected on
another (takeover), and how long each customer took to be served again (reconnect), as p50,
p95 and max; at the end, every customer's messages against the emulator's own transcript:
Connect's messages never received (lost) or received twice (doubled).
"""

import argparse
import asyncio
import collections
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from bench.bridge import ORIGIN
from bench.procstat import CpuMeter, rss_bytes
from bench.stack import ROOT, Stack, StackFailed
from bench.stats import summarize
from chatbridge.dev.processes import AsgiProcess, run_manage, start_asgi
from chatbridge.dev.proxy import NGINX, serving_proxy
from chatbridge.dev.resuming_client import ResumingClient, has_message, is_connected
from chatbridge.dev.services import free_port
from chatbridge.dev.takeovers import holders, live_again, pid_of, until_process_alive
from chatbridge.dev.tls import loopback_certificates
from chatbridge.redis import RedisKeys

PREFIX = "chatbridge"
# Requests in flight at once: chat starts, the agent's messages, transcript reads.
CONCURRENCY = 20
# Attempts at each of the agent's messages.
SEND_ATTEMPTS = 3
# Failure guard of each wait (every chat live again, every customer back).
GIVE_UP = 180.0
RESULTS = ROOT / "bench" / "results"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Chat:
    chat_id: str
    contact_id: str
    customer: ResumingClient
    sent: int = 0


@dataclass
class Processes:
    env: dict[str, str]
    directory: Path
    asgi: list[AsgiProcess]
    relay: asyncio.subprocess.Process | None = None
    gone: set[int] = field(default_factory=set)

    def pids(self) -> dict[str, int]:
        found = {f"asgi-{n}": served.pid for n, served in enumerate(self.asgi)}
        if self.relay is not None:
            found["relay"] = self.relay.pid
        return found

    async def start_relay(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        # The relay process archives, delivers webhooks and sends transcript e-mails; the ASGI
        # processes do none of it.
        env = {
            **self.env,
            "CHATBRIDGE_RUN_ARCHIVER": "1",
            "CHATBRIDGE_RUN_WEBHOOKS": "1",
            "CHATBRIDGE_RUN_MAILER": "1",
        }
        self.relay = await run_manage(env, "relay", log=self.directory / "relay.log")
        await until_process_alive(redis, keys, self.relay.pid, guard=GIVE_UP)


class Agent:
    """The emulator's agent, sending a message to every chat every `pace` seconds."""

    def __init__(self, emulator_url: str, chats: list[Chat], pace: float) -> None:
        self.http = httpx.AsyncClient(
            base_url=f"{emulator_url}/_emulator",
            timeout=30,
            limits=httpx.Limits(max_connections=CONCURRENCY),
        )
        self._chats = chats
        self._pace = pace
        self._gate = asyncio.Semaphore(CONCURRENCY)
        self._task: asyncio.Task | None = None

    async def say(self, chat: Chat, content: str) -> None:
        """One message; a connection the emulator dropped is tried again (a message that
        reached it anyway is in its transcript, which the comparison goes by)."""
        for attempt in range(SEND_ATTEMPTS):
            try:
                async with self._gate:
                    response = await self.http.post(
                        f"/contacts/{chat.contact_id}/agent/message", json={"content": content}
                    )
                break
            except httpx.TransportError:
                if attempt == SEND_ATTEMPTS - 1:
                    raise
        response.raise_for_status()
        chat.sent += 1

    def start(self) -> None:
        self._task = asyncio.create_task(self._talk())

    async def _talk(self) -> None:
        round_ = 0
        while True:
            began = time.monotonic()
            await asyncio.gather(*(self.say(chat, f"agent {round_}") for chat in self._chats))
            round_ += 1
            await asyncio.sleep(max(0.0, self._pace - (time.monotonic() - began)))

    async def stop(self) -> None:
        assert self._task is not None
        if self._task.done():
            self._task.result()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def start_chats(
    proxy_url: str, tls: Any, redis: aioredis.Redis, keys: RedisKeys, count: int
) -> list[Chat]:
    gate = asyncio.Semaphore(CONCURRENCY)
    ws_url = proxy_url.replace("https://", "wss://") + "/ws/chat/"
    async with httpx.AsyncClient(base_url=proxy_url, verify=tls, timeout=60) as http:

        async def one(index: int) -> Chat:
            async with gate:
                response = await http.post(
                    "/api/v1/chats",
                    json={"widget_id": "default", "display_name": f"Rolling customer {index}"},
                )
                response.raise_for_status()
                started = response.json()
            chat_id = started["chat_id"]
            contact_id = (await redis.hget(keys.chat(chat_id), "contact_id")).decode()
            customer = ResumingClient(
                ws_url, started["session_token"], chat_id, tls=tls, origin=ORIGIN
            )
            customer.start()
            return Chat(chat_id, contact_id, customer)

        return list(await asyncio.gather(*(one(index) for index in range(count))))


class Stuck(RuntimeError):
    """Customers did not reach a state within GIVE_UP."""


async def every_customer(chats: list[Chat], predicate) -> None:
    try:
        async with asyncio.timeout(GIVE_UP):
            await asyncio.gather(*(chat.customer.until(predicate) for chat in chats))
    except TimeoutError:
        behind = [chat for chat in chats if not predicate(chat.customer)]
        detail = "; ".join(
            f"{chat.chat_id}: statuses {chat.customer.statuses[-4:]}, last seq "
            f"{chat.customer.last_seq}, resumes {len(chat.customer.resumes)}"
            for chat in behind[:10]
        )
        raise Stuck(f"{len(behind)} customers not there after {GIVE_UP:.0f} s: {detail}") from None


def seconds(values: list[float]) -> dict[str, Any]:
    summary = summarize(values)
    return {key: summary[key] for key in ("count", "p50", "p95", "max") if key in summary}


async def steady_state(
    processes: Processes, redis: aioredis.Redis, idle_rss: dict[str, int], chats: int, window: float
) -> dict[str, Any]:
    pids = processes.pids()
    meter = CpuMeter(pids)
    commands_before = (await redis.info("stats"))["total_commands_processed"]
    meter.start(time.monotonic())
    await asyncio.sleep(window)  # the window measured
    cpu = meter.stop(time.monotonic())
    commands = (await redis.info("stats"))["total_commands_processed"] - commands_before
    rss = {name: rss_bytes(pid) or 0 for name, pid in pids.items()}
    gained = sum(rss[name] - idle_rss.get(name, rss[name]) for name in rss)
    return {
        "cpu_percent_of_a_core": {name: round(share, 1) for name, share in cpu.items()},
        "rss_mib": {name: round(value / 2**20, 1) for name, value in rss.items()},
        "memory_per_chat_kib": round(gained / chats / 1024, 1),
        "redis_used_memory_mib": round((await redis.info("memory"))["used_memory"] / 2**20, 1),
        "redis_commands_per_second": round(commands / window),
    }


async def step(
    name: str,
    process: asyncio.subprocess.Process,
    chats: list[Chat],
    processes: Processes,
    redis: aioredis.Redis,
    keys: RedisKeys,
) -> dict[str, Any]:
    """Stops one process with SIGTERM; how long until its chats were live elsewhere."""
    await every_customer(chats, is_connected)
    chat_ids = [chat.chat_id for chat in chats]
    held = [
        chat_id
        for chat_id, holder in zip(chat_ids, await holders(redis, keys, chat_ids), strict=True)
        if holder and pid_of(holder) == process.pid
    ]
    say(f"Stopping {name} (pid {process.pid}, holding {len(held)} chats' Connect websockets)…")
    stopping = time.monotonic()
    process.send_signal(signal.SIGTERM)
    processes.gone.add(process.pid)
    taken_over = await live_again(redis, keys, held, processes.gone, stopping, guard=GIVE_UP)
    code = await process.wait()
    exited = time.monotonic() - stopping
    times = sorted(taken_over.values())
    say(
        f"  {name} exited with {code} after {exited:.1f} s; its chats live elsewhere after "
        f"{times[-1] if times else 0:.2f} s at most"
    )
    return {
        "process": name,
        "exit_code": code,
        "exited_after_s": round(exited, 2),
        "chats_held": len(held),
        "takeover_s": seconds(times),
    }


async def roll(stack: Stack, options: argparse.Namespace) -> dict[str, Any]:
    keys = RedisKeys(PREFIX)
    assert stack.redis is not None
    redis = aioredis.Redis.from_url(stack.redis.url)
    directory = Path(stack.workdir)
    env = {**os.environ, **stack.env}
    ports = [free_port(), free_port()]
    asgi = list(
        await asyncio.gather(
            *(start_asgi(env, directory / f"asgi-{n}.log", port=p) for n, p in enumerate(ports))
        )
    )
    processes = Processes(env, directory, asgi)
    certificates = loopback_certificates(directory / "certificates")
    try:
        await processes.start_relay(redis, keys)
        idle_rss = {name: rss_bytes(pid) or 0 for name, pid in processes.pids().items()}
        with serving_proxy(
            NGINX,
            directory / "nginx",
            certificates,
            [f"127.0.0.1:{port}" for port in ports],
            free_port(),
            free_port(),
            worker_connections=4 * options.chats + 256,
        ) as proxy:
            say(f"Starting {options.chats} chats through nginx ({proxy.https_url})…")
            tls = certificates.trusting()
            chats = await start_chats(proxy.https_url, tls, redis, keys, options.chats)
            await every_customer(chats, is_connected)
            agent = Agent(stack.emulator_url, chats, options.pace)
            agent.start()
            say(f"Every chat live; steady state for {options.steady:.0f} s…")
            steady = await steady_state(processes, redis, idle_rss, len(chats), options.steady)
            steps = []
            for index in range(len(processes.asgi)):
                served = processes.asgi[index]
                steps.append(
                    await step(f"asgi-{index}", served.process, chats, processes, redis, keys)
                )
                processes.asgi[index] = await start_asgi(env, served.log, port=served.port)
            assert processes.relay is not None
            steps.append(await step("relay", processes.relay, chats, processes, redis, keys))
            await processes.start_relay(redis, keys)
            await every_customer(chats, is_connected)
            say("Every process restarted; the agent's last word to every chat…")
            await agent.stop()
            await asyncio.gather(*(agent.say(chat, "last") for chat in chats))
            await every_customer(chats, has_message("last"))
            outcome = await compare(agent, chats)
            await agent.http.aclose()
            for chat in chats:
                await chat.customer.close()
    finally:
        for process in [served.process for served in processes.asgi] + [processes.relay]:
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
        await redis.aclose()
        keep_logs(directory)
    resumes = [resume for chat in chats for resume in chat.customer.resumes]
    return {
        "chats": options.chats,
        "agent_pace_s": options.pace,
        "steady": steady,
        "steps": steps,
        "reconnect_s": seconds([resume.seconds for resume in resumes]),
        "close_codes": dict(collections.Counter(str(r.close_code) for r in resumes)),
        **outcome,
    }


def keep_logs(directory: Path) -> None:
    """The processes' logs, kept in bench/results/rolling-logs/ (the stack's directory goes)."""
    kept = RESULTS / "rolling-logs"
    shutil.rmtree(kept, ignore_errors=True)
    kept.mkdir(parents=True)
    for log in [*directory.glob("*.log"), directory / "nginx" / "error.log"]:
        if log.exists():
            shutil.copyfile(log, kept / log.name)


async def compare(agent: Agent, chats: list[Chat]) -> dict[str, Any]:
    """Every customer's messages against the emulator's transcript of its chat."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def transcript(chat: Chat) -> list[str]:
        async with gate:
            response = await agent.http.get(f"/contacts/{chat.contact_id}")
        response.raise_for_status()
        return [item["Id"] for item in response.json()["items"] if item["Type"] == "MESSAGE"]

    lost = doubled = sent = seqs_doubled = 0
    for chat, from_connect in zip(
        chats, await asyncio.gather(*(transcript(chat) for chat in chats)), strict=True
    ):
        received = collections.Counter(chat.customer.message_ids)
        sent += len(from_connect)
        lost += sum(1 for item in from_connect if item not in received)
        doubled += sum(count - 1 for count in received.values() if count > 1)
        seqs = chat.customer.seqs
        seqs_doubled += len(seqs) - len(set(seqs))
    return {
        "connect_messages": sent,
        "lost": lost,
        "doubled": doubled,
        "events_received_twice": seqs_doubled,
    }


def render(result: dict[str, Any]) -> str:
    steady = result["steady"]
    lines = [
        f"chats: {result['chats']}, the agent writing to each every {result['agent_pace_s']} s",
        "steady state: CPU (% of a core) "
        + ", ".join(f"{k} {v}" for k, v in steady["cpu_percent_of_a_core"].items())
        + f"; memory per chat {steady['memory_per_chat_kib']} KiB; Redis "
        f"{steady['redis_used_memory_mib']} MiB, {steady['redis_commands_per_second']} commands/s",
    ]
    for done in result["steps"]:
        took = done["takeover_s"]
        lines.append(
            f"{done['process']}: SIGTERM → exit {done['exit_code']} after "
            f"{done['exited_after_s']} s; {done['chats_held']} chats taken over, "
            f"p50 {took.get('p50', '-')} s, p95 {took.get('p95', '-')} s, "
            f"max {took.get('max', '-')} s"
        )
    reconnect = result["reconnect_s"]
    lines.append(
        f"reconnects: {reconnect.get('count', 0)} (close codes {result['close_codes']}), "
        f"p50 {reconnect.get('p50', '-')} s, p95 {reconnect.get('p95', '-')} s, "
        f"max {reconnect.get('max', '-')} s"
    )
    lines.append(
        f"Connect's messages: {result['connect_messages']}; lost {result['lost']}, "
        f"doubled {result['doubled']}; events received twice {result['events_received_twice']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rolling", description=__doc__)
    parser.add_argument("--chats", type=int, default=500, help="live chats during the roll")
    parser.add_argument("--pace", type=float, default=10.0, help="seconds between messages")
    parser.add_argument("--steady", type=float, default=30.0, help="steady window, seconds")
    options = parser.parse_args(argv)
    if not os.access(NGINX, os.X_OK):
        say(
            f"No nginx at {NGINX}: install Debian's nginx-light (`make nginx` as root) or set NGINX."
        )
        return 1
    stack = Stack(ORIGIN, RESULTS)
    try:
        say("Starting redis-server, the Connect emulator, two ASGI processes, a relay, nginx…")
        stack.start_services()
        result = asyncio.run(roll(stack, options))
    except StackFailed as error:
        say(f"The stack did not start: {error}")
        return 1
    finally:
        stack.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rolling-latest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
