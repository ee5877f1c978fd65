"""One bench run: start the stack, warm ChatBridge up, run the phases, stop everything.

Each phase runs in the load generator's processes (bench.generator); this process only warms
ChatBridge up and keeps the figures.

The phases run one after the other, never together: on a 2-core machine two populations at
once would fight over the same cores and each would slow the other. The direct phase comes
first, then the emulator forgets its chats, then the ChatBridge phase, so that both meet an
emulator with no leftover chats and ChatBridge's daphne has no chat but the warm-up's before.
Then the direct phase runs again (unless --no-direct-again): a machine's speed moves over
minutes, and a direct path measured only before ChatBridge's phase would put that move into
the ratios. The report compares with both direct phases pooled, and says how far they differ.
"""

import asyncio
import contextlib
import os
from typing import Any

from bench.bridge import BridgeCustomer
from bench.customers import PhasePlan
from bench.generator import PhaseJob, run_phase
from bench.options import Options
from bench.procstat import rss_bytes
from bench.rest import RestApi
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
    api = RestApi(stack.base_url, stack.start_urls)
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


def job_of(kind: str, chats: int, stack: Stack, options: Options) -> PhaseJob:
    from django.conf import settings

    return PhaseJob(
        kind=kind,
        chats=chats,
        plan=plan_of(options),
        seed=options.seed,
        base_url=stack.base_url,
        ws_url=stack.ws_url,
        emulator_url=stack.emulator_url,
        instance_id=settings.CONNECT_INSTANCE_ID,
        contact_flow_id=settings.CONNECT_CONTACT_FLOW_ID,
        stack_pids=stack.pids(),
        rest_readers=options.rest_readers,
        start_urls=stack.start_urls,
    )


async def run_phase_of(kind: str, chats: int, stack: Stack, options: Options) -> PhaseStats:
    """One phase in the load generator's processes (blocking work, so off this loop)."""
    return await asyncio.to_thread(
        run_phase, job_of(kind, chats, stack, options), options.processes
    )


async def run(stack: Stack, options: Options) -> dict[str, Any]:
    """Runs both phases against a started stack; returns the raw figures for the report."""
    setup_django(stack.env)
    daphne_pid = stack.pids()["daphne"]
    rss: dict[str, Any] = {"cold_idle": rss_bytes(daphne_pid)}
    await warm_up(stack)
    phases: dict[str, PhaseStats] = {}
    if options.direct_chats:
        phases["direct"] = await run_phase_of("direct", options.direct_chats, stack, options)
        await asyncio.to_thread(stack.reset_emulator)
    await asyncio.sleep(SETTLE)
    rss["idle"] = rss_bytes(daphne_pid)
    if options.chats:
        phases["bridge"] = await run_phase_of("bridge", options.chats, stack, options)
        measured = phases["bridge"].extra.get("rss", {})
        rss["connected"] = measured.get("connected")
        rss["end_of_window"] = measured.get("end_of_window")
        rss["connected_chats"] = phases["bridge"].extra.get("connected_at_window_start", 0)
    rss["after"] = rss_bytes(daphne_pid)
    if options.direct_again and options.direct_chats and options.chats:
        # ChatBridge's chats stay open, as they do for the REST phase: the emulator is not
        # reset, and serves both phases' chats from here on.
        await asyncio.sleep(SETTLE)
        phases["direct_again"] = await run_phase_of("direct", options.direct_chats, stack, options)
    if options.rest_chats:
        await asyncio.sleep(SETTLE)
        phases["rest"] = await run_phase_of("rest", options.rest_chats, stack, options)
    return {"phases": phases, "rss": rss, "stack_alive": stack.alive()}
