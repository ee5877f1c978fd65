"""Time helpers: Connect writes every time as ISO 8601 UTC with milliseconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Wall-clock seconds; tokens and URLs expire on this clock."""
    return time.time()


def iso(timestamp: float) -> str:
    """Format like Connect does, e.g. ``2019-11-08T02:41:28.172Z``."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    """Parse an ISO 8601 time (``Z`` or an offset); raises ValueError when it is not one."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
