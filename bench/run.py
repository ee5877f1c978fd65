"""One bench run: start the stack, warm ChatBridge up, run the phases, stop everything.

The phases run one after the other, never together: on a 2-core machine two populations at
once would fight over the same cores and each would slow the other. The direct phase comes
first, then the emulator forgets its chats, then the ChatBridge phase, so that both meet an
emulator with no leftover chats and ChatBridge's daphne has no chat but the warm-up's before.
"""

import asyncio
import contextlib
import os
import time
from typing import Any

from bench.bridge import BridgeCustomer
from bench.customers import PhasePlan, Population
from bench.direct import DirectConnect, DirectCustomer
from bench.lag import lag_summary, loop_lag
from bench.options import Options
from bench.procstat import CpuMeter, rss_bytes
from bench.progress import progress
from bench.rest import RestApi, RestCustomer
from bench.stack import Stack
from bench.stats import PhaseStats

SETTLE = 2.0


def setup_django(env: dict[str, str]) -> None:
    """Configures this process like the server, so the chat service reaches the same stack."""
    os.environ.update(env)
    import django

    django.setup()


async def warm_up(stack: Stack) -> None:
    """One chat through ChatBridge, so that "idle" RSS includes what the first chat loads
    once per process (boto3 clients, thread pool, runtime) rather than charging it to chats."""
    stats = PhaseStats("warmup", 1)
    api = RestApi(stack.base_url)
    customer = BridgeCustomer(0, stats, stack.ws_url, api)
    try:
        async with asyncio.timeout(30):
            await customer.connect()
            customer.connected = True
            await customer.send_one()
            for _ in range(600):
                if not customer.pending:
                    break
                await asyncio.sleep(0.05)
            assert customer.socket is not None
            customer.connected = False
            await customer.socket.send('{"type":"end","ref":"end"}')
            await asyncio.sleep(0.5)
    except TimeoutError:
        print("warning: the warm-up chat got no echo within 30 s")
    finally:
        customer.connected = False
        with contextlib.suppress(Exception):
            await customer.close()
        await api.aclose()


def plan_of(options: Options) -> PhasePlan:
    return PhasePlan(
        ramp_rate=options.ramp_rate,
        interval=options.interval,
        duration=options.duration,
        drain=options.drain,
        connect_timeout=options.connect_timeout,
        max_connecting=options.max_connecting,
        ramp_timeout=options.ramp_timeout,
    )


async def run_direct(stack: Stack, options: Options) -> PhaseStats:
    from django.conf import settings

    stats = PhaseStats("direct", options.direct_chats)
    shared = DirectConnect(
        stack.emulator_url,
        instance_id=settings.CONNECT_INSTANCE_ID,
        contact_flow_id=settings.CONNECT_CONTACT_FLOW_ID,
    )
    customers = [DirectCustomer(i, stats, shared) for i in range(options.direct_chats)]
    try:
        await _run_population(stats, customers, stack, options, rss_of=None)
    finally:
        await shared.aclose()
    return stats


async def run_bridge(stack: Stack, options: Options, rss: dict[str, Any]) -> PhaseStats:
    stats = PhaseStats("bridge", options.chats)
    api = RestApi(stack.base_url)
    customers = [BridgeCustomer(i, stats, stack.ws_url, api) for i in range(options.chats)]
    try:
        await _run_population(stats, customers, stack, options, rss_of=rss)
    finally:
        await api.aclose()
    return stats


async def run_rest(stack: Stack, options: Options) -> PhaseStats:
    """Mobile apps: REST sends and long-polls instead of a websocket."""
    stats = PhaseStats("rest", options.rest_chats)
    api = RestApi(stack.base_url)
    customers = [RestCustomer(i, stats, api) for i in range(options.rest_chats)]
    try:
        await _run_population(stats, customers, stack, options, rss_of=None)
    finally:
        await api.aclose()
    return stats


async def _run_population(
    stats: PhaseStats,
    customers: list,
    stack: Stack,
    options: Options,
    *,
    rss_of: dict[str, Any] | None,
) -> None:
    meter = CpuMeter(stack.pids())
    daphne_pid = stack.pids().get("daphne", 0)
    lag: list[float] = []

    async def connected() -> None:
        stats.extra["connected_at_window_start"] = stats.connected
        if rss_of is not None:
            rss_of["connected"] = rss_bytes(daphne_pid)
            rss_of["connected_chats"] = stats.connected
        meter.start(time.perf_counter())
        lag.clear()

    async def window_end() -> None:
        stats.extra["cpu_percent"] = meter.stop(time.perf_counter())
        stats.extra["loop_lag_ms"] = lag_summary(lag)
        if rss_of is not None:
            rss_of["end_of_window"] = rss_bytes(daphne_pid)

    population = Population(stats, customers, plan_of(options), seed=options.seed)
    async with progress(stats), loop_lag(lag):
        await population.run(on_connected=connected, on_window_end=window_end)


async def run(stack: Stack, options: Options) -> dict[str, Any]:
    """Runs both phases against a started stack; returns the raw figures for the report."""
    setup_django(stack.env)
    daphne_pid = stack.pids()["daphne"]
    rss: dict[str, Any] = {"cold_idle": rss_bytes(daphne_pid)}
    await warm_up(stack)
    phases: dict[str, PhaseStats] = {}
    if options.direct_chats:
        phases["direct"] = await run_direct(stack, options)
        await asyncio.to_thread(stack.reset_emulator)
    await asyncio.sleep(SETTLE)
    rss["idle"] = rss_bytes(daphne_pid)
    if options.chats:
        phases["bridge"] = await run_bridge(stack, options, rss)
    rss["after"] = rss_bytes(daphne_pid)
    if options.rest_chats:
        await asyncio.sleep(SETTLE)
        phases["rest"] = await run_rest(stack, options)
    return {"phases": phases, "rss": rss, "stack_alive": stack.alive()}
