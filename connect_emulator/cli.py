"""Command-line options, shared by ``python -m connect_emulator`` and the Django management
command so that both accept exactly the same flags."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .config import AGENT_MODES, EmulatorConfig
from .quotas import QUOTA_NAMES, QuotaSettings, parse_assignment

_DEFAULTS = EmulatorConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8900, help="port (0 picks a free one)")
    parser.add_argument("--agent", choices=AGENT_MODES, default=_DEFAULTS.agent)
    parser.add_argument(
        "--agent-join-delay", type=float, default=_DEFAULTS.agent_join_delay, metavar="S"
    )
    parser.add_argument("--echo-delay", type=float, default=_DEFAULTS.echo_delay, metavar="S")
    parser.add_argument(
        "--connection-token-ttl",
        type=float,
        default=_DEFAULTS.connection_token_ttl,
        metavar="S",
    )
    parser.add_argument(
        "--websocket-url-ttl", type=float, default=_DEFAULTS.websocket_url_ttl, metavar="S"
    )
    parser.add_argument(
        "--first-connection-window",
        type=float,
        default=_DEFAULTS.first_connection_window,
        metavar="S",
        help="the customer must call CreateParticipantConnection within this (AWS: 300 s)",
    )
    parser.add_argument(
        "--max-attachments", type=int, default=_DEFAULTS.max_attachments, metavar="N"
    )
    parser.add_argument(
        "--quotas",
        choices=("on", "off"),
        default="on",
        help="enforce Connect's service quotas (default: on, with AWS's defaults)",
    )
    parser.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one quota: an operation's RATE/BURST (SendMessage=10/15) or a count "
        f"(ActiveChats=500); names: {', '.join(QUOTA_NAMES)}",
    )
    parser.add_argument(
        "--instance-id", default=None, help="accept only this InstanceId (default: any)"
    )


def config_from(options: dict[str, Any]) -> EmulatorConfig:
    return EmulatorConfig().updated(
        {
            "agent": options["agent"],
            "agent_join_delay": options["agent_join_delay"],
            "echo_delay": options["echo_delay"],
            "connection_token_ttl": options["connection_token_ttl"],
            "websocket_url_ttl": options["websocket_url_ttl"],
            "first_connection_window": options["first_connection_window"],
            "max_attachments": options["max_attachments"],
            "instance_id": options["instance_id"],
        }
    )


def quotas_from(options: dict[str, Any]) -> QuotaSettings:
    """The quota settings of ``--quotas`` and every ``--quota``; ValueError when bad."""
    limits = dict(parse_assignment(text) for text in options.get("quota") or [])
    settings = QuotaSettings(enabled=options.get("quotas", "on") == "on")
    return settings.with_limits(limits)


def main(argv: Sequence[str] | None = None) -> None:
    from .runner import run

    parser = argparse.ArgumentParser(
        prog="python -m connect_emulator", description="Local Amazon Connect chat emulator"
    )
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    try:
        config = config_from(options)
        quotas = quotas_from(options)
    except ValueError as error:
        parser.error(str(error))
    run(options["host"], options["port"], config, quotas)
