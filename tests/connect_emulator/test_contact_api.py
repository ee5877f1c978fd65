"""StartChatContact and StopContact through boto3's ``connect`` client."""

import re

import pytest
from botocore.exceptions import ClientError

from .conftest import connect_customer, error_of, start_chat

pytestmark = pytest.mark.timeout(30)

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_start_chat_contact_returns_contact_participant_and_token(connect_client, control):
    started = start_chat(connect_client)

    assert started["ContactId"] and started["ParticipantId"] and started["ParticipantToken"]
    contact = control.get(f"/contacts/{started['ContactId']}")
    assert contact["status"] == "ACTIVE"
    assert contact["participants"][0]["participant_id"] == started["ParticipantId"]
    assert contact["participants"][0]["role"] == "CUSTOMER"
    assert contact["participants"][0]["display_name"] == "Ann"


def test_the_customer_joined_event_opens_the_transcript(connect_client, control):
    started = start_chat(connect_client)

    (joined,) = control.items(started["ContactId"])
    assert joined["Type"] == "EVENT"
    assert joined["ContentType"] == "application/vnd.amazonaws.connect.event.participant.joined"
    assert joined["ParticipantRole"] == "CUSTOMER"
    assert joined["DisplayName"] == "Ann"
    assert ISO_MS.match(joined["AbsoluteTime"])


def test_initial_message_is_the_first_customer_message(connect_client, control):
    started = start_chat(
        connect_client, InitialMessage={"ContentType": "text/plain", "Content": "Hello"}
    )

    joined, message = control.items(started["ContactId"])
    assert joined["ContentType"].endswith("participant.joined")
    assert message["Type"] == "MESSAGE"
    assert message["Content"] == "Hello"
    assert message["ParticipantId"] == started["ParticipantId"]


def test_attributes_are_stored_with_the_contact(connect_client, control):
    started = start_chat(connect_client, Attributes={"customerId": "42"})

    assert control.get(f"/contacts/{started['ContactId']}")["attributes"] == {"customerId": "42"}


def test_the_same_client_token_returns_the_first_contact(connect_client, control):
    first = start_chat(connect_client, ClientToken="same-token")
    second = start_chat(connect_client, ClientToken="same-token")

    assert second["ContactId"] == first["ContactId"]
    assert second["ParticipantToken"] == first["ParticipantToken"]
    assert len(control.get("/contacts")) == 1


def test_any_instance_is_accepted_without_instance_id(connect_client):
    assert start_chat(connect_client, InstanceId="whatever")["ContactId"]


def test_another_instance_is_not_found_when_instance_id_is_set(connect_client, control):
    control.post("/config", {"instance_id": "the-instance"})

    with pytest.raises(ClientError) as raised:
        start_chat(connect_client, InstanceId="other-instance")

    assert error_of(raised)[:2] == ("ResourceNotFoundException", 404)
    assert start_chat(connect_client, InstanceId="the-instance")["ContactId"]


def test_an_invalid_parameter_is_invalid_parameter_exception(unvalidated_connect_client):
    with pytest.raises(ClientError) as raised:
        start_chat(unvalidated_connect_client, ParticipantDetails={"DisplayName": "x" * 257})

    code, status, message = error_of(raised)
    assert (code, status) == ("InvalidParameterException", 400)
    assert "ParticipantDetails.DisplayName" in message


def test_a_missing_required_member_is_named(unvalidated_connect_client):
    with pytest.raises(ClientError) as raised:
        unvalidated_connect_client.start_chat_contact(InstanceId="i", ContactFlowId="f")

    code, _, message = error_of(raised)
    assert code == "InvalidParameterException"
    assert "ParticipantDetails" in message


def test_supported_content_types_must_include_text_plain(connect_client):
    with pytest.raises(ClientError) as raised:
        start_chat(connect_client, SupportedMessagingContentTypes=["text/markdown"])

    assert error_of(raised)[:2] == ("InvalidRequestException", 400)


def test_connection_types_return_a_connection_at_once(connect_client, participant_client):
    started = start_chat(connect_client, ConnectionTypes=["WEBSOCKET", "CONNECTION_CREDENTIALS"])

    assert started["Websocket"]["Url"].startswith("ws://")
    token = started["ConnectionCredentials"]["ConnectionToken"]
    assert participant_client.get_transcript(ConnectionToken=token)["Transcript"]


def test_stop_contact_ends_the_chat(connect_client, participant_client, control):
    started = start_chat(connect_client)
    token = connect_customer(participant_client, started["ParticipantToken"])[
        "ConnectionCredentials"
    ]["ConnectionToken"]

    connect_client.stop_contact(ContactId=started["ContactId"], InstanceId="instance-1")

    contact = control.get(f"/contacts/{started['ContactId']}")
    assert contact["status"] == "ENDED"
    assert contact["items"][-1]["ContentType"].endswith("chat.ended")
    with pytest.raises(ClientError) as raised:
        participant_client.get_transcript(ConnectionToken=token)
    assert error_of(raised)[:2] == ("AccessDeniedException", 403)


def test_stopping_an_unknown_contact_is_contact_not_found(connect_client):
    with pytest.raises(ClientError) as raised:
        connect_client.stop_contact(ContactId="no-such-contact", InstanceId="instance-1")

    assert error_of(raised)[:2] == ("ContactNotFoundException", 410)


def test_a_throttle_fault_is_limit_exceeded(connect_client, control):
    control.post("/faults", {"operation": "StartChatContact", "kind": "throttle", "count": 1})

    with pytest.raises(ClientError) as raised:
        start_chat(connect_client)

    assert error_of(raised)[:2] == ("LimitExceededException", 429)
    assert start_chat(connect_client)["ContactId"]


def test_an_error_fault_is_internal_service_exception(connect_client, control):
    control.post("/faults", {"operation": "StopContact", "kind": "error", "count": 1})
    started = start_chat(connect_client)

    with pytest.raises(ClientError) as raised:
        connect_client.stop_contact(ContactId=started["ContactId"], InstanceId="instance-1")

    assert error_of(raised)[:2] == ("InternalServiceException", 500)
