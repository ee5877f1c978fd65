"""The emulator validates every request against the botocore model itself, so a client that
skips client-side validation still gets a ValidationException naming the field."""

import pytest
from botocore.exceptions import ClientError

from .conftest import error_of

pytestmark = pytest.mark.timeout(30)


def refused(call, **params):
    with pytest.raises(ClientError) as raised:
        call(**params)
    code, status, message = error_of(raised)
    assert (code, status) == ("ValidationException", 400), message
    return message


def test_a_missing_required_member_is_named(unvalidated_participant_client):
    message = refused(
        unvalidated_participant_client.send_message, ContentType="text/plain", ConnectionToken="t"
    )

    assert "'Content'" in message and "must not be null" in message


def test_a_missing_header_member_is_named(unvalidated_participant_client):
    message = refused(unvalidated_participant_client.get_transcript)

    assert "'ConnectionToken'" in message


def test_a_string_over_its_max_length_is_named(unvalidated_participant_client):
    message = refused(
        unvalidated_participant_client.send_message,
        ContentType="x" * 101,
        Content="hi",
        ConnectionToken="t",
    )

    assert "'ContentType'" in message and "less than or equal to 100" in message


def test_a_string_under_its_min_length_is_named(unvalidated_participant_client):
    message = refused(
        unvalidated_participant_client.send_message,
        ContentType="text/plain",
        Content="",
        ConnectionToken="t",
    )

    assert "'Content'" in message and "greater than or equal to 1" in message


def test_a_value_outside_the_enum_is_named(unvalidated_participant_client):
    message = refused(
        unvalidated_participant_client.get_transcript, ScanDirection="SIDEWAYS", ConnectionToken="t"
    )

    assert "'ScanDirection'" in message and "FORWARD" in message


def test_a_wrong_type_is_named(unvalidated_participant_client):
    message = refused(
        unvalidated_participant_client.get_transcript, MaxResults="ten", ConnectionToken="t"
    )

    assert "'MaxResults'" in message and "integer" in message


def test_a_number_outside_its_range_is_named(unvalidated_participant_client):
    message = refused(
        unvalidated_participant_client.get_attachment,
        AttachmentId="a",
        UrlExpiryInSeconds=301,
        ConnectionToken="t",
    )

    assert "'UrlExpiryInSeconds'" in message


def test_a_nested_member_is_named_by_its_path(unvalidated_participant_client):
    message = refused(
        unvalidated_participant_client.get_transcript,
        StartPosition={"MostRecent": 101},
        ConnectionToken="t",
    )

    assert "'StartPosition.MostRecent'" in message


@pytest.mark.parametrize("ids", [[], ["a", "b"]])
def test_a_list_outside_its_length_is_named(unvalidated_participant_client, ids):
    message = refused(
        unvalidated_participant_client.complete_attachment_upload,
        AttachmentIds=ids,
        ClientToken="c",
        ConnectionToken="t",
    )

    assert "'AttachmentIds'" in message


def test_a_list_member_of_the_wrong_enum_is_named(unvalidated_participant_client):
    message = refused(
        unvalidated_participant_client.create_participant_connection,
        Type=["PIGEON"],
        ParticipantToken="p",
    )

    assert "'Type[0]'" in message


def test_every_problem_is_listed(unvalidated_participant_client):
    message = refused(
        unvalidated_participant_client.send_message, ContentType="", ConnectionToken="t"
    )

    assert message.startswith("2 validation errors detected")


def test_validation_comes_before_authentication(unvalidated_participant_client):
    refused(unvalidated_participant_client.send_message, ConnectionToken="not-a-token")
