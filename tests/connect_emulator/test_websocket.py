"""The participant websocket, frame by frame, as Connect speaks it."""

import json
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .conftest import connect_customer, start_chat

pytestmark = pytest.mark.timeout(30)

EVENT = "application/vnd.amazonaws.connect.event."


@pytest.fixture
def socket(chat, open_socket):
    """The customer's socket, subscribed to aws/chat."""
    opened = open_socket(chat.websocket_url)
    opened.subscribe()
    return opened


def test_subscribe_is_answered_with_success(chat, open_socket):
    socket = open_socket(chat.websocket_url)

    answer = socket.subscribe()

    assert answer == {
        "topic": "aws/subscribe",
        "content": {"status": "success", "topics": ["aws/chat"]},
    }


def test_heartbeat_is_answered(socket):
    socket.send({"topic": "aws/heartbeat"})

    assert socket.frame() == {"topic": "aws/heartbeat"}


def test_ping_is_answered(socket):
    socket.send({"topic": "aws/ping"})

    assert socket.frame() == {"topic": "aws/ping", "statusCode": 200, "statusContent": "OK"}


@pytest.mark.parametrize(
    "frame", ["not json", "[1, 2]", '{"topic": "aws/nothing"}', '{"content": {}}']
)
def test_a_malformed_frame_is_answered_and_the_socket_stays_open(socket, frame):
    socket.send(frame)

    assert "message" in socket.frame()
    socket.send({"topic": "aws/heartbeat"})
    assert socket.frame() == {"topic": "aws/heartbeat"}


def test_a_subscribe_without_aws_chat_is_an_error(chat, open_socket):
    socket = open_socket(chat.websocket_url)
    socket.send({"topic": "aws/subscribe", "content": {"topics": ["other"]}})

    assert "message" in socket.frame()


def test_own_messages_are_pushed_as_aws_chat_frames(chat, socket, participant_client):
    sent = participant_client.send_message(
        ContentType="text/plain", Content="Hello", ConnectionToken=chat.connection_token
    )

    frame = socket.frame()
    assert frame["topic"] == "aws/chat"
    assert frame["contentType"] == "application/json"
    item = json.loads(frame["content"])
    assert item["Id"] == sent["Id"]
    assert item["Type"] == "MESSAGE"
    assert item["Content"] == "Hello"
    assert item["ParticipantId"] == chat.participant_id
    assert item["ContactId"] == item["InitialContactId"] == chat.contact_id


def test_own_typing_is_pushed(chat, socket, participant_client):
    participant_client.send_event(
        ContentType=EVENT + "typing", ConnectionToken=chat.connection_token
    )

    item = socket.item()
    assert item["Type"] == "EVENT"
    assert item["ContentType"] == EVENT + "typing"
    assert item["ParticipantRole"] == "CUSTOMER"


def test_agent_items_of_every_kind_are_pushed(chat, socket, control):
    contact = f"/contacts/{chat.contact_id}"
    control.post(contact + "/agent/join", {"display_name": "Bea"})
    control.post(contact + "/agent/typing")
    message = control.post(contact + "/agent/message", {"content": "Hi"})
    control.post(contact + "/transfer")
    control.post(contact + "/end")

    kinds = [(item["Type"], item["ContentType"]) for item in (socket.item() for _ in range(8))]
    assert kinds == [
        ("EVENT", EVENT + "participant.joined"),
        ("EVENT", EVENT + "typing"),
        ("MESSAGE", "text/plain"),
        ("EVENT", EVENT + "transfer.succeeded"),
        ("EVENT", EVENT + "participant.left"),
        ("EVENT", EVENT + "participant.joined"),
        ("EVENT", EVENT + "participant.left"),
        ("EVENT", EVENT + "chat.ended"),
    ]
    assert message["Type"] == "MESSAGE"


def test_receipts_are_pushed_as_message_metadata(chat, socket, control, participant_client):
    control.post(f"/contacts/{chat.contact_id}/agent/join")
    sent = participant_client.send_message(
        ContentType="text/plain", Content="Hello", ConnectionToken=chat.connection_token
    )
    control.post(
        f"/contacts/{chat.contact_id}/agent/receipt", {"message_id": sent["Id"], "kind": "read"}
    )

    item = socket.item_where(lambda i: i["Type"] == "MESSAGEMETADATA")
    assert item["ContentType"] == EVENT + "message.metadata"
    assert item["MessageMetadata"]["MessageId"] == sent["Id"]
    assert item["MessageMetadata"]["Receipts"][0]["ReadTimestamp"]


