"""Persistent chat: StartChatContact's PersistentChat continues an ended chat, and
GetTranscript carries the past session's items with the contact each was sent on."""

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Chat, error_of

pytestmark = pytest.mark.timeout(30)

MESSAGE = "MESSAGE"


def _say(participant_client, chat: Chat, text: str) -> None:
    participant_client.send_message(
        ContentType="text/plain", Content=text, ConnectionToken=chat.connection_token
    )


def _ended_chat(new_chat, participant_client, text: str, **extra: Any) -> Chat:
    chat = new_chat(**extra)
    _say(participant_client, chat, text)
    participant_client.disconnect_participant(ConnectionToken=chat.connection_token)
    return chat


def _persistent(kind: str, source: str) -> dict[str, Any]:
    return {"PersistentChat": {"RehydrationType": kind, "SourceContactId": source}}


def _transcript(participant_client, chat: Chat) -> list[dict[str, Any]]:
    return participant_client.get_transcript(
        ConnectionToken=chat.connection_token, SortOrder="ASCENDING", MaxResults=100
    )["Transcript"]


def _messages(items: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    return [
        (i["Content"], i.get("ContactId"), i.get("RelatedContactId"))
        for i in items
        if i["Type"] == MESSAGE
    ]


def test_from_segment_answers_the_contact_it_continues(
    new_chat, participant_client, connect_client
):
    past = _ended_chat(new_chat, participant_client, "before")

    started = connect_client.start_chat_contact(
        InstanceId="instance-1",
        ContactFlowId="flow-1",
        ParticipantDetails={"DisplayName": "Ann"},
        **_persistent("FROM_SEGMENT", past.contact_id),
    )

    assert started["ContinuedFromContactId"] == past.contact_id


def test_past_items_carry_their_contact_as_related_contact_id(new_chat, participant_client):
    past = _ended_chat(new_chat, participant_client, "before")
    chat = new_chat(**_persistent("FROM_SEGMENT", past.contact_id))
    _say(participant_client, chat, "after")

    assert _messages(_transcript(participant_client, chat)) == [
        ("before", None, past.contact_id),
        ("after", chat.contact_id, None),
    ]


def test_past_items_keep_their_ids(new_chat, participant_client, control):
    past = _ended_chat(new_chat, participant_client, "before")
    past_ids = [item["Id"] for item in control.items(past.contact_id)]
    chat = new_chat(**_persistent("FROM_SEGMENT", past.contact_id))

    items = _transcript(participant_client, chat)

    assert [i["Id"] for i in items if "RelatedContactId" in i] == past_ids


def test_the_transcript_names_the_new_contact_as_initial_contact(new_chat, participant_client):
    past = _ended_chat(new_chat, participant_client, "before")
    chat = new_chat(**_persistent("FROM_SEGMENT", past.contact_id))

    answer = participant_client.get_transcript(ConnectionToken=chat.connection_token)

    assert answer["InitialContactId"] == chat.contact_id


def test_entire_past_session_carries_every_earlier_chat(new_chat, participant_client):
    first = _ended_chat(new_chat, participant_client, "one")
    second = _ended_chat(
        new_chat, participant_client, "two", **_persistent("FROM_SEGMENT", first.contact_id)
    )
    chat = new_chat(**_persistent("ENTIRE_PAST_SESSION", second.contact_id))

    assert _messages(_transcript(participant_client, chat)) == [
        ("one", None, first.contact_id),
        ("two", None, second.contact_id),
    ]


def test_get_transcript_accepts_a_past_contact_of_the_chain(new_chat, participant_client):
    past = _ended_chat(new_chat, participant_client, "before")
    chat = new_chat(**_persistent("FROM_SEGMENT", past.contact_id))

    answer = participant_client.get_transcript(
        ConnectionToken=chat.connection_token, ContactId=past.contact_id
    )

    assert answer["Transcript"]


@pytest.mark.parametrize("kind", ["FROM_SEGMENT", "ENTIRE_PAST_SESSION"])
def test_an_active_chat_cannot_be_continued(kind, chat, connect_client):
    with pytest.raises(ClientError) as raised:
        connect_client.start_chat_contact(
            InstanceId="instance-1",
            ContactFlowId="flow-1",
            ParticipantDetails={"DisplayName": "Ann"},
            **_persistent(kind, chat.contact_id),
        )

    assert error_of(raised)[:2] == ("InvalidRequestException", 400)


def test_a_chat_is_continued_only_once(new_chat, participant_client, connect_client):
    past = _ended_chat(new_chat, participant_client, "before")
    new_chat(**_persistent("FROM_SEGMENT", past.contact_id))

    with pytest.raises(ClientError) as raised:
        new_chat(**_persistent("FROM_SEGMENT", past.contact_id))

    assert error_of(raised)[:2] == ("InvalidRequestException", 400)


def test_an_unknown_source_contact_is_not_found(new_chat):
    with pytest.raises(ClientError) as raised:
        new_chat(**_persistent("FROM_SEGMENT", "no-such-contact"))

    assert error_of(raised)[:2] == ("ResourceNotFoundException", 404)


def test_a_source_contact_of_another_instance_is_not_found(new_chat, participant_client):
    past = _ended_chat(new_chat, participant_client, "before", InstanceId="instance-2")

    with pytest.raises(ClientError) as raised:
        new_chat(**_persistent("FROM_SEGMENT", past.contact_id))

    assert error_of(raised)[:2] == ("ResourceNotFoundException", 404)


@pytest.mark.parametrize(
    "persistent", [{"RehydrationType": "FROM_SEGMENT"}, {"SourceContactId": "c-1"}]
)
def test_persistent_chat_needs_both_members(new_chat, persistent):
    with pytest.raises(ClientError) as raised:
        new_chat(PersistentChat=persistent)

    assert error_of(raised)[:2] == ("InvalidParameterException", 400)
