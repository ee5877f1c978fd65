"""Attachments: StartAttachmentUpload, the PUT to the upload URL, CompleteAttachmentUpload,
GetAttachment and the download, with Connect's limits."""

import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from .conftest import error_of

pytestmark = pytest.mark.timeout(30)

DATA = b"%PDF-1.4 not really a pdf\n" * 10
SIZE = len(DATA)


def start(participant_client, chat, name="report.pdf", size=SIZE, **extra):
    params = {
        "ContentType": "application/pdf",
        "AttachmentSizeInBytes": size,
        "AttachmentName": name,
        "ConnectionToken": chat.connection_token,
        **extra,
    }
    return participant_client.start_attachment_upload(**params)


def put(upload, data=DATA, headers=None):
    metadata = upload["UploadMetadata"]
    request = urllib.request.Request(
        metadata["Url"],
        data=data,
        method="PUT",
        headers=metadata["HeadersToInclude"] if headers is None else headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def complete(participant_client, chat, upload, client_token="complete-1"):
    return participant_client.complete_attachment_upload(
        AttachmentIds=[upload["AttachmentId"]],
        ClientToken=client_token,
        ConnectionToken=chat.connection_token,
    )


@pytest.fixture
def uploaded(chat, participant_client):
    upload = start(participant_client, chat)
    assert put(upload) == 200
    complete(participant_client, chat, upload)
    return upload


def test_start_gives_an_upload_url_with_headers_to_include(chat, participant_client):
    upload = start(participant_client, chat)

    metadata = upload["UploadMetadata"]
    assert upload["AttachmentId"]
    assert "/_emulator/uploads/" in metadata["Url"]
    assert metadata["UrlExpiry"].endswith("Z")
    assert metadata["HeadersToInclude"]["Content-Type"] == "application/pdf"


def test_a_round_trip_returns_the_same_bytes(chat, participant_client, uploaded):
    answer = participant_client.get_attachment(
        AttachmentId=uploaded["AttachmentId"], ConnectionToken=chat.connection_token
    )

    assert answer["AttachmentSizeInBytes"] == len(DATA)
    assert answer["UrlExpiry"].endswith("Z")
    with urllib.request.urlopen(answer["Url"], timeout=10) as response:
        assert response.read() == DATA
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["Content-Disposition"].startswith("attachment")


def test_inline_disposition_is_honoured(chat, participant_client, uploaded):
    answer = participant_client.get_attachment(
        AttachmentId=uploaded["AttachmentId"],
        UrlContentDisposition="INLINE",
        ConnectionToken=chat.connection_token,
    )

    with urllib.request.urlopen(answer["Url"], timeout=10) as response:
        assert response.headers["Content-Disposition"].startswith("inline")


def test_completing_adds_an_attachment_item(chat, participant_client, control, uploaded):
    item = control.items(chat.contact_id)[-1]

    assert item["Type"] == "ATTACHMENT"
    assert item["ParticipantId"] == chat.participant_id
    assert item["Attachments"] == [
        {
            "ContentType": "application/pdf",
            "AttachmentId": uploaded["AttachmentId"],
            "AttachmentName": "report.pdf",
            "Status": "APPROVED",
        }
    ]


def test_the_other_participant_can_download_it(chat, participant_client, control, uploaded):
    transcript = participant_client.get_transcript(ConnectionToken=chat.connection_token)
    assert transcript["Transcript"][0]["Attachments"][0]["AttachmentId"] == uploaded["AttachmentId"]


def test_a_put_without_the_signed_headers_is_refused(chat, participant_client):
    upload = start(participant_client, chat)

    assert put(upload, headers={"Content-Type": "application/pdf"}) == 403


def test_a_put_of_the_wrong_size_is_refused(chat, participant_client):
    upload = start(participant_client, chat)

    assert put(upload, data=DATA + b"more") == 400


def test_a_put_with_a_forged_signature_is_refused(chat, participant_client):
    upload = start(participant_client, chat)
    upload["UploadMetadata"]["Url"] = upload["UploadMetadata"]["Url"].replace("sig=", "sig=0")

    assert put(upload) == 403


def test_completing_before_the_upload_is_a_conflict(chat, participant_client):
    upload = start(participant_client, chat)

    with pytest.raises(ClientError) as raised:
        complete(participant_client, chat, upload)

    assert error_of(raised)[:2] == ("ConflictException", 409)


def test_completing_twice_with_the_same_client_token_adds_one_item(
    chat, participant_client, control, uploaded
):
    complete(participant_client, chat, uploaded)

    items = [i for i in control.items(chat.contact_id) if i["Type"] == "ATTACHMENT"]
    assert len(items) == 1


def test_the_same_client_token_starts_one_upload(chat, participant_client):
    first = start(participant_client, chat, ClientToken="same")
    second = start(participant_client, chat, ClientToken="same")

    assert first["AttachmentId"] == second["AttachmentId"]


@pytest.mark.parametrize("name", ["virus.exe", "noextension", "archive.zip"])
def test_unsupported_extensions_are_refused(chat, participant_client, name):
    with pytest.raises(ClientError) as raised:
        start(participant_client, chat, name=name)

    assert error_of(raised)[:2] == ("ValidationException", 400)


@pytest.mark.parametrize("name", ["a.csv", "b.DOCX", "c.heic", "d.jfif", "e.mov", "f.xlsx"])
def test_supported_extensions_are_accepted(chat, participant_client, name):
    assert start(participant_client, chat, name=name)["AttachmentId"]


def test_20_mb_is_the_limit(chat, participant_client):
    assert start(participant_client, chat, size=20971520)["AttachmentId"]

    with pytest.raises(ClientError) as raised:
        start(participant_client, chat, size=20971521)

    assert error_of(raised)[:2] == ("ValidationException", 400)


def test_too_many_attachments_exceed_the_quota(chat, participant_client, control):
    control.post("/config", {"max_attachments": 2})
    start(participant_client, chat)
    start(participant_client, chat)

    with pytest.raises(ClientError) as raised:
        start(participant_client, chat)

    assert error_of(raised)[:2] == ("ServiceQuotaExceededException", 402)


def test_an_unknown_attachment_is_a_validation_error(chat, participant_client):
    with pytest.raises(ClientError) as raised:
        participant_client.get_attachment(
            AttachmentId="nope", ConnectionToken=chat.connection_token
        )

    assert error_of(raised)[:2] == ("ValidationException", 400)
