"""Command-line options of `python -m bench`."""

import argparse
from dataclasses import dataclass
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Options:
    chats: int
    direct_chats: int
    rest_chats: int
    rest_readers: str
    start_processes: int
    interval: float
    duration: float
    ramp_rate: float
    drain: float
    connect_timeout: float
    max_connecting: int
    ramp_timeout: float
    runaway_ms: float
    processes: int
    generator_cpu_limit: float
    direct_p50_limit_ms: float
    seed: int
    results_dir: Path
    server_env: dict[str, str]
    redis_socket: bool = False
    runs: int = 3


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Load ChatBridge with simulated customers and compare it with talking to "
        "the Connect emulator directly. Exits 0 whatever the figures when the run is valid; "
        "3 when it is not (a load generator process or the direct path saturated), 2 if the "
        "stack does not start.",
    )
    parser.add_argument("--chats", type=int, default=1000, help="customers through ChatBridge")
    parser.add_argument(
        "--direct-chats",
        type=int,
        default=None,
        help="customers straight to the emulator (default: --chats; 0 skips that phase)",
    )
    parser.add_argument(
        "--rest-chats",
        type=int,
        default=None,
        help="mobile-app customers over REST, a third phase (default: --chats, at most 200; 0 "
        "skips it)",
    )
    parser.add_argument(
        "--rest-readers",
        choices=("poll", "sse", "both"),
        default="both",
        help="how the REST apps read: long-polls, one SSE stream each, or both (the apps "
        "alternate; the default)",
    )
    parser.add_argument(
        "--start-processes",
        type=int,
        default=0,
        help="ASGI processes of their own that chats start on (CHATBRIDGE_HOLD_UPSTREAMS=0), "
        "as in deploy/nginx; 0 starts chats on the process that serves them",
    )
    parser.add_argument(
        "--redis-socket",
        action="store_true",
        help="ChatBridge reaches its Redis through a unix socket, as on a host that runs both "
        "(default: TCP on loopback)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=10.0,
        help="seconds of a turn: the direct path and ChatBridge's take turns, and each "
        "customer sends once in each turn of its own path",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=60.0,
        help="steady window, seconds (rounded up to whole rotations of the turns)",
    )
    parser.add_argument("--ramp-rate", type=float, default=100.0, help="new chats per second")
    parser.add_argument("--drain", type=float, default=10.0, help="wait for last echoes, s")
    parser.add_argument(
        "--connect-timeout", type=float, default=60.0, help="seconds to get one chat going"
    )
    parser.add_argument(
        "--max-connecting",
        type=int,
        default=50,
        help="chats being set up at once; the ramp slows down to what the server sustains",
    )
    parser.add_argument(
        "--ramp-timeout",
        type=float,
        default=300.0,
        help="seconds after which the steady window starts whoever is connected",
    )
    parser.add_argument(
        "--runaway-ms",
        type=float,
        default=1000.0,
        help="a second whose median latency exceeds this counts as the run breaking",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=3,
        help="load generator processes each phase's customers are spread over",
    )
    parser.add_argument(
        "--generator-cpu-limit",
        type=float,
        default=85.0,
        help="a load generator process using more than this %% of a core makes the run invalid",
    )
    parser.add_argument(
        "--direct-p50-limit-ms",
        type=float,
        default=100.0,
        help="a direct path median above this (ms) makes the run invalid: the emulator or the "
        "machine saturated, and no ratio to it means anything",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="runs, each on a stack started afresh, judged together target by target: runs "
        "differ by more than one run's intervals (docs/performance.md; default 3)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random phases of the senders")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the server (and the bench's chat service), e.g. "
        "CHATBRIDGE_RUN_ARCHIVER=0; repeatable",
    )
    args = parser.parse_args(argv)
    if args.chats < 0 or any(
        count is not None and count < 0 for count in (args.direct_chats, args.rest_chats)
    ):
        parser.error("chat counts must be >= 0")
    if args.start_processes < 0:
        parser.error("--start-processes must be >= 0")
    for name in (
        "interval",
        "duration",
        "ramp_rate",
        "connect_timeout",
        "max_connecting",
        "ramp_timeout",
        "processes",
        "generator_cpu_limit",
        "direct_p50_limit_ms",
        "runs",
    ):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0")
    server_env = {}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--server-env takes NAME=VALUE, not {item!r}")
        server_env[name] = value
    return Options(
        chats=args.chats,
        direct_chats=args.chats if args.direct_chats is None else args.direct_chats,
        rest_chats=min(args.chats, 200) if args.rest_chats is None else args.rest_chats,
        rest_readers=args.rest_readers,
        start_processes=args.start_processes,
        interval=args.interval,
        duration=args.duration,
        ramp_rate=args.ramp_rate,
        drain=args.drain,
        connect_timeout=args.connect_timeout,
        max_connecting=args.max_connecting,
        ramp_timeout=args.ramp_timeout,
        runaway_ms=args.runaway_ms,
        processes=args.processes,
        generator_cpu_limit=args.generator_cpu_limit,
        direct_p50_limit_ms=args.direct_p50_limit_ms,
        seed=args.seed,
        results_dir=args.results_dir,
        server_env=server_env,
        redis_socket=args.redis_socket,
        runs=args.runs,
    )
