"""Command-line options of `python -m bench.quotas`."""

import argparse
from dataclasses import dataclass
from pathlib import Path

from bench.options import RESULTS_DIR


@dataclass(frozen=True)
class QuotaOptions:
    chats: int
    burst: int
    burst_window: float
    ramp_rate: float
    interval: float
    duration: float
    typing_lead: float
    drain: float
    settle: float
    processes: int
    asgi_processes: int
    seed: int
    quotas: tuple[str, ...]
    results_dir: Path
    server_env: dict[str, str]
    kill_holder: bool = False
    kill_after: float = 10.0


def parse_args(argv: list[str] | None = None) -> QuotaOptions:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quotas",
        description="Chats through ChatBridge with the Connect emulator enforcing AWS's "
        "default quotas: losses, doubles, throttling reaching clients, and latency against "
        "the least the quotas allow. Exits 0 whatever the figures; non-zero only if the "
        "stack or the load generator fails.",
    )
    parser.add_argument("--chats", type=int, default=500, help="concurrent chats (Connect's cap)")
    parser.add_argument("--burst", type=int, default=100, help="chats started in the burst")
    parser.add_argument(
        "--burst-window", type=float, default=5.0, help="seconds the burst's starts span"
    )
    parser.add_argument(
        "--ramp-rate",
        type=float,
        default=2.0,
        help="chats started per second after the burst (each start costs Connect two "
        "CreateParticipantConnection calls, 6/s between them)",
    )
    parser.add_argument(
        "--interval", type=float, default=30.0, help="seconds between a customer's messages"
    )
    parser.add_argument("--duration", type=float, default=300.0, help="steady window, seconds")
    parser.add_argument(
        "--typing-lead", type=float, default=1.0, help="seconds of typing before each message"
    )
    parser.add_argument(
        "--drain", type=float, default=60.0, help="seconds to wait for last answers and echoes"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="seconds between the last planned start and the steady window",
    )
    parser.add_argument("--processes", type=int, default=4, help="load generator processes")
    parser.add_argument(
        "--asgi-processes", type=int, default=2, help="ChatBridge ASGI processes (one per core)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random phases of the senders")
    parser.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a quota of the emulator instead of AWS's default, e.g. SendMessage=2/3; repeatable",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for ChatBridge's processes; repeatable",
    )
    parser.add_argument(
        "--kill-holder",
        action="store_true",
        help="every chat starts on the first ASGI process, whose customers' websockets go to "
        "the others; --kill-after seconds into the window the process holding most upstreams "
        "is killed (SIGKILL) and the storm of takeovers is measured",
    )
    parser.add_argument(
        "--kill-after", type=float, default=10.0, help="seconds into the window of the kill"
    )
    args = parser.parse_args(argv)
    if args.kill_holder and args.asgi_processes < 2:
        parser.error("--kill-holder needs --asgi-processes >= 2")
    if args.kill_holder and not 0 <= args.kill_after < args.duration:
        parser.error("--kill-after must be in [0, --duration)")
    if args.chats < 1 or not 0 <= args.burst <= args.chats:
        parser.error("--chats must be >= 1 and --burst between 0 and --chats")
    for name in ("burst_window", "ramp_rate", "interval", "duration", "processes"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0")
    if args.asgi_processes < 1:
        parser.error("--asgi-processes must be >= 1")
    if not 0 <= args.typing_lead < args.interval or min(args.drain, args.settle) < 0:
        parser.error("--typing-lead must be in [0, --interval) and --drain and --settle >= 0")
    server_env = {}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--server-env takes NAME=VALUE, not {item!r}")
        server_env[name] = value
    return QuotaOptions(
        chats=args.chats,
        burst=args.burst,
        burst_window=args.burst_window,
        ramp_rate=args.ramp_rate,
        interval=args.interval,
        duration=args.duration,
        typing_lead=args.typing_lead,
        drain=args.drain,
        settle=args.settle,
        processes=min(args.processes, args.chats),
        asgi_processes=args.asgi_processes,
        seed=args.seed,
        quotas=tuple(args.quota),
        results_dir=args.results_dir,
        server_env=server_env,
        kill_holder=args.kill_holder,
        kill_after=args.kill_after,
    )
