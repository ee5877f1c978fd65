"""`python -m bench` (`make bench`): see bench/__init__.py and docs/performance.md."""

import asyncio
import signal
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from bench import report, runs, sizes
from bench.bridge import ORIGIN
from bench.generator import LoadFailed
from bench.options import Options, parse_args
from bench.run import run
from bench.stack import Stack, StackFailed

EXIT_STACK_FAILED = 2
EXIT_INVALID = 3
EXIT_INTERRUPTED = 130


async def _cancel_on_sigterm(work: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """SIGTERM stops a run like Ctrl-C does: the task is cancelled and the stack stopped."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await work


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    print(sizes.render(sizes.measure()), end="\n\n")
    reports, samples = [], []
    for index in range(options.runs):
        if options.runs > 1:
            print(f"Run {index + 1} of {options.runs}", file=sys.stderr)
        code, built, behind = _one_run(options)
        if built is None:
            return code
        reports.append(built)
        samples.append(behind)
    if len(reports) > 1:
        combined = runs.combine(reports, runs.pool(samples))
        path = runs.write(combined, options.results_dir)
        print(runs.render(combined))
        print(f"\n  all runs: {path}")
    return 0 if all(built["valid"] for built in reports) else EXIT_INVALID


def _one_run(
    options: Options,
) -> tuple[int, dict[str, Any] | None, dict[str, report.TargetSamples]]:
    """One run on a stack of its own: its exit code when it could not finish, else its
    report (written and printed) and the samples behind its targets."""
    started_at = datetime.now(UTC)
    stack = Stack(
        ORIGIN,
        options.results_dir,
        options.server_env,
        start_processes=options.start_processes,
        redis_socket=options.redis_socket,
    )
    daphne_log = ""
    try:
        print("Starting redis-server, the Connect emulator and daphne…", file=sys.stderr)
        try:
            stack.start()
        except StackFailed as error:
            print(f"The stack did not start: {error}", file=sys.stderr)
            return EXIT_STACK_FAILED, None, {}
        pids = ", ".join(f"{name} {pid}" for name, pid in stack.pids().items())
        print(
            f"ChatBridge {stack.base_url}, emulator {stack.emulator_url} (pids: {pids})",
            file=sys.stderr,
        )
        try:
            raw = asyncio.run(_cancel_on_sigterm(run(stack, options)))
        except (KeyboardInterrupt, asyncio.CancelledError):
            print("\nInterrupted: stopping the stack.", file=sys.stderr)
            return EXIT_INTERRUPTED, None, {}
        except LoadFailed as error:
            print(f"The load generator failed: {error}", file=sys.stderr)
            return EXIT_STACK_FAILED, None, {}
        if stack.daphne_log is not None and stack.daphne_log.exists():
            daphne_log = stack.daphne_log.read_text(errors="replace")
    finally:
        stack.stop()
    built = report.build(raw, options, daphne_log, started_at)
    latencies = {name: stats.latencies_ms for name, stats in raw["phases"].items()}
    path = report.write(built, latencies, options.results_dir)
    print(report.render(built))
    print(
        f"\n  results: {path} (also latest.json), histogram: {options.results_dir / 'latest.png'}"
    )
    return 0, built, report.target_samples(raw["phases"])


if __name__ == "__main__":
    sys.exit(main())
