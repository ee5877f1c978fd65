"""`python -m bench.quotas` (`make bench-quotas`): see bench/quotas/__init__.py and
docs/performance.md#under-connects-quotas."""

import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench.bridge import ORIGIN
from bench.procstat import CpuMeter
from bench.quotas import emulator, report, storm
from bench.quotas.analysis import analyse, match
from bench.quotas.loadgen import LoadFailed, run_load
from bench.quotas.options import QuotaOptions, parse_args
from bench.quotas.plan import Plan
from bench.quotas.progress import ProgressLine
from bench.quotas.stack import QuotaStack
from bench.quotas.storm import StormWatch
from bench.stack import StackFailed

EXIT_FAILED = 2
EXIT_INTERRUPTED = 130


class WindowCpu:
    """CPU of the stack's processes over the steady window, read as progress comes in."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)
        self.started = False
        self.shares: dict[str, float] = {}

    def observe(self, plan: Plan) -> None:
        now = time.time()
        if not self.started and now >= plan.window_start:
            self.started = True
            self.meter = CpuMeter(self.pids)
            self.meter.start(time.perf_counter())
        elif self.started and not self.shares and now >= plan.window_end:
            self.shares = self.meter.stop(time.perf_counter())


def plan_maker(options: QuotaOptions, stack: QuotaStack):
    def plan_for(epoch: float) -> Plan:
        return Plan(
            chats=options.chats,
            burst=options.burst,
            burst_window=options.burst_window,
            ramp_rate=options.ramp_rate,
            interval=options.interval,
            duration=options.duration,
            typing_lead=options.typing_lead,
            drain=options.drain,
            settle=options.settle,
            seed=options.seed,
            epoch=epoch,
            base_urls=tuple(stack.base_urls),
            ws_urls=tuple(stack.ws_urls),
            origin=ORIGIN,
            holder_starts=options.kill_holder,
        )

    return plan_for


def run(options: QuotaOptions) -> dict[str, Any]:
    """Starts the stack, runs the load, reads the emulator, stops the stack; the report."""
    started_at = datetime.now(UTC)
    stack = QuotaStack(
        ORIGIN,
        options.results_dir,
        asgi_processes=options.asgi_processes,
        quota_overrides=options.quotas,
        server_env=options.server_env,
    )
    try:
        print("Starting redis-server, the Connect emulator (quotas on) and ChatBridge…",
              file=sys.stderr)  # fmt: skip
        stack.start()
        enabled, quotas = emulator.quotas(stack.emulator_url)
        if not enabled:
            raise StackFailed("the emulator's quotas are off")
        pids = ", ".join(f"{name} {pid}" for name, pid in stack.pids().items())
        print(f"ChatBridge {', '.join(stack.base_urls)}, emulator {stack.emulator_url} "
              f"(pids: {pids})", file=sys.stderr)  # fmt: skip
        line = ProgressLine()
        cpu = WindowCpu(stack.pids())
        watch = None
        if options.kill_holder:
            watch = StormWatch(
                redis_url=stack.redis.url,
                emulator_url=stack.emulator_url,
                processes={n: p for n, p in stack.pids().items() if n.startswith("asgi")},
                kill_after=options.kill_after,
            )

        def on_progress(plan: Plan, totals: dict[str, int]) -> None:
            cpu.observe(plan)
            line.update(plan, totals)
            if watch is not None:
                watch.start(plan)

        try:
            plan, records = run_load(
                plan_maker(options, stack),
                options.processes,
                on_progress,
                on_spawned=lambda pids: cpu.pids.update(
                    {f"load-{n}": pid for n, pid in enumerate(pids)}
                ),
            )
        finally:
            line.finish()
        record = watch.join() if watch is not None else None
        if record is not None:
            stack.killed.add(record.pid)
        contacts = emulator.contacts(stack.emulator_url)
        if not stack.alive():
            print("warning: a process of the stack died during the run", file=sys.stderr)
            for name, tail in stack.logs().items():
                print(f"--- {name}\n{tail}", file=sys.stderr)
    finally:
        stack.stop()
    figures = analyse(plan, records, contacts, quotas)
    if record is not None:
        matched, _ = match(records, contacts)
        figures["storm"] = storm.figures(plan.window_start, record, matched, contacts, quotas)
    rates = {name: f"{q.per_second:g}/{q.burst}" for name, q in quotas.items()}
    return report.build(options, figures, rates, cpu.shares, started_at)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        built = run(options)
    except (StackFailed, LoadFailed) as error:
        print(f"The run failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\nInterrupted: the stack is stopped.", file=sys.stderr)
        return EXIT_INTERRUPTED
    path, image = report.write(built, options.results_dir)
    print(report.render(built))
    print(f"\n  results: {path} (also quotas-latest.json), plot: {image}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
