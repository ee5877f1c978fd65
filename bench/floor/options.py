"""bench.floor's command line."""

import argparse
from pathlib import Path

from bench.stack import ROOT

DESCRIPTION = "ChatBridge against a bare relay on its own stack, and the direct path."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=DESCRIPTION)
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
