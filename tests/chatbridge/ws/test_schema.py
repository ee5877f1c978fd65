"""The one schema of what clients receive, held against the code, the published JSON Schema
files and the docs, so that none of them can change without the others."""

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, get_args

import jsonschema_rs
import pytest
from pydantic import ValidationError

from chatbridge.chats import events
from chatbridge.chats.events import ChatEvent, from_item
from chatbridge.chats.schema import Event, TypingEvent, chat_events
from chatbridge.connect.types import ContentType, TranscriptItem
from chatbridge.errors import AtCapacity, ChatBridgeError, RateLimited, Throttled
from chatbridge.ws.protocol import (
    SCHEMA_DIR,
    SERVER_FRAME_TYPES,
    ProtocolError,
    error_frame,
    event_frame,
    json_schemas,
    schema_text,
    server_frames,
)
from tests.support.records import message

DOCS = Path(__file__).resolve().parents[3] / "docs"
REGENERATE = "regenerate with: .venv/bin/python -m chatbridge.ws.protocol --schema"


def test_the_committed_schema_files_are_what_the_models_generate() -> None:
    expected = json_schemas()
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(expected), REGENERATE
    for name, schema in expected.items():
        assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == schema_text(schema), (
            f"docs/schemas/{name} is stale; {REGENERATE}"
        )


def documented_server_frame_types() -> set[str]:
    """The first column of the table under "Server → client", up to its first subsection."""
    text = (DOCS / "websocket-protocol.md").read_text(encoding="utf-8")
    _, found, section = text.partition("\n## Server → client\n")
    assert found, "docs/websocket-protocol.md has no 'Server → client' section"
    section = re.split(r"^#{2,3} ", section, maxsplit=1, flags=re.MULTILINE)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


def test_the_docs_name_exactly_the_server_frame_types_of_the_schema() -> None:
    assert documented_server_frame_types() == SERVER_FRAME_TYPES


@pytest.mark.parametrize("doc", ["websocket-protocol.md", "rest-api.md"])
def test_the_docs_point_at_the_published_schema_files(doc: str) -> None:
    text = (DOCS / doc).read_text(encoding="utf-8")
    schema = text.rpartition("\n## Schema\n")[2]
    assert "schemas/chat-event.json" in schema


def test_the_event_model_has_the_keys_of_chat_event_in_order() -> None:
    keys = [field.name for field in dataclasses.fields(ChatEvent)]
    assert list(Event.model_fields) == keys
    assert list(json.loads(message("m1").to_json())) == keys


def test_the_event_types_are_chat_events_types() -> None:
    logged = set(get_args(Event.model_fields["type"].annotation))
    typing = set(get_args(TypingEvent.model_fields["type"].annotation))
    assert logged == {events.MESSAGE, events.ATTACHMENT, events.EVENT, events.RECEIPT}
    assert typing == {events.TYPING}


def connect_items() -> list[dict[str, Any]]:
    """One Connect item of every kind that ChatBridge turns into an event."""
    base = {
        "AbsoluteTime": "2026-01-01T10:00:00.000Z",
        "ParticipantId": "agent-1",
        "ParticipantRole": "AGENT",
        "DisplayName": "Sam",
    }
    return [
        {**base, "Id": "m", "Type": "MESSAGE", "ContentType": "text/plain", "Content": "Hi"},
        {
            **base,
            "Id": "a",
            "Type": "ATTACHMENT",
            "ContentType": "image/png",
            "Attachments": [
                {
                    "AttachmentId": "att-1",
                    "AttachmentName": "a.png",
                    "ContentType": "image/png",
                    "Status": "APPROVED",
                },
                {"AttachmentId": "att-2"},
            ],
        },
        {**base, "Id": "e", "Type": "EVENT", "ContentType": ContentType.CHAT_ENDED},
        {
            **base,
            "Id": "r",
            "Type": "MESSAGEMETADATA",
            "ContentType": "application/vnd.amazonaws.connect.event.message.metadata",
            "MessageMetadata": {
                "MessageId": "m",
                "Receipts": [
                    {
                        "RecipientParticipantId": "customer-1",
                        "DeliveredTimestamp": "2026-01-01T10:00:01.000Z",
                        "ReadTimestamp": "2026-01-01T10:00:02.000Z",
                    },
                    {"RecipientParticipantId": "customer-1"},
                ],
            },
        },
        {**base, "Id": "t", "Type": "EVENT", "ContentType": ContentType.TYPING},
    ]


