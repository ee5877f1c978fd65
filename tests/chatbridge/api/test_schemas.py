"""The OpenAPI schema states what the API accepts: what the chat service refuses (blank names
and messages, reserved attribute names, guessable start keys), the schema refuses too, so a
client or a fuzzer that follows the schema is never refused for it."""

import functools
import uuid
from typing import Any

import jsonschema_rs
import pytest

from chatbridge.api.app import api


@functools.cache
def document() -> dict[str, Any]:
    return api.get_openapi_schema()


def validator(name: str) -> Any:
    components = document()["components"]
    schema = {**components["schemas"][name], "components": components}
    return jsonschema_rs.validator_for(schema)


def start_key_validator() -> Any:
    parameters = document()["paths"]["/api/v1/chats"]["post"]["parameters"]
    (key,) = [p for p in parameters if p["name"] == "Idempotency-Key"]
    return jsonschema_rs.validator_for(key["schema"])


START = {"widget_id": "shop", "display_name": "Ada"}
BLANKS = ["", " ", "\t\n", "\x1c\x1d\x1e\x1f", "\u00a0\u2003\u3000"]


@pytest.mark.parametrize("blank", BLANKS)
@pytest.mark.parametrize(
    "body",
    [
        lambda blank: {**START, "display_name": blank},
        lambda blank: {**START, "initial_message": blank},
        lambda blank: {**START, "attributes": {blank: "x"}},
    ],
    ids=["display_name", "initial_message", "attribute name"],
)
def test_a_start_with_blank_text_is_off_the_schema(body, blank):
    assert not validator("StartChatIn").is_valid(body(blank))


@pytest.mark.parametrize("blank", BLANKS)
def test_a_blank_message_is_off_the_schema(blank):
    assert not validator("SendMessageIn").is_valid({"content": blank})


def test_a_reserved_attribute_name_is_off_the_schema():
    assert not validator("StartChatIn").is_valid({**START, "attributes": {"identity_sub": "x"}})


@pytest.mark.parametrize("kind", ["delivered", "read"])
def test_a_receipt_without_its_message_is_off_the_schema(kind):
    assert not validator("SendEventIn").is_valid({"type": kind})
    assert not validator("SendEventIn").is_valid({"type": kind, "message_id": None})
    assert not validator("SendEventIn").is_valid({"type": kind, "message_id": " "})
    assert validator("SendEventIn").is_valid({"type": kind, "message_id": "m-1"})


def test_typing_needs_no_message():
    assert validator("SendEventIn").is_valid({"type": "typing"})


def test_text_around_blanks_is_on_the_schema():
    body = {**START, "display_name": " Ada ", "initial_message": "hi\n", "attributes": {"a b": ""}}
    assert validator("StartChatIn").is_valid(body)
    assert validator("SendMessageIn").is_valid({"content": " ok "})


@pytest.mark.parametrize(
    "key",
    ["order-1234", "69915500-f0bc-11f1-a081-02fc00000001", "0b2f6c1e8d4a4f3b9c7e5a1d2e3f4b6c", ""],
)
def test_a_guessable_start_key_is_off_the_schema(key):
    assert not start_key_validator().is_valid(key)


def test_a_uuid4_start_key_is_on_the_schema():
    key = str(uuid.uuid4())
    assert start_key_validator().is_valid(key) and start_key_validator().is_valid(key.upper())
