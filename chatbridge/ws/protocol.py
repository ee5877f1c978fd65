"""The client websocket protocol (version 1): frame shapes and their validation.

docs/websocket-protocol.md is the reference for clients; this module is its implementation.
Client frames are validated with pydantic, so every rejection names the field at fault.
"""

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chatbridge.connect.types import MAX_CONTENT_LENGTH, ContentType
from chatbridge.errors import ChatBridgeError, InvalidInput, RateLimited, Throttled

PROTOCOL_VERSION = 1

Ref = Annotated[str, Field(min_length=1, max_length=64)]


class ProtocolError(InvalidInput):
    """A frame the protocol does not allow. The connection stays open."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    ref: Ref | None = None


class Auth(_Frame):
    type: Literal["auth"]
    token: Annotated[str, Field(min_length=1, max_length=512)]
    after: Annotated[int, Field(ge=0)] = 0
    protocol: Literal[1] = PROTOCOL_VERSION


class Send(_Frame):
    type: Literal["send"]
    content: Annotated[str, Field(min_length=1, max_length=MAX_CONTENT_LENGTH)]
    content_type: Literal[
        ContentType.TEXT, ContentType.MARKDOWN, ContentType.JSON, ContentType.INTERACTIVE_RESPONSE
    ] = ContentType.TEXT
    client_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class Typing(_Frame):
    type: Literal["typing"]


class Receipt(_Frame):
    type: Literal["receipt"]
    message_id: Annotated[str, Field(min_length=1, max_length=256)]
    kind: Literal["delivered", "read"]


class End(_Frame):
    type: Literal["end"]


class Ping(_Frame):
    type: Literal["ping"]


class Sync(_Frame):
    """Asks for every event after `after` again, for a client that suspects a gap."""

    type: Literal["sync"]
    after: Annotated[int, Field(ge=0)]


ClientFrame = Annotated[
    Auth | Send | Typing | Receipt | End | Ping | Sync, Field(discriminator="type")
]
_adapter: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
FRAME_TYPES = ("auth", "send", "typing", "receipt", "end", "ping", "sync")


def parse_client_frame(text: str) -> ClientFrame:
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolError("malformed_frame", "The frame is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError("malformed_frame", "The frame must be a JSON object.")
    kind = data.get("type")
    if kind not in FRAME_TYPES:
        raise ProtocolError(
            "unknown_type",
            f"type must be one of: {', '.join(FRAME_TYPES)}.",
            field="type",
        )
    try:
        return _adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"][1:]) or "frame"
        raise ProtocolError("invalid_frame", f"{field}: {first['msg']}.", field=field) from None


def ref_of(text: str) -> str | None:
    """The client's ref of a frame, even one that failed validation, to tie errors to it."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("ref"), str) and len(data["ref"]) <= 64:
        return data["ref"]
    return None


def error_frame(error: ChatBridgeError, ref: str | None = None) -> dict[str, Any]:
    """The one mapping from a ChatBridge error to a websocket error frame."""
    frame: dict[str, Any] = {"type": "error", **error.as_dict()}
    if isinstance(error, Throttled | RateLimited):
        frame["retry_after"] = error.retry_after
    if ref is not None:
        frame["ref"] = ref
    return frame


def event_frame(seq: int, event_json: str) -> str:
    """An event frame, built around the logged JSON without decoding it again."""
    return f'{{"type":"event","seq":{seq},"event":{event_json}}}'
