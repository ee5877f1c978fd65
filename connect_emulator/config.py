"""Run-time configuration: what the CLI sets and what ``/_emulator/config`` may change."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

AGENT_MODES = ("echo", "none")


@dataclass
class EmulatorConfig:
    """Behaviour knobs. The CLI values are kept as defaults so that a reset restores them."""

    agent: str = "echo"
    agent_join_delay: float = 1.0
    echo_delay: float = 0.3
    connection_token_ttl: float = 86400.0
    websocket_url_ttl: float = 100.0
    # StartChatContact: the customer must call CreateParticipantConnection within 5 minutes.
    first_connection_window: float = 300.0
    max_attachments: int = 10
    instance_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: dict[str, Any]) -> EmulatorConfig:
        """Return a copy with ``changes`` applied; raises ValueError naming a bad key."""
        known = {f.name for f in fields(self)}
        values: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown configuration key {key!r}")
            values[key] = _check(key, value)
        return replace(self, **values)


def _check(key: str, value: Any) -> Any:
    if key == "agent":
        if value not in AGENT_MODES:
            raise ValueError(f"agent must be one of {', '.join(AGENT_MODES)}")
        return value
    if key == "instance_id":
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError("instance_id must be a non-empty string or null")
        return value
    if key == "max_attachments":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("max_attachments must be an integer >= 0")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    if key in ("connection_token_ttl", "websocket_url_ttl", "first_connection_window") and (
        value <= 0
    ):
        raise ValueError(f"{key} must be > 0")
    if value < 0:
        raise ValueError(f"{key} must be >= 0")
    return float(value)
