"""Errors as AWS sends them: the model's status, x-amzn-ErrorType and a JSON message, so
botocore raises ClientError with the right code. Injected faults exercise throttling and
server errors on every operation."""

import json
import urllib.error
import urllib.request

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from .conftest import client, error_of

pytestmark = pytest.mark.timeout(30)


def test_an_error_carries_the_error_type_header_and_a_json_message(emulator_process):
    request = urllib.request.Request(
        emulator_process.url + "/participant/transcript",
        data=b"{}",
        method="POST",
        headers={"X-Amz-Bearer": "not-a-token", "Content-Type": "application/json"},
    )

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)

    assert raised.value.code == 403
    assert raised.value.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    body = json.loads(raised.value.read())
    assert body["message"] == body["Message"]


def test_a_body_that_is_not_json_is_a_validation_error(emulator_process):
    request = urllib.request.Request(
        emulator_process.url + "/participant/message",
        data=b"{not json",
        method="POST",
        headers={"X-Amz-Bearer": "t"},
    )

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)

    assert raised.value.code == 400
    assert raised.value.headers["x-amzn-ErrorType"] == "ValidationException"


def test_an_unknown_path_is_not_found(emulator_process):
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(emulator_process.url + "/participant/nothing", timeout=10)

    assert raised.value.code == 404


@pytest.mark.parametrize(
    "operation",
    [
        "CreateParticipantConnection",
        "SendMessage",
        "SendEvent",
        "GetTranscript",
        "DisconnectParticipant",
        "StartAttachmentUpload",
        "CompleteAttachmentUpload",
        "GetAttachment",
        "DescribeView",
        "GetAuthenticationUrl",
        "CancelParticipantAuthentication",
    ],
)
@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [("throttle", "ThrottlingException", 429), ("error", "InternalServerException", 500)],
)
def test_faults_answer_every_participant_operation(
    control, participant_client, operation, kind, code, status
):
    control.post("/faults", {"operation": operation, "kind": kind, "count": 1})
    params = {
        "CreateParticipantConnection": {"ParticipantToken": "p", "Type": ["WEBSOCKET"]},
        "SendMessage": {"ContentType": "text/plain", "Content": "x"},
        "SendEvent": {"ContentType": "application/vnd.amazonaws.connect.event.typing"},
        "GetTranscript": {},
        "DisconnectParticipant": {},
        "StartAttachmentUpload": {
            "ContentType": "text/plain",
            "AttachmentSizeInBytes": 1,
            "AttachmentName": "a.txt",
        },
        "CompleteAttachmentUpload": {"AttachmentIds": ["a"]},
        "GetAttachment": {"AttachmentId": "a"},
        "DescribeView": {"ViewToken": "v"},
        "GetAuthenticationUrl": {"SessionId": "s" * 36, "RedirectUri": "https://x"},
        "CancelParticipantAuthentication": {"SessionId": "s" * 36},
    }[operation]
    if operation != "CreateParticipantConnection":
        params["ConnectionToken"] = "t"
    method = getattr(participant_client, xform_name(operation))

    with pytest.raises(ClientError) as raised:
        method(**params)

    assert error_of(raised)[:2] == (code, status)


def test_a_fault_answers_only_its_count_of_calls(chat, control, participant_client):
    control.post("/faults", {"operation": "GetTranscript", "kind": "throttle", "count": 2})

    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            participant_client.get_transcript(ConnectionToken=chat.connection_token)
        assert error_of(raised)[0] == "ThrottlingException"

    assert participant_client.get_transcript(ConnectionToken=chat.connection_token)
    assert control.get("/faults")["api"] == []


def test_a_fault_touches_only_its_operation(chat, control, participant_client):
    control.post("/faults", {"operation": "SendMessage", "kind": "error", "count": 1})

    assert participant_client.get_transcript(ConnectionToken=chat.connection_token)


def test_botocore_retries_through_a_single_throttle(chat, control, emulator_process):
    retrying = client("connectparticipant", emulator_process.url, retries={"max_attempts": 3})
    control.post("/faults", {"operation": "GetTranscript", "kind": "throttle", "count": 1})

    answer = retrying.get_transcript(ConnectionToken=chat.connection_token)

    assert answer["ResponseMetadata"]["RetryAttempts"] == 1


def test_describe_view_is_not_found(chat, participant_client):
    with pytest.raises(ClientError) as raised:
        participant_client.describe_view(ViewToken="view", ConnectionToken=chat.connection_token)

    assert error_of(raised)[:2] == ("ResourceNotFoundException", 404)


def test_get_authentication_url_has_no_session(chat, participant_client):
    with pytest.raises(ClientError) as raised:
        participant_client.get_authentication_url(
            SessionId="0" * 36,
            RedirectUri="https://example.com",
            ConnectionToken=chat.connection_token,
        )

    assert error_of(raised)[:2] == ("ValidationException", 400)


def test_cancel_participant_authentication_has_no_session(chat, participant_client):
    with pytest.raises(ClientError) as raised:
        participant_client.cancel_participant_authentication(
            SessionId="0" * 36, ConnectionToken=chat.connection_token
        )

    assert error_of(raised)[:2] == ("ValidationException", 400)


def test_the_view_and_authentication_calls_still_check_the_token(participant_client):
    with pytest.raises(ClientError) as raised:
        participant_client.describe_view(ViewToken="view", ConnectionToken="not-a-token")

    assert error_of(raised)[:2] == ("AccessDeniedException", 403)
