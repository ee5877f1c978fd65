"""Pieces every router shares: documented error answers and small helpers."""

from datetime import UTC, datetime

from chatbridge.api.schemas import Problem

# Every error status an operation may answer, documented (as problem+json) on each of them.
ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503)
ERRORS: dict = {ERROR_STATUSES: Problem}


def connect_time(value: datetime | None) -> str:
    """A time written the way Connect writes AbsoluteTime: 2019-11-08T02:41:28.172Z."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
