"""Connect's default service quotas: a token bucket per rate-limited operation, concurrent
active chats per instance and websockets per participant; configurable, and off on demand.
The emulator's clock is frozen in every rate test, so refills happen only when a test moves
it."""

import contextlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .conftest import (
    ROOT,
    WAIT,
    client,
    connect_customer,
    error_of,
    start_chat,
    start_emulator,
    stop_emulator,
)

pytestmark = pytest.mark.timeout(60)

Call = Callable[[Any, Any, Any], Any]


def _send_message(participant, connect_client, chat):
    return participant.send_message(
        ContentType="text/plain", Content="hi", ConnectionToken=chat.connection_token
    )


def _send_event(participant, connect_client, chat):
    return participant.send_event(
        ContentType="application/vnd.amazonaws.connect.event.typing",
        ConnectionToken=chat.connection_token,
    )


def _create_connection(participant, connect_client, chat):
    return connect_customer(participant, chat.participant_token)


def _get_transcript(participant, connect_client, chat):
    return participant.get_transcript(ConnectionToken=chat.connection_token)


def _disconnect(participant, connect_client, chat):
    # Only the first call succeeds (the chat then ends), but every call spends a token.
    return participant.disconnect_participant(ConnectionToken=chat.connection_token)


def _start_upload(participant, connect_client, chat):
    return participant.start_attachment_upload(
        ContentType="application/pdf",
        AttachmentSizeInBytes=10,
        AttachmentName="a.pdf",
        ConnectionToken=chat.connection_token,
    )


def _complete_upload(participant, connect_client, chat):
    return participant.complete_attachment_upload(
        AttachmentIds=["nope"], ConnectionToken=chat.connection_token
    )


def _start_chat(participant, connect_client, chat):
    return start_chat(connect_client)


# operation, call, burst, the error code of a call over the rate
RATES = [
    ("SendMessage", _send_message, 15, "ThrottlingException"),
    ("SendEvent", _send_event, 15, "ThrottlingException"),
    ("CreateParticipantConnection", _create_connection, 9, "ThrottlingException"),
    ("GetTranscript", _get_transcript, 12, "ThrottlingException"),
    ("DisconnectParticipant", _disconnect, 5, "ThrottlingException"),
    ("StartAttachmentUpload", _start_upload, 5, "ThrottlingException"),
    ("CompleteAttachmentUpload", _complete_upload, 5, "ThrottlingException"),
    ("StartChatContact", _start_chat, 8, "TooManyRequestsException"),
]


def _outcome(call: Call, participant, connect_client, chat) -> str:
    """``ok`` or the error code of one call."""
    try:
        call(participant, connect_client, chat)
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "ok"


@pytest.fixture
def full_buckets(chat, control):
    """Every bucket full again once the chat is made (making it spent some tokens)."""
    control.post("/config", {"max_attachments": 100})
    control.post("/quotas", {})


@pytest.mark.parametrize(("operation", "call", "burst", "code"), RATES, ids=[r[0] for r in RATES])
def test_each_operation_takes_its_burst_then_is_throttled(
    operation, call, burst, code, frozen_clock, chat, full_buckets, participant_client,
    connect_client
):  # fmt: skip
    outcomes = [_outcome(call, participant_client, connect_client, chat) for _ in range(burst)]

    with pytest.raises(ClientError) as raised:
        call(participant_client, connect_client, chat)

    assert code not in outcomes
    assert error_of(raised) == (code, 429, "Rate exceeded")


@pytest.mark.parametrize(
    ("operation", "per_second", "call"),
    [("SendMessage", 10, _send_message), ("StartChatContact", 5, _start_chat)],
)
def test_an_empty_bucket_refills_at_the_operations_rate(
    operation, per_second, call, frozen_clock, chat, participant_client, connect_client, control
):
    control.post("/quotas", {"limits": {operation: f"{per_second}/1"}})
    call(participant_client, connect_client, chat)
    frozen_clock(0.9 / per_second)

    with pytest.raises(ClientError):
        call(participant_client, connect_client, chat)
    frozen_clock(0.2 / per_second)
    call(participant_client, connect_client, chat)


def test_throttling_one_operation_leaves_the_others_alone(
    frozen_clock, chat, participant_client, connect_client
):
    for _ in range(15):
        _send_message(participant_client, connect_client, chat)
    with pytest.raises(ClientError):
        _send_message(participant_client, connect_client, chat)

    assert _send_event(participant_client, connect_client, chat)["Id"]


def test_quotas_off_never_throttle(frozen_clock, chat, participant_client, connect_client, control):
    control.post("/quotas", {"enabled": False})

    for _ in range(40):
        _send_message(participant_client, connect_client, chat)


def test_a_rate_is_configurable_through_the_control_api(
    frozen_clock, chat, participant_client, connect_client, control
):
    answer = control.post("/quotas", {"limits": {"SendMessage": "1/2"}})
    _send_message(participant_client, connect_client, chat)
    _send_message(participant_client, connect_client, chat)

    with pytest.raises(ClientError) as raised:
        _send_message(participant_client, connect_client, chat)

    assert answer["rates"]["SendMessage"] == "1/2"
    assert error_of(raised)[0] == "ThrottlingException"


def test_the_defaults_are_aws_defaults_and_a_reset_restores_them(control):
    control.post("/quotas", {"enabled": False, "limits": {"ActiveChats": 1}})
    control.post("/reset")

    quotas = control.get("/quotas")

    assert quotas["enabled"] is True
    assert quotas["rates"] == {
        "SendMessage": "10/15",
        "SendEvent": "10/15",
        "CreateParticipantConnection": "6/9",
        "GetTranscript": "8/12",
        "DisconnectParticipant": "3/5",
        "StartAttachmentUpload": "2/5",
        "CompleteAttachmentUpload": "2/5",
        "StartChatContact": "5/8",
    }
    assert quotas["counts"] == {"ActiveChats": 500, "WebsocketsPerParticipant": 5}


