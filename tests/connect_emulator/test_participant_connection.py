"""CreateParticipantConnection and the life of participant and connection tokens."""

import re

import pytest
from botocore.exceptions import ClientError

from .conftest import connect_customer, error_of, start_chat

pytestmark = pytest.mark.timeout(30)

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_connection_has_a_websocket_url_and_credentials(chat):
    websocket = chat.connection["Websocket"]
    credentials = chat.connection["ConnectionCredentials"]

    assert re.match(r"^ws://127\.0\.0\.1:\d+/connection\?X-Amz-Security-Token=.+", websocket["Url"])
    assert ISO_MS.match(websocket["ConnectionExpiry"])
    assert credentials["ConnectionToken"]
    assert ISO_MS.match(credentials["Expiry"])
    assert credentials["Expiry"] > websocket["ConnectionExpiry"]


def test_only_the_requested_connection_types_are_returned(connect_client, participant_client):
    started = start_chat(connect_client)

    answer = participant_client.create_participant_connection(
        Type=["CONNECTION_CREDENTIALS"], ParticipantToken=started["ParticipantToken"]
    )

    assert "ConnectionCredentials" in answer
    assert "Websocket" not in answer


def test_each_connection_issues_a_new_token_and_old_ones_stay_valid(chat, participant_client):
    again = connect_customer(participant_client, chat.participant_token)
    new_token = again["ConnectionCredentials"]["ConnectionToken"]

    assert new_token != chat.connection_token
    assert participant_client.get_transcript(ConnectionToken=chat.connection_token)
    assert participant_client.get_transcript(ConnectionToken=new_token)


def test_connect_participant_adds_one_connection_ack(chat, participant_client, control):
    connect_customer(participant_client, chat.participant_token, ConnectParticipant=True)
    connect_customer(participant_client, chat.participant_token, ConnectParticipant=True)

    acks = [i for i in control.items(chat.contact_id) if i["Type"] == "CONNECTION_ACK"]
    assert len(acks) == 1
    assert acks[0]["ContentType"].endswith("connection.acknowledged")
    assert acks[0]["ParticipantId"] == chat.participant_id
    participant = control.get(f"/contacts/{chat.contact_id}")["participants"][0]
    assert participant["state"] == "CONNECTED"


def test_webrtc_connections_are_refused(chat, participant_client):
    with pytest.raises(ClientError) as raised:
        participant_client.create_participant_connection(
            Type=["WEBRTC_CONNECTION"], ParticipantToken=chat.participant_token
        )

    assert error_of(raised)[:2] == ("ValidationException", 400)


def test_an_unknown_participant_token_is_access_denied(participant_client):
    with pytest.raises(ClientError) as raised:
        connect_customer(participant_client, "not-a-token")

    assert error_of(raised)[:2] == ("AccessDeniedException", 403)


def test_a_connection_token_cannot_create_a_connection(chat, participant_client):
    with pytest.raises(ClientError) as raised:
        connect_customer(participant_client, chat.connection_token)

    assert error_of(raised)[:2] == ("AccessDeniedException", 403)


def test_the_participant_token_is_refused_where_a_connection_token_is_needed(
    chat, participant_client
):
    with pytest.raises(ClientError) as raised:
        participant_client.send_message(
            ContentType="text/plain", Content="hi", ConnectionToken=chat.participant_token
        )

    code, status, message = error_of(raised)
    assert (code, status) == ("AccessDeniedException", 403)
    assert "participant token" in message


def test_a_connection_token_expires_after_its_ttl(
    frozen_clock, control, connect_client, participant_client, open_socket
):
    control.post("/config", {"connection_token_ttl": 30})
    started = start_chat(connect_client)
    connection = connect_customer(participant_client, started["ParticipantToken"])
    socket = open_socket(connection["Websocket"]["Url"])

    frozen_clock(30)  # the configured lifetime, on the emulator's clock

    assert socket.closed() == 1000  # the server closes the socket when the token expires

    with pytest.raises(ClientError) as raised:
        participant_client.get_transcript(
            ConnectionToken=connection["ConnectionCredentials"]["ConnectionToken"]
        )
    code, status, message = error_of(raised)
    assert (code, status) == ("AccessDeniedException", 403)
    assert "expired" in message


def test_force_expired_tokens_are_refused_and_a_new_connection_works(
    chat, control, participant_client
):
    control.post(f"/contacts/{chat.contact_id}/expire-connection-tokens")

    with pytest.raises(ClientError) as raised:
        participant_client.get_transcript(ConnectionToken=chat.connection_token)
    assert error_of(raised)[:2] == ("AccessDeniedException", 403)

    fresh = connect_customer(participant_client, chat.participant_token)
    token = fresh["ConnectionCredentials"]["ConnectionToken"]
    assert participant_client.get_transcript(ConnectionToken=token)["Transcript"]


def test_tokens_are_refused_after_the_chat_ends(chat, control, participant_client):
    control.post(f"/contacts/{chat.contact_id}/end")

    with pytest.raises(ClientError) as raised:
        participant_client.get_transcript(ConnectionToken=chat.connection_token)
    assert error_of(raised)[:2] == ("AccessDeniedException", 403)
    with pytest.raises(ClientError) as raised:
        connect_customer(participant_client, chat.participant_token)
    assert error_of(raised)[:2] == ("AccessDeniedException", 403)
