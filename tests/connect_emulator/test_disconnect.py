"""DisconnectParticipant: the customer leaving ends the chat."""

import pytest
from botocore.exceptions import ClientError

from .conftest import connect_customer, error_of

pytestmark = pytest.mark.timeout(30)


def test_disconnect_adds_participant_left_then_chat_ended(chat, participant_client, control):
    participant_client.disconnect_participant(ConnectionToken=chat.connection_token)

    items = control.items(chat.contact_id)
    assert items[-2]["ContentType"].endswith("participant.left")
    assert items[-2]["ParticipantId"] == chat.participant_id
    assert items[-1]["ContentType"].endswith("chat.ended")
    assert control.get(f"/contacts/{chat.contact_id}")["status"] == "ENDED"


def test_after_disconnect_both_tokens_are_refused(chat, participant_client):
    participant_client.disconnect_participant(ConnectionToken=chat.connection_token)

    with pytest.raises(ClientError) as raised:
        participant_client.send_message(
            ContentType="text/plain", Content="hi", ConnectionToken=chat.connection_token
        )
    assert error_of(raised)[:2] == ("AccessDeniedException", 403)
    with pytest.raises(ClientError) as raised:
        connect_customer(participant_client, chat.participant_token)
    assert error_of(raised)[:2] == ("AccessDeniedException", 403)


def test_disconnect_pushes_the_end_and_closes_the_socket(chat, participant_client, open_socket):
    socket = open_socket(chat.websocket_url)
    socket.subscribe()

    participant_client.disconnect_participant(ConnectionToken=chat.connection_token)

    assert socket.item()["ContentType"].endswith("participant.left")
    assert socket.item()["ContentType"].endswith("chat.ended")
    assert socket.closed() == 1000


def test_an_agent_leaving_does_not_end_the_chat(chat, control, participant_client):
    control.post(f"/contacts/{chat.contact_id}/agent/join")

    control.post(f"/contacts/{chat.contact_id}/agent/leave")

    assert control.get(f"/contacts/{chat.contact_id}")["status"] == "ACTIVE"
    assert participant_client.get_transcript(ConnectionToken=chat.connection_token)