@pytest.mark.parametrize(
    "body",
    [
        {"limits": {"SendMessage": "fast"}},
        {"limits": {"SendMessage": "0/5"}},
        {"limits": {"Nope": "1/1"}},
        {"limits": {"ActiveChats": -1}},
        {"enabled": "yes"},
        {"colour": "blue"},
    ],
)
def test_a_bad_quota_is_refused(control, body):
    answer = control.call("POST", "/quotas", body)

    assert answer.status == 400
    assert answer.body["error"]


def test_active_chats_beyond_the_quota_are_limit_exceeded(connect_client, control):
    control.post("/quotas", {"limits": {"ActiveChats": 2}})
    start_chat(connect_client)
    start_chat(connect_client)

    with pytest.raises(ClientError) as raised:
        start_chat(connect_client)

    assert error_of(raised)[:2] == ("LimitExceededException", 429)


def test_an_ended_chat_frees_its_place_among_the_active_chats(connect_client, control):
    control.post("/quotas", {"limits": {"ActiveChats": 1}})
    first = start_chat(connect_client)
    connect_client.stop_contact(InstanceId="instance-1", ContactId=first["ContactId"])

    assert start_chat(connect_client)["ContactId"]


def test_active_chats_count_per_instance(connect_client, control):
    control.post("/quotas", {"limits": {"ActiveChats": 1}})
    start_chat(connect_client)

    assert start_chat(connect_client, InstanceId="instance-2")["ContactId"]


def _open(url: str) -> Any:
    return connect(url, open_timeout=WAIT)


def test_a_participant_may_hold_five_websockets(chat, control):
    with contextlib.ExitStack() as stack:
        for _ in range(5):
            stack.enter_context(_open(chat.websocket_url))
        with pytest.raises(InvalidStatus) as raised, _open(chat.websocket_url):
            pass

    assert raised.value.response.status_code == 403


def test_websockets_per_participant_is_configurable(chat, control):
    control.post("/quotas", {"limits": {"WebsocketsPerParticipant": 1}})
    with _open(chat.websocket_url), pytest.raises(InvalidStatus), _open(chat.websocket_url):
        pass


def test_the_websocket_limit_is_per_participant(new_chat, control):
    control.post("/quotas", {"limits": {"WebsocketsPerParticipant": 1}})
    first, second = new_chat(), new_chat()

    with _open(first.websocket_url), _open(second.websocket_url) as other:
        other.send(json.dumps({"topic": "aws/ping"}))
        assert json.loads(other.recv(timeout=WAIT))["statusCode"] == 200


def _quotas_of(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_emulator/quotas", timeout=10) as response:
        return json.loads(response.read())


def test_the_cli_sets_a_quota():
    emulator = start_emulator("--agent", "none", "--quota", "SendMessage=1/1")
    try:
        participant = client("connectparticipant", emulator.url)
        connect_client = client("connect", emulator.url)
        started = start_chat(connect_client)
        token = connect_customer(participant, started["ParticipantToken"])
        token = token["ConnectionCredentials"]["ConnectionToken"]
        participant.send_message(ContentType="text/plain", Content="1", ConnectionToken=token)
        with pytest.raises(ClientError) as raised:
            participant.send_message(ContentType="text/plain", Content="2", ConnectionToken=token)
        assert error_of(raised)[0] == "ThrottlingException"
        assert _quotas_of(emulator.url)["rates"]["SendMessage"] == "1/1"
    finally:
        stop_emulator(emulator)


def test_the_cli_turns_quotas_off():
    emulator = start_emulator("--agent", "none", "--quotas", "off")
    try:
        assert _quotas_of(emulator.url)["enabled"] is False
    finally:
        stop_emulator(emulator)


def test_quotas_are_on_without_options():
    emulator = start_emulator("--agent", "none")
    try:
        assert _quotas_of(emulator.url)["enabled"] is True
    finally:
        stop_emulator(emulator)


def test_the_cli_refuses_an_unknown_quota():
    result = subprocess.run(
        [sys.executable, "-m", "connect_emulator", "--port", "0", "--quota", "Nope=1/1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "unknown quota 'Nope'" in result.stderr


def test_chatbridge_tests_run_the_emulator_without_quotas(emulator_server):
    assert _quotas_of(emulator_server.url)["enabled"] is False


def test_calls_are_counted_admitted_or_throttled(frozen_clock, chat, control, participant_client):
    control.post("/quotas", {"limits": {"GetTranscript": "1/1"}})
    before = control.get("/quotas")["calls"].get("GetTranscript", {"admitted": 0, "throttled": 0})
    _get_transcript(participant_client, None, chat)
    with pytest.raises(ClientError):
        _get_transcript(participant_client, None, chat)

    after = control.get("/quotas")["calls"]["GetTranscript"]
    assert after == {
        "admitted": before["admitted"] + 1,
        "throttled": before["throttled"] + 1,
    }


def test_a_contact_shows_its_websocket_peak_and_refusals(chat, control):
    control.post("/quotas", {"limits": {"WebsocketsPerParticipant": 2}})
    with (
        _open(chat.websocket_url),
        _open(chat.websocket_url),
        pytest.raises(InvalidStatus),
        _open(chat.websocket_url),
    ):
        pass

    contact = control.get(f"/contacts/{chat.contact_id}")
    assert (contact["websocket_peak"], contact["websockets_refused"]) == (2, 1)
