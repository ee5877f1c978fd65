"""GetTranscript paging.

The transcript is the contact's items in time order, typing events left out (AWS keeps typing
out of GetTranscript). A StartPosition is a cut in that sequence; the scan walks away from the
cut, FORWARD to newer items or BACKWARD to older ones, MaxResults at a time, and SortOrder then
orders each page (ASCENDING = oldest first). The cut for each kind of StartPosition:

* ``Id``: just beside that item, which is itself excluded (a gap fill asks for everything
  after the last Id it holds);
* ``AbsoluteTime``: items at exactly that time are included in either direction;
* ``MostRecent`` n: n items before the end, so FORWARD returns the n most recent items and
  BACKWARD skips them.

Without a StartPosition the scan is BACKWARD from the newest item; FORWARD without one is a
ValidationException. NextToken carries the direction and the next position, signed, so it
cannot be forged or used on another contact."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from . import clock
from .errors import VALIDATION, ServiceError
from .persistence import contact_chain
from .state import Contact, Item

DEFAULT_MAX_RESULTS = 10
FORWARD = "FORWARD"
BACKWARD = "BACKWARD"
_SECRET = secrets.token_bytes(32)


def _sign(payload: bytes) -> str:
    return hmac.new(_SECRET, payload, hashlib.sha256).hexdigest()[:32]


def encode_token(contact_id: str, direction: str, position: int) -> str:
    payload = json.dumps({"c": contact_id, "d": direction, "p": position}).encode()
    return base64.urlsafe_b64encode(payload).decode() + "." + _sign(payload)


def decode_token(token: str, contact_id: str) -> tuple[str, int]:
    try:
        encoded, signature = token.rsplit(".", 1)
        payload = base64.urlsafe_b64decode(encoded.encode())
        if not hmac.compare_digest(signature, _sign(payload)):
            raise ValueError("bad signature")
        document = json.loads(payload)
        if document["c"] != contact_id:
            raise ValueError("other contact")
        return str(document["d"]), int(document["p"])
    except (ValueError, KeyError, TypeError):
        raise ServiceError(VALIDATION, "NextToken is not valid") from None


def _start(items: list[Item], direction: str, position: dict[str, Any]) -> int:
    count = len(items)
    if position.get("Id") is not None:
        index = next((i for i, item in enumerate(items) if item.id == position["Id"]), None)
        if index is None:
            raise ServiceError(VALIDATION, "StartPosition.Id does not name an item of this chat")
        return index + 1 if direction == FORWARD else index - 1
    if position.get("AbsoluteTime") is not None:
        try:
            moment = clock.parse_iso(position["AbsoluteTime"])
        except ValueError:
            raise ServiceError(
                VALIDATION, "StartPosition.AbsoluteTime must be like 2019-11-08T02:41:28.172Z"
            ) from None
        times = [clock.parse_iso(item.absolute_time) for item in items]
        if direction == FORWARD:
            return next((i for i, t in enumerate(times) if t >= moment), count)
        return max((i for i, t in enumerate(times) if t <= moment), default=-1)
    if position.get("MostRecent") is not None:
        cut = max(count - int(position["MostRecent"]), 0)
        return cut if direction == FORWARD else cut - 1
    return count - 1  # BACKWARD from the newest item


def get_transcript(contact: Contact, params: dict[str, Any]) -> dict[str, Any]:
    """Answer a GetTranscript request (already validated against the model)."""
    items = contact.transcript()
    if params.get("ContactId") is not None and params["ContactId"] not in contact_chain(contact):
        raise ServiceError(VALIDATION, "ContactId is not part of this participant's contact chain")
    max_results = params.get("MaxResults")
    limit = DEFAULT_MAX_RESULTS if max_results is None else int(max_results)
    if params.get("NextToken"):
        direction, start = decode_token(params["NextToken"], contact.contact_id)
    else:
        position = {k: v for k, v in (params.get("StartPosition") or {}).items() if v is not None}
        if len(position) > 1:
            raise ServiceError(
                VALIDATION, "StartPosition takes only one of Id, AbsoluteTime, MostRecent"
            )
        direction = params.get("ScanDirection") or (FORWARD if position else BACKWARD)
        if direction == FORWARD and not position:
            raise ServiceError(VALIDATION, "ScanDirection FORWARD requires a StartPosition")
        start = _start(items, direction, position)

    next_position: int | None
    if direction == FORWARD:
        start = max(start, 0)
        page = items[start : start + limit]
        following = start + limit
        next_position = following if limit and following < len(items) else None
    else:
        start = min(start, len(items) - 1)
        low = max(start - limit + 1, 0)
        page = list(reversed(items[low : start + 1])) if limit and start >= 0 else []
        following = start - limit
        next_position = following if limit and following >= 0 else None

    # FORWARD pages come out oldest first, BACKWARD pages newest first.
    ascending = params.get("SortOrder") == "ASCENDING"
    if ascending != (direction == FORWARD):
        page.reverse()
    answer: dict[str, Any] = {
        "InitialContactId": contact.initial_contact_id,
        "Transcript": [item.to_wire() for item in page],
    }
    if next_position is not None:
        answer["NextToken"] = encode_token(contact.contact_id, direction, next_position)
    return answer
