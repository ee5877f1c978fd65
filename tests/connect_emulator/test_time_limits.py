"""Connect's time limits, driven by the emulator's frozen clock: chat duration
(ChatDurationInMinutes, 25 hours by default), the five minutes a customer has to call
CreateParticipantConnection, the 100 s to open a websocket URL and the one-day connection
token."""

import time
from datetime import datetime

import pytest
from botocore.exceptions import ClientError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .conftest import WAIT, connect_customer, error_of, start_chat

pytestmark = pytest.mark.timeout(30)

CHAT_ENDED = "application/vnd.amazonaws.connect.event.chat.ended"
HOUR = 3600


def _status(control, contact_id: str) -> str:
    return control.get(f"/contacts/{contact_id}")["status"]


def test_a_chat_lasts_25_hours_by_default(frozen_clock, chat, control):
    frozen_clock(25 * HOUR - 1)
    assert _status(control, chat.contact_id) == "ACTIVE"

    frozen_clock(1)

    assert _status(control, chat.contact_id) == "ENDED"
    assert control.items(chat.contact_id)[-1]["ContentType"] == CHAT_ENDED


def test_chat_duration_in_minutes_ends_the_chat(frozen_clock, new_chat, control):
    chat = new_chat(ChatDurationInMinutes=60)
    frozen_clock(HOUR - 1)
    assert _status(control, chat.contact_id) == "ACTIVE"

    frozen_clock(1)

    assert _status(control, chat.contact_id) == "ENDED"


def test_a_chat_past_its_duration_refuses_its_tokens(frozen_clock, new_chat, participant_client):
    chat = new_chat(ChatDurationInMinutes=60)
    frozen_clock(HOUR)

    with pytest.raises(ClientError) as raised:
        participant_client.send_message(
            ContentType="text/plain", Content="late", ConnectionToken=chat.connection_token
        )

    assert error_of(raised)[:2] == ("AccessDeniedException", 403)


@pytest.mark.parametrize("minutes", [59, 10081])
def test_chat_duration_outside_60_to_10080_minutes_is_invalid(unvalidated_connect_client, minutes):
    with pytest.raises(ClientError) as raised:
        start_chat(unvalidated_connect_client, ChatDurationInMinutes=minutes)

    code, status, message = error_of(raised)
    assert (code, status) == ("InvalidParameterException", 400)
    assert "ChatDurationInMinutes" in message


def test_a_customer_who_never_connects_within_five_minutes_loses_the_chat(
    frozen_clock, connect_client, participant_client, control
):
    started = start_chat(connect_client)
    frozen_clock(299)
    assert _status(control, started["ContactId"]) == "ACTIVE"

    frozen_clock(1)

    with pytest.raises(ClientError) as raised:
        connect_customer(participant_client, started["ParticipantToken"])
    assert error_of(raised)[:2] == ("AccessDeniedException", 403)
    assert _status(control, started["ContactId"]) == "ENDED"


def test_a_customer_who_connects_in_time_keeps_the_chat(
    frozen_clock, connect_client, participant_client, control
):
    started = start_chat(connect_client)
    frozen_clock(299)
    connect_customer(participant_client, started["ParticipantToken"])

    frozen_clock(HOUR)

    assert _status(control, started["ContactId"]) == "ACTIVE"


def test_connection_types_at_start_count_as_connecting(frozen_clock, connect_client, control):
    started = start_chat(connect_client, ConnectionTypes=["CONNECTION_CREDENTIALS"])

    frozen_clock(HOUR)

    assert _status(control, started["ContactId"]) == "ACTIVE"


def test_the_first_connection_window_is_configurable(frozen_clock, connect_client, control):
    control.post("/config", {"first_connection_window": 10})
    started = start_chat(connect_client)

    frozen_clock(10)

    assert _status(control, started["ContactId"]) == "ENDED"


def test_a_websocket_url_opens_until_its_connection_expiry(frozen_clock, chat):
    frozen_clock(99)

    with connect(chat.websocket_url, open_timeout=WAIT):
        pass


def test_a_websocket_url_is_refused_after_its_connection_expiry(frozen_clock, chat):
    frozen_clock(100)

    with pytest.raises(InvalidStatus) as raised, connect(chat.websocket_url, open_timeout=WAIT):
        pass

    assert raised.value.response.status_code == 403


def test_moving_the_clock_past_a_token_expiry_closes_its_socket(frozen_clock, chat, open_socket):
    socket = open_socket(chat.websocket_url)
    socket.subscribe()

    frozen_clock(86400)

    assert socket.closed() == 1000


def test_the_clock_only_moves_forward(control):
    answer = control.call("POST", "/clock", {"advance": -1})

    assert answer.status == 400


def test_a_reset_puts_the_clock_back_on_the_wall_clock(frozen_clock, control):
    frozen_clock(10 * HOUR)
    control.post("/reset")

    clock = control.get("/clock")
    assert clock["frozen"] is False
    assert datetime.fromisoformat(clock["now"]).timestamp() < time.time() + HOUR