def test_attachments_and_connection_acks_are_pushed(chat, socket, participant_client):
    participant_client.send_event(
        ContentType=EVENT + "connection.acknowledged", ConnectionToken=chat.connection_token
    )
    upload = participant_client.start_attachment_upload(
        ContentType="text/plain",
        AttachmentSizeInBytes=2,
        AttachmentName="a.txt",
        ConnectionToken=chat.connection_token,
    )
    urllib.request.urlopen(
        urllib.request.Request(
            upload["UploadMetadata"]["Url"],
            data=b"hi",
            method="PUT",
            headers=upload["UploadMetadata"]["HeadersToInclude"],
        ),
        timeout=10,
    )
    participant_client.complete_attachment_upload(
        AttachmentIds=[upload["AttachmentId"]],
        ClientToken="c",
        ConnectionToken=chat.connection_token,
    )

    assert socket.item()["Type"] == "CONNECTION_ACK"
    attachment = socket.item()
    assert attachment["Type"] == "ATTACHMENT"
    assert attachment["Attachments"][0]["AttachmentName"] == "a.txt"


def test_items_before_subscribing_are_not_pushed(chat, open_socket, participant_client):
    socket = open_socket(chat.websocket_url)
    participant_client.send_message(
        ContentType="text/plain", Content="early", ConnectionToken=chat.connection_token
    )
    socket.subscribe()

    participant_client.send_message(
        ContentType="text/plain", Content="late", ConnectionToken=chat.connection_token
    )

    assert socket.item()["Content"] == "late"


def test_every_subscribed_socket_of_the_contact_gets_each_item(
    chat, socket, open_socket, participant_client
):
    second_url = connect_customer(participant_client, chat.participant_token)["Websocket"]["Url"]
    second = open_socket(second_url)
    second.subscribe()

    participant_client.send_message(
        ContentType="text/plain", Content="both", ConnectionToken=chat.connection_token
    )

    assert socket.item()["Content"] == "both"
    assert second.item()["Content"] == "both"


def test_an_expired_url_is_refused_with_403(
    frozen_clock, control, connect_client, participant_client
):
    control.post("/config", {"websocket_url_ttl": 5})
    started = start_chat(connect_client)
    url = connect_customer(participant_client, started["ParticipantToken"])["Websocket"]["Url"]
    # The configured window has passed on the emulator's clock, however fast this machine is.
    frozen_clock(5)

    with pytest.raises(InvalidStatus) as raised, connect(url, open_timeout=5):
        pass

    assert raised.value.response.status_code == 403


def test_an_unknown_url_token_is_refused_with_403(emulator_process):
    url = emulator_process.url.replace("http", "ws") + "/connection?X-Amz-Security-Token=nope"

    with pytest.raises(InvalidStatus) as raised, connect(url, open_timeout=5):
        pass

    assert raised.value.response.status_code == 403


def test_the_socket_closes_when_its_token_is_expired(chat, socket, control):
    control.post(f"/contacts/{chat.contact_id}/expire-connection-tokens")

    assert socket.closed() == 1000


def test_the_socket_closes_after_the_chat_ended_event(chat, socket, control):
    control.post(f"/contacts/{chat.contact_id}/end")

    assert socket.item()["ContentType"] == EVENT + "chat.ended"
    assert socket.closed() == 1000


def test_an_unsubscribed_socket_also_closes_when_the_chat_ends(chat, open_socket, control):
    socket = open_socket(chat.websocket_url)

    control.post(f"/contacts/{chat.contact_id}/end")

    assert socket.closed() == 1000


def test_a_socket_cannot_open_after_the_chat_ended(chat, control):
    control.post(f"/contacts/{chat.contact_id}/end")

    with pytest.raises(InvalidStatus) as raised, connect(chat.websocket_url, open_timeout=5):
        pass

    assert raised.value.response.status_code == 403
