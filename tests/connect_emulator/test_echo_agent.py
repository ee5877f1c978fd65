"""The scripted echo agent: joins each new chat, then answers each customer message with
typing, an echo and a read receipt."""

import pytest

from .conftest import Conversation, connect_customer, start_chat

pytestmark = pytest.mark.timeout(30)

EVENT = "application/vnd.amazonaws.connect.event."


@pytest.fixture(autouse=True)
def echo_agent(control):
    control.post("/config", {"agent": "echo", "agent_join_delay": 0, "echo_delay": 0.01})


def follow(participant_client, open_socket, participant_token: str) -> tuple[str, Conversation]:
    """The customer connects and follows the chat; its connection token and conversation."""
    connection = connect_customer(participant_client, participant_token)
    socket = open_socket(connection["Websocket"]["Url"])
    socket.subscribe()
    token = connection["ConnectionCredentials"]["ConnectionToken"]
    return token, Conversation(socket, participant_client, token)


@pytest.fixture
def customer(connect_client, participant_client, open_socket):
    """A started chat whose customer follows it, from before or after the agent joined."""
    started = start_chat(connect_client)
    token, conversation = follow(participant_client, open_socket, started["ParticipantToken"])
    return started, token, conversation


def is_agent(kind: str, content_type: str | None = None):
    return lambda i: (
        i.get("ParticipantRole") == "AGENT"
        and i["Type"] == kind
        and (content_type is None or i["ContentType"] == content_type)
    )


def joined_agent(conversation):
    return conversation.item_where(is_agent("EVENT", EVENT + "participant.joined"))


def test_the_echo_agent_joins_each_new_chat(customer):
    _, _, conversation = customer

    joined = joined_agent(conversation)

    assert joined["DisplayName"] == "Alex (echo)"


def test_a_message_gets_typing_then_an_echo_then_a_read_receipt(customer, participant_client):
    _, token, conversation = customer
    agent = joined_agent(conversation)

    sent = participant_client.send_message(
        ContentType="text/plain", Content="Hello", ConnectionToken=token
    )

    assert conversation.item()["Id"] == sent["Id"]
    typing = conversation.item()
    echo = conversation.item()
    receipt = conversation.item()
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
    _, token, conversation = customer
    joined_agent(conversation)

    participant_client.send_message(
        ContentType="text/markdown", Content="**bold**", ConnectionToken=token
    )

    echo = conversation.item_where(is_agent("MESSAGE"))
    assert (echo["ContentType"], echo["Content"]) == ("text/markdown", "**bold**")


def test_the_initial_message_is_answered_once_the_agent_joins(
    connect_client, participant_client, open_socket, control
):
    control.post("/config", {"agent_join_delay": 0.3})
    started = start_chat(
        connect_client, InitialMessage={"ContentType": "text/plain", "Content": "Help"}
    )
    _, conversation = follow(participant_client, open_socket, started["ParticipantToken"])

    joined = joined_agent(conversation)
    echo = conversation.item_where(is_agent("MESSAGE"))

    assert echo["Content"] == "Echo: Help"
    assert echo["AbsoluteTime"] >= joined["AbsoluteTime"]


def test_messages_are_echoed_in_order(customer, participant_client):
    _, token, conversation = customer
    joined_agent(conversation)

    for text in ("one", "two", "three"):
        participant_client.send_message(
            ContentType="text/plain", Content=text, ConnectionToken=token
        )

    echoes = [conversation.item_where(is_agent("MESSAGE")) for _ in range(3)]
    assert [e["Content"] for e in echoes] == ["Echo: one", "Echo: two", "Echo: three"]


def test_with_agent_none_chats_wait(control, connect_client, participant_client, open_socket):
    control.post("/config", {"agent": "none"})
    started = start_chat(connect_client)
    _, conversation = follow(participant_client, open_socket, started["ParticipantToken"])

    control.post(f"/contacts/{started['ContactId']}/agent/join", {"display_name": "Person"})

    # No echo agent came first: the first agent to join is the person.
    assert joined_agent(conversation)["DisplayName"] == "Person"
