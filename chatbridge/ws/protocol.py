"""The client websocket protocol (version 1): frame shapes and their validation.

docs/websocket-protocol.md is the reference for clients; this module is its implementation.
Client frames are validated with pydantic, so every rejection names the field at fault.

Server frames are described by pydantic models too (ServerFrame), but never built with them:
the consumer keeps writing its few dicts straight to JSON. Tests validate every frame they
receive against ServerFrame, and docs/schemas/ is generated from it (`python -m
chatbridge.ws.protocol --schema`), so the consumer, the docs and the schema cannot drift.
"""

import argparse
import json
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    MISSING,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
)

from chatbridge.chats.schema import Event, TypingEvent, chat_events
from chatbridge.connect.types import MAX_CONTENT_LENGTH, ContentType
from chatbridge.errors import AtCapacity, ChatBridgeError, InvalidInput, RateLimited, Throttled

PROTOCOL_VERSION = 1

Ref = Annotated[str, Field(min_length=1, max_length=64)]
# A seq a client sends: bounded like the log's seqs, so that a huge one is refused as a frame
# rather than failing in the database after the connection has begun to be set up.
MAX_SEQ = 2**31 - 1
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]


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
    after: Seq = 0
    protocol: Literal[1] = PROTOCOL_VERSION
    # Whether the client understands a send's ack with status "queued" (QueuedAckFrame);
    # clients that do not say so get only the final ack, as before it existed.
    queued_acks: bool = False
    # Whether the client takes events before they are logged (EarlyFrame, then LoggedFrame).
    early_events: bool = False


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
    after: Seq


ClientFrame = Annotated[
    Auth | Send | Typing | Receipt | End | Ping | Sync, Field(discriminator="type")
]
_adapter: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
FRAME_TYPES = ("auth", "send", "typing", "receipt", "end", "ping", "sync")