@pytest.mark.parametrize("item", connect_items(), ids=lambda item: item["Type"])
def test_every_kind_of_event_matches_the_schema(item: dict[str, Any]) -> None:
    event = from_item(TranscriptItem.from_connect(item))
    assert event is not None
    text = event.to_json()
    model = chat_events.validate_json(text)
    assert isinstance(model, TypingEvent) == event.is_ephemeral
    assert chat_events.dump_json(model).decode() == text
    validator("chat-event.json").validate(json.loads(text))


def validator(name: str) -> Any:
    return jsonschema_rs.validator_for(json.loads((SCHEMA_DIR / name).read_text()))


def typing_json() -> str:
    item = TranscriptItem.from_connect(connect_items()[-1])
    event = from_item(item)
    assert event is not None
    return event.to_json()


def server_frames_of_every_kind() -> list[dict[str, Any]]:
    """A frame of every kind, from the protocol's own builders where it has them."""
    ref = "r1"
    return [
        {
            "type": "ready",
            "ref": None,
            "protocol": 1,
            "chat_id": "c",
            "status": "active",
            "participant_id": "p",
            "display_name": "Ada",
            "last_seq": 0,
        },
        json.loads(event_frame(7, message("m1").to_json())),
        json.loads(f'{{"type":"typing","event":{typing_json()}}}'),
        {"type": "upstream", "status": "reconnecting"},
        {"type": "ack", "ref": ref, "status": "queued", "position": 3},
        {"type": "ack", "ref": ref, "status": "sent", "id": "m1", "seq": 7},
        {"type": "ack", "ref": None, "status": "sent", "id": "m1", "seq": None},
        {"type": "ack", "ref": ref, "sent": False},
        {"type": "ack", "ref": ref, "last_seq": 7},
        {"type": "ack", "ref": None},
        {"type": "pong", "ref": ref},
        {"type": "ended", "reason": "customer_disconnected"},
        error_frame(ChatBridgeError()),
        error_frame(ProtocolError("invalid_frame", "content: too long", field="content"), ref),
        error_frame(RateLimited(retry_after=0.25), ref),
        error_frame(Throttled()),
        error_frame(AtCapacity()),
    ]


@pytest.mark.parametrize("frame", server_frames_of_every_kind(), ids=lambda f: f["type"])
def test_the_model_and_the_published_file_accept_every_kind_of_frame(frame: dict) -> None:
    server_frames.validate_json(json.dumps(frame))
    validator("ws-server-frames.json").validate(frame)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "pong", "ref": "r", "extra": 1},
        {"type": "pong"},
        {"type": "ack", "ref": "r", "id": "m1", "seq": 7, "sent": True},
        {"type": "ack", "ref": "r", "sent": "yes"},
        {"type": "ack", "ref": "r", "status": "queued", "position": 0},
        {"type": "ack", "ref": "r", "status": "sent", "position": 1},
        {"type": "event", "seq": "7", "event": json.loads(message("m1").to_json())},
        {"type": "event", "seq": 7, "event": {**json.loads(message("m1").to_json()), "x": 1}},
        {"type": "event", "seq": 7, "event": json.loads(typing_json())},
        {"type": "typing", "event": json.loads(message("m1").to_json())},
        {"type": "upstream", "status": "up"},
        {"type": "ended", "reason": "bored"},
        {"type": "error", "code": "x", "message": "m", "field": None},
        {"type": "goodbye"},
    ],
)
def test_the_model_and_the_published_file_refuse_what_the_server_never_sends(frame: dict) -> None:
    with pytest.raises(ValidationError):
        server_frames.validate_json(json.dumps(frame))
    assert not validator("ws-server-frames.json").is_valid(frame)
