"""One bench run: start the stack, warm ChatBridge up, run the phases, stop everything.

Each phase runs in the load generator's processes (bench.generator); this process only warms
ChatBridge up and keeps the figures.

The direct path and ChatBridge's share the first phase and take turns in it
(bench.customers.Turns): both populations stay connected, and only the one whose turn it is
starts chats and sends, so that the two never load the same cores at once, and yet meet the
machine in the same minutes. A machine's speed moves over minutes (the direct path's median
over 30 s of one 240 s phase ranged from 1.84 to 3.34 ms): paths measured one after the other
would put that move into their ratios. The REST apps follow in a phase of their own, with
ChatBridge's websocket chats still open.
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


def job_of(paths: list[tuple[str, int]], stack: Stack, options: Options) -> PhaseJob:
    from django.conf import settings

    return PhaseJob(
        paths=tuple(paths),
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


async def run_phase_of(
    paths: list[tuple[str, int]], stack: Stack, options: Options
) -> dict[str, PhaseStats]:
    """One phase in the load generator's processes (blocking work, so off this loop)."""
    return await asyncio.to_thread(run_phase, job_of(paths, stack, options), options.processes)


async def run(stack: Stack, options: Options) -> dict[str, Any]:
    """Runs the phases against a started stack; returns the raw figures for the report."""
    setup_django(stack.env)
    daphne_pid = stack.pids()["daphne"]
    rss: dict[str, Any] = {"cold_idle": rss_bytes(daphne_pid)}
    await warm_up(stack)
    await asyncio.sleep(SETTLE)
    rss["idle"] = rss_bytes(daphne_pid)
    phases: dict[str, PhaseStats] = {}
    paths = [("direct", options.direct_chats), ("bridge", options.chats)]
    paths = [(kind, chats) for kind, chats in paths if chats]
    if paths:
        phases.update(await run_phase_of(paths, stack, options))
    if "bridge" in phases:
        measured = phases["bridge"].extra.get("rss", {})
        rss["connected"] = measured.get("connected")
        rss["end_of_window"] = measured.get("end_of_window")
        rss["connected_chats"] = phases["bridge"].extra.get("connected_at_window_start", 0)
    rss["after"] = rss_bytes(daphne_pid)
    if options.rest_chats:
        await asyncio.sleep(SETTLE)
        phases.update(await run_phase_of([("rest", options.rest_chats)], stack, options))
    return {"phases": phases, "rss": rss, "stack_alive": stack.alive()}