def _decode(text: str) -> Any:
    """The frame's JSON. Nesting deep enough to exhaust the decoder's recursion is refused
    like any JSON in error: it is the client's frame at fault, not the server."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("malformed_frame", "The frame is not valid JSON.") from None


def parse_client_frame(text: str) -> ClientFrame:
    data = _decode(text)
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
    """The client's ref of a frame, even one that failed validation, to tie errors to it.
    Only a ref that is valid text: one with a lone surrogate (JSON's "\\ud800") would make
    the error frame that echoes it JSON that strict clients refuse."""
    try:
        data = _decode(text)
    except ProtocolError:
        return None
    ref = data.get("ref") if isinstance(data, dict) else None
    if not isinstance(ref, str) or len(ref) > 64:
        return None
    try:
        ref.encode()
    except UnicodeEncodeError:
        return None
    return ref


def error_frame(error: ChatBridgeError, ref: str | None = None) -> dict[str, Any]:
    """The one mapping from a ChatBridge error to a websocket error frame."""
    frame: dict[str, Any] = {"type": "error", **error.as_dict()}
    if isinstance(error, Throttled | RateLimited | AtCapacity):
        frame["retry_after"] = error.retry_after
    if ref is not None:
        frame["ref"] = ref
    return frame


def event_frame(seq: int, event_json: str) -> str:
    """An event frame, built around the logged JSON without decoding it again."""
    return f'{{"type":"event","seq":{seq},"event":{event_json}}}'


def early_frame(event_json: str) -> str:
    """An early frame, built around the event's JSON as the relay encoded it."""
    return f'{{"type":"early","event":{event_json}}}'


def logged_frame(item_id: str, seq: int) -> str:
    return json.dumps({"type": "logged", "id": item_id, "seq": seq}, separators=(",", ":"))


# Server frames: what the consumer sends, as docs/websocket-protocol.md's "Server → client".

ClientRef = Annotated[str | None, Field(description="The ref of the frame answered, or null.")]


class _ServerFrame(BaseModel):
    """Exactly these keys with exactly these JSON types. A key the server adds or renames, or
    a wrong type, fails validation: a new field is a change of the docs and of this model."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ReadyFrame(_ServerFrame):
    """Answers auth. Events after the auth's `after` follow, then upstream or ended."""

    type: Literal["ready"]
    ref: ClientRef
    protocol: Literal[1]
    chat_id: str
    status: Literal["active", "ended"]
    participant_id: str = Field(description="The customer's participant id.")
    display_name: str
    last_seq: int = Field(ge=0, description="The newest seq in the chat's log.")


class EventFrame(_ServerFrame):
    """A logged event, in seq order: the client resumes with the highest seq it has."""

    type: Literal["event"]
    seq: int = Field(ge=1)
    event: Event


class EarlyFrame(_ServerFrame):
    """An event from Amazon Connect on its way into the log, for a client that set
    `early_events`: shown at once, it has no seq yet. Its `logged` frame follows; where this
    connection did not get the early frame first, its `event` frame. It may name an event the
    client already has (match by `event.id`)."""

    type: Literal["early"]
    event: Event


class LoggedFrame(_ServerFrame):
    """The seq of an event this connection got as `early`, in seq order with `event` frames:
    the client resumes with the highest seq it has, from either."""

    type: Literal["logged"]
    id: str = Field(description="The event's id, as its early frame carried it.")
    seq: int = Field(ge=1)


class TypingFrame(_ServerFrame):
    """Another participant is typing; the customer's own typing is not echoed."""

    type: Literal["typing"]
    event: TypingEvent


class UpstreamFrame(_ServerFrame):
    """Whether ChatBridge is connected to Amazon Connect, for a UI to say so."""

    type: Literal["upstream"]
    status: Literal["connected", "reconnecting"]


class EndedFrame(_ServerFrame):
    """The chat is over; its history stays readable."""

    type: Literal["ended"]
    reason: Literal["chat_ended", "customer_disconnected", "connect_access_denied", "abandoned"]


class PongFrame(_ServerFrame):
    """Answers ping."""

    type: Literal["pong"]
    ref: ClientRef


class AckFrame(_ServerFrame):
    """Answers receipt and end."""

    type: Literal["ack"]
    ref: ClientRef


class QueuedAckFrame(AckFrame):
    """Comes before a send's ack when the message has to wait for ChatBridge's share of
    Amazon Connect's rate: it is queued and will be sent (its ack follows, status sent),
    unless the wait grows beyond CHATBRIDGE_CONNECT_MAX_WAIT (then an error throttled)."""

    status: Literal["queued"]
    position: int = Field(ge=1, description="The message's place in the queue (1: next).")


class SendAckFrame(AckFrame):
    """Answers send; ref falls back to the send's client_id."""

    status: Literal["sent"] = Field(description="The message reached Amazon Connect.")
    id: str = Field(description="Connect's message id, the id of the message's event.")
    seq: int | None = Field(description="The message's seq; null if already logged (a retry).")


class TypingAckFrame(AckFrame):
    """Answers typing."""

    sent: bool = Field(description="False when the typing was throttled.")


class SyncAckFrame(AckFrame):
    """Answers sync, after the events it asked for again."""

    last_seq: int = Field(ge=0)


class ErrorFrame(_ServerFrame):
    """A refusal; only auth_timeout and idle_timeout close the connection."""

    type: Literal["error"]
    code: str = Field(description="One of the codes in docs/websocket-protocol.md's Errors.")
    message: str
    field: str | MISSING = Field(
        default=MISSING, description="The field at fault, when there is one."
    )
    retry_after: float | MISSING = Field(
        default=MISSING, description="Seconds; rate_limited, throttled, at_capacity."
    )
    ref: str | MISSING = Field(
        default=MISSING, description="The ref of the frame refused, if it had one."
    )


_ACK_VARIANTS = {
    "position": "ack:queued",
    "id": "ack:send",
    "sent": "ack:typing",
    "last_seq": "ack:sync",
}


def _server_frame_tag(frame: Any) -> str | None:
    """The union member of a frame: its type, and for an ack the key of its variant."""
    if isinstance(frame, dict):
        kind, keys = frame.get("type"), frame.keys()
    else:  # a model, when one is serialized
        kind, keys = getattr(frame, "type", None), type(frame).model_fields.keys()
    if kind != "ack":
        return kind
    return next((tag for key, tag in _ACK_VARIANTS.items() if key in keys), "ack")


ServerFrame = Annotated[
    Annotated[ReadyFrame, Tag("ready")]
    | Annotated[EventFrame, Tag("event")]
    | Annotated[EarlyFrame, Tag("early")]
    | Annotated[LoggedFrame, Tag("logged")]
    | Annotated[TypingFrame, Tag("typing")]
    | Annotated[UpstreamFrame, Tag("upstream")]
    | Annotated[QueuedAckFrame, Tag("ack:queued")]
    | Annotated[SendAckFrame, Tag("ack:send")]
    | Annotated[TypingAckFrame, Tag("ack:typing")]
    | Annotated[SyncAckFrame, Tag("ack:sync")]
    | Annotated[AckFrame, Tag("ack")]
    | Annotated[PongFrame, Tag("pong")]
    | Annotated[EndedFrame, Tag("ended")]
    | Annotated[ErrorFrame, Tag("error")],
    Discriminator(_server_frame_tag),
]
server_frames: TypeAdapter[ServerFrame] = TypeAdapter(ServerFrame)
SERVER_FRAME_MODELS: tuple[type[BaseModel], ...] = tuple(
    get_args(member)[0] for member in get_args(get_args(ServerFrame)[0])
)
# The server's frame types, as the union says: the docs' table must name exactly these.
SERVER_FRAME_TYPES = frozenset(
    get_args(model.model_fields["type"].annotation)[0] for model in SERVER_FRAME_MODELS
)

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schemas() -> dict[str, dict[str, Any]]:
    """The published JSON Schemas by file name: what docs/schemas/ must hold."""
    frames = {
        "$schema": _DIALECT,
        "title": "ChatBridge websocket server frame (protocol 1)",
        "description": "Every frame the server sends on /ws/chat/ (docs/websocket-protocol.md).",
        **server_frames.json_schema(),
    }
    events = {
        "$schema": _DIALECT,
        "title": "ChatBridge chat event",
        "description": "An event as the websocket, the REST API, SSE and webhooks carry it "
        "(docs/websocket-protocol.md).",
        **chat_events.json_schema(),
    }
    return {"ws-server-frames.json": frames, "chat-event.json": events}


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    """`python -m chatbridge.ws.protocol --schema` writes docs/schemas/ afresh."""
    parser = argparse.ArgumentParser(prog="python -m chatbridge.ws.protocol")
    parser.add_argument("--schema", action="store_true", help="write the JSON Schema files")
    parser.add_argument("--out", type=Path, default=SCHEMA_DIR, help="(default: docs/schemas)")
    args = parser.parse_args(argv)
    if not args.schema:
        parser.error("nothing to do: pass --schema")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        (args.out / name).write_text(schema_text(schema), encoding="utf-8")
        print(args.out / name)


if __name__ == "__main__":
    main()
