"""SendMessage and SendEvent: messages, typing, receipts, acknowledgements, idempotency."""

import json
import re

import pytest
from botocore.exceptions import ClientError

from .conftest import error_of

pytestmark = pytest.mark.timeout(30)

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
EVENT = "application/vnd.amazonaws.connect.event."


def send(participant_client, chat, content="Hello", content_type="text/plain", **extra):
    return participant_client.send_message(
        ContentType=content_type, Content=content, ConnectionToken=chat.connection_token, **extra
    )


def event(participant_client, chat, kind, content=None, **extra):
    params = {"ContentType": EVENT + kind, "ConnectionToken": chat.connection_token, **extra}
    if content is not None:
        params["Content"] = content
    return participant_client.send_event(**params)


def test_send_message_returns_the_item_id_and_time(chat, participant_client, control):
    sent = send(participant_client, chat)

    assert ISO_MS.match(sent["AbsoluteTime"])
    message = control.items(chat.contact_id)[-1]
    assert message["Id"] == sent["Id"]
    assert message["AbsoluteTime"] == sent["AbsoluteTime"]
    assert message["Type"] == "MESSAGE"
    assert message["Content"] == "Hello"
    assert message["ParticipantRole"] == "CUSTOMER"
    assert message["ContactId"] == message["InitialContactId"] == chat.contact_id


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/markdown",
        "application/json",
        "application/vnd.amazonaws.connect.message.interactive.response",
    ],
)
def test_message_content_types_are_accepted(chat, participant_client, content_type):
    assert send(participant_client, chat, content='{"a": 1}', content_type=content_type)["Id"]


def test_other_message_content_types_are_refused(chat, participant_client):
    with pytest.raises(ClientError) as raised:
        send(participant_client, chat, content_type="text/html")

    code, status, message = error_of(raised)
    assert (code, status) == ("ValidationException", 400)
    assert "text/html" in message


def test_content_types_outside_the_contacts_supported_list_are_refused(
    new_chat, participant_client
):
    chat = new_chat(SupportedMessagingContentTypes=["text/plain"])

    with pytest.raises(ClientError) as raised:
        send(participant_client, chat, content_type="text/markdown")

    assert error_of(raised)[0] == "ValidationException"


def test_content_longer_than_the_model_allows_is_refused(chat, participant_client):
    assert send(participant_client, chat, content="x" * 16384)["Id"]

    with pytest.raises(ClientError) as raised:
        send(participant_client, chat, content="x" * 16385)

    code, _, message = error_of(raised)
    assert code == "ValidationException"
    assert "'Content'" in message and "16384" in message


def test_the_same_client_token_sends_once(chat, participant_client, control):
    first = send(participant_client, chat, ClientToken="once")
    second = send(participant_client, chat, ClientToken="once")

    assert second["Id"] == first["Id"]
    messages = [i for i in control.items(chat.contact_id) if i["Type"] == "MESSAGE"]
    assert len(messages) == 1


def test_typing_is_an_event_kept_out_of_the_transcript(chat, participant_client, control):
    sent = event(participant_client, chat, "typing")

    typing = control.items(chat.contact_id)[-1]
    assert typing["Id"] == sent["Id"]
    assert typing["Type"] == "EVENT"
    assert typing["ContentType"] == EVENT + "typing"
    transcript = participant_client.get_transcript(
        ConnectionToken=chat.connection_token, MaxResults=100
    )["Transcript"]
    assert sent["Id"] not in [item["Id"] for item in transcript]


def test_the_same_client_token_sends_an_event_once(chat, participant_client, control):
    first = event(participant_client, chat, "typing", ClientToken="t")
    second = event(participant_client, chat, "typing", ClientToken="t")

    assert first["Id"] == second["Id"]
    assert len(control.items(chat.contact_id)) == 2  # joined + one typing


@pytest.mark.parametrize(
    ("kind", "timestamps"),
    [
        ("message.delivered", {"DeliveredTimestamp"}),
        ("message.read", {"DeliveredTimestamp", "ReadTimestamp"}),
    ],
)
def test_a_receipt_becomes_a_message_metadata_item(
    chat, participant_client, control, kind, timestamps
):
    control.post(f"/contacts/{chat.contact_id}/agent/join")
    agent_message = control.post(f"/contacts/{chat.contact_id}/agent/message", {"content": "Hi"})

    sent = event(participant_client, chat, kind, json.dumps({"messageId": agent_message["Id"]}))

    metadata = control.items(chat.contact_id)[-1]
    assert metadata["Id"] == sent["Id"]
    assert metadata["Type"] == "MESSAGEMETADATA"
    assert metadata["ContentType"] == EVENT + "message.metadata"
    assert metadata["MessageMetadata"]["MessageId"] == agent_message["Id"]
    (receipt,) = metadata["MessageMetadata"]["Receipts"]
    assert receipt["RecipientParticipantId"] == chat.participant_id
    assert set(receipt) - {"RecipientParticipantId"} == timestamps


def test_receipts_are_in_the_transcript(chat, participant_client, control):
    control.post(f"/contacts/{chat.contact_id}/agent/join")
    agent_message = control.post(f"/contacts/{chat.contact_id}/agent/message", {"content": "Hi"})
    sent = event(
        participant_client, chat, "message.read", json.dumps({"messageId": agent_message["Id"]})
    )

    newest = participant_client.get_transcript(ConnectionToken=chat.connection_token)["Transcript"][
        0
    ]
    assert newest["Id"] == sent["Id"]
    assert newest["MessageMetadata"]["Receipts"][0]["ReadTimestamp"]


def test_a_receipt_needs_a_message_id(chat, participant_client):
    with pytest.raises(ClientError) as raised:
        event(participant_client, chat, "message.read", "not json")

    assert error_of(raised)[:2] == ("ValidationException", 400)


def test_a_receipt_for_an_unknown_message_is_refused(chat, participant_client):
    with pytest.raises(ClientError) as raised:
        event(participant_client, chat, "message.read", json.dumps({"messageId": "nope"}))

    assert error_of(raised)[:2] == ("ValidationException", 400)


def test_receipts_conflict_with_more_than_two_participants(chat, participant_client, control):
    control.post(f"/contacts/{chat.contact_id}/agent/join", {"display_name": "One"})
    control.post(f"/contacts/{chat.contact_id}/agent/join", {"display_name": "Two"})
    message = control.post(f"/contacts/{chat.contact_id}/agent/message", {"content": "Hi"})

    with pytest.raises(ClientError) as raised:
        event(participant_client, chat, "message.read", json.dumps({"messageId": message["Id"]}))

    assert error_of(raised)[:2] == ("ConflictException", 409)


def test_the_connection_acknowledged_event_marks_the_participant_connected(
    chat, participant_client, control
):
    sent = event(participant_client, chat, "connection.acknowledged")

    ack = control.items(chat.contact_id)[-1]
    assert ack["Id"] == sent["Id"]
    assert ack["Type"] == "CONNECTION_ACK"


def test_unknown_event_types_are_refused(chat, participant_client):
    with pytest.raises(ClientError) as raised:
        event(participant_client, chat, "chat.ended")

    assert error_of(raised)[:2] == ("ValidationException", 400)
