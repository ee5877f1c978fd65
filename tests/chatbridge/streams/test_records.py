"""The records the stream workers keep in Redis between attempts (chatbridge.streams.records),
on both of their kinds: a webhook delivery and a transcript e-mail waiting for the archive."""

import dataclasses
import json

import pytest

from chatbridge.streams.mailer import PendingMail
from chatbridge.streams.records import JsonRecord
from chatbridge.streams.webhooks import Delivery

RECORDS = [
    Delivery("w1", '{"type":"chat.ended"}', "d-1", attempt=3),
    PendingMail("chat-1", {"request_id": "r-1", "to": "ada@example.com", "last_seq": 7}),
]


@pytest.mark.parametrize("record", RECORDS, ids=["delivery", "pending-mail"])
def test_a_record_read_back_as_redis_returns_it_equals_the_record(record: JsonRecord) -> None:
    assert type(record).from_json(record.to_json().encode()) == record


@pytest.mark.parametrize("record", RECORDS, ids=["delivery", "pending-mail"])
def test_a_record_is_stored_as_compact_json_of_its_fields(record: JsonRecord) -> None:
    stored = record.to_json()
    assert ", " not in stored and ": " not in stored
    assert json.loads(stored) == {
        field.name: getattr(record, field.name) for field in dataclasses.fields(record)
    }
