"""Websocket faults: delayed, duplicated and re-ordered pushes."""

import time

import pytest

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def socket(chat, open_socket):
    opened = open_socket(chat.websocket_url)
    opened.subscribe()
    return opened


def send(participant_client, chat, text):
    return participant_client.send_message(
        ContentType="text/plain", Content=text, ConnectionToken=chat.connection_token
    )["Id"]


def test_duplicate_sends_each_item_twice(control, chat, socket, participant_client):
    control.post(f"/contacts/{chat.contact_id}/websockets/faults", {"duplicate": True, "count": 1})

    first = send(participant_client, chat, "a")
    second = send(participant_client, chat, "b")

    assert [socket.item()["Id"] for _ in range(3)] == [first, first, second]


def test_reorder_swaps_pairs(control, chat, socket, participant_client):
    # The first item waits for its partner however slowly the machine sends the second.
    control.post(
        f"/contacts/{chat.contact_id}/websockets/faults",
        {"reorder": True, "reorder_hold_ms": 60_000, "count": 2},
    )

    ids = [send(participant_client, chat, text) for text in ("a", "b", "c")]

    assert [socket.item()["Id"] for _ in range(3)] == [ids[1], ids[0], ids[2]]


def test_delay_holds_each_item_back(control, chat, socket, participant_client):
    control.post(f"/contacts/{chat.contact_id}/websockets/faults", {"delay_ms": 300, "count": 1})
    started = time.monotonic()

    sent = send(participant_client, chat, "slow")

    assert socket.item()["Id"] == sent
    assert time.monotonic() - started >= 0.3


def test_websocket_faults_are_listed_until_used(control, chat, socket, participant_client):
    control.post(f"/contacts/{chat.contact_id}/websockets/faults", {"duplicate": True, "count": 1})
    (pending,) = control.get("/faults")["websockets"]
    assert pending["contact_id"] == chat.contact_id and pending["remaining"] == 1

    send(participant_client, chat, "a")

    assert control.get("/faults")["websockets"] == []


@pytest.mark.parametrize(
    "body", [{"delay_ms": -1}, {"duplicate": "yes"}, {"reorder_hold_ms": -5}, {"count": 0}]
)
def test_bad_websocket_faults_are_refused(control, chat, body):
    answer = control.call("POST", f"/contacts/{chat.contact_id}/websockets/faults", body)

    assert answer.status == 400


def test_unanswered_heartbeats_get_no_answer_then_answers_resume(control, chat, socket):
    control.post(f"/contacts/{chat.contact_id}/websockets/faults", {"unanswered_heartbeats": 2})

    for _ in range(3):
        socket.send({"topic": "aws/heartbeat"})
    socket.send({"topic": "aws/ping"})

    # Frames are answered in order: the ping's answer comes first, after the two silences.
    assert socket.frame() == {"topic": "aws/heartbeat"}
    assert socket.frame()["topic"] == "aws/ping"
