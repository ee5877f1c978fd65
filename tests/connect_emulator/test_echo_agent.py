"""The scripted echo agent: joins each new chat, then answers each customer message with
typing, an echo and a read receipt."""

import pytest

from .conftest import connect_customer, start_chat

pytestmark = pytest.mark.timeout(30)

EVENT = "application/vnd.amazonaws.connect.event."


@pytest.fixture(autouse=True)
def echo_agent(control):
    control.post("/config", {"agent": "echo", "agent_join_delay": 0.05, "echo_delay": 0.01})


@pytest.fixture
def customer(connect_client, participant_client, open_socket):
    """A started chat whose customer is subscribed before the agent can join."""
    started = start_chat(connect_client)
    connection = connect_customer(participant_client, started["ParticipantToken"])
    socket = open_socket(connection["Websocket"]["Url"])
    socket.subscribe()
    token = connection["ConnectionCredentials"]["ConnectionToken"]
    return started, token, socket


def joined_agent(socket):
    return socket.item_where(lambda i: i["ContentType"] == EVENT + "participant.joined")


def test_the_echo_agent_joins_each_new_chat(customer):
    _, _, socket = customer

    joined = joined_agent(socket)

    assert joined["ParticipantRole"] == "AGENT"
    assert joined["DisplayName"] == "Alex (echo)"


def test_a_message_gets_typing_then_an_echo_then_a_read_receipt(customer, participant_client):
    _, token, socket = customer
    agent = joined_agent(socket)

    sent = participant_client.send_message(
        ContentType="text/plain", Content="Hello", ConnectionToken=token
    )

    assert socket.item()["Id"] == sent["Id"]
    typing = socket.item()
    echo = socket.item()
    receipt = socket.item()
    assert (typing["ContentType"], typing["ParticipantId"]) == (
        EVENT + "typing",
        agent["ParticipantId"],
    )
    assert (echo["Type"], echo["Content"], echo["ParticipantRole"]) == (
        "MESSAGE",
        "Echo: Hello",
        "AGENT",
    )
    assert receipt["Type"] == "MESSAGEMETADATA"
    assert receipt["MessageMetadata"]["MessageId"] == sent["Id"]
    assert (
        receipt["MessageMetadata"]["Receipts"][0]["RecipientParticipantId"]
        == (agent["ParticipantId"])
    )
    assert receipt["MessageMetadata"]["Receipts"][0]["ReadTimestamp"]


def test_non_plain_text_is_echoed_unchanged_with_its_content_type(customer, participant_client):
    _, token, socket = customer
    joined_agent(socket)

    participant_client.send_message(
        ContentType="text/markdown", Content="**bold**", ConnectionToken=token
    )

    echo = socket.item_where(lambda i: i["Type"] == "MESSAGE" and i["ParticipantRole"] == "AGENT")
    assert (echo["ContentType"], echo["Content"]) == ("text/markdown", "**bold**")


def test_the_initial_message_is_answered_once_the_agent_joins(
    connect_client, participant_client, open_socket, control
):
    control.post("/config", {"agent_join_delay": 0.3})
    started = start_chat(
        connect_client, InitialMessage={"ContentType": "text/plain", "Content": "Help"}
    )
    url = connect_customer(participant_client, started["ParticipantToken"])["Websocket"]["Url"]
    socket = open_socket(url)
    socket.subscribe()

    echo = socket.item_where(lambda i: i["Type"] == "MESSAGE")

    assert echo["Content"] == "Echo: Help"


def test_messages_are_echoed_in_order(customer, participant_client):
    _, token, socket = customer
    joined_agent(socket)

    for text in ("one", "two", "three"):
        participant_client.send_message(
            ContentType="text/plain", Content=text, ConnectionToken=token
        )

    echoes = [
        socket.item_where(lambda i: i["Type"] == "MESSAGE" and i["ParticipantRole"] == "AGENT")
        for _ in range(3)
    ]
    assert [e["Content"] for e in echoes] == ["Echo: one", "Echo: two", "Echo: three"]


def test_with_agent_none_chats_wait(control, connect_client, participant_client, open_socket):
    control.post("/config", {"agent": "none"})
    started = start_chat(connect_client)
    url = connect_customer(participant_client, started["ParticipantToken"])["Websocket"]["Url"]
    socket = open_socket(url)
    socket.subscribe()

    control.post(f"/contacts/{started['ContactId']}/agent/join", {"display_name": "Person"})

    assert socket.item()["DisplayName"] == "Person"  # no echo agent came first
