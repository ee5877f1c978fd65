"""GetTranscript: paging, directions, sort orders and start positions.

Every test works on a chat with the customer's joined event followed by messages m1..m5.
"""

import pytest
from botocore.exceptions import ClientError

from .conftest import error_of

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def messages(chat, participant_client):
    """The Ids of m1..m5, oldest first."""
    return [
        participant_client.send_message(
            ContentType="text/plain", Content=f"m{n}", ConnectionToken=chat.connection_token
        )["Id"]
        for n in range(1, 6)
    ]


@pytest.fixture
def transcript(chat, participant_client):
    def get(**params):
        return participant_client.get_transcript(ConnectionToken=chat.connection_token, **params)

    return get


def contents(page):
    return [
        item.get("Content", item["ContentType"].rsplit(".", 1)[-1]) for item in page["Transcript"]
    ]


def test_default_is_the_newest_ten_newest_first(transcript, messages):
    page = transcript()

    assert contents(page) == ["m5", "m4", "m3", "m2", "m1", "joined"]
    assert "NextToken" not in page


def test_the_answer_names_the_initial_contact(chat, transcript, messages):
    page = transcript()

    assert page["InitialContactId"] == chat.contact_id
    assert all(item["ContactId"] == chat.contact_id for item in page["Transcript"])


def test_items_have_the_model_shape(chat, transcript, messages):
    item = transcript(MaxResults=1)["Transcript"][0]

    assert set(item) == {
        "AbsoluteTime",
        "Content",
        "ContentType",
        "Id",
        "Type",
        "ParticipantId",
        "DisplayName",
        "ParticipantRole",
        "ContactId",
    }


def test_backward_pages_walk_to_the_oldest(transcript, messages):
    first = transcript(MaxResults=2)
    second = transcript(MaxResults=2, NextToken=first["NextToken"])
    third = transcript(MaxResults=2, NextToken=second["NextToken"])

    assert contents(first) == ["m5", "m4"]
    assert contents(second) == ["m3", "m2"]
    assert contents(third) == ["m1", "joined"]
    assert "NextToken" not in third


def test_ascending_sorts_each_page_oldest_first(transcript, messages):
    first = transcript(MaxResults=2, SortOrder="ASCENDING")
    second = transcript(MaxResults=2, SortOrder="ASCENDING", NextToken=first["NextToken"])

    assert contents(first) == ["m4", "m5"]
    assert contents(second) == ["m2", "m3"]


def test_forward_from_an_id_excludes_that_item(transcript, messages):
    page = transcript(
        StartPosition={"Id": messages[1]}, ScanDirection="FORWARD", SortOrder="ASCENDING"
    )

    assert contents(page) == ["m3", "m4", "m5"]


def test_forward_pages_walk_to_the_newest(transcript, messages):
    params = {"StartPosition": {"Id": messages[0]}, "ScanDirection": "FORWARD", "MaxResults": 3}
    first = transcript(SortOrder="ASCENDING", **params)
    second = transcript(SortOrder="ASCENDING", NextToken=first["NextToken"], **params)

    assert contents(first) == ["m2", "m3", "m4"]
    assert contents(second) == ["m5"]
    assert "NextToken" not in second


def test_forward_with_descending_sorts_the_page_newest_first(transcript, messages):
    page = transcript(StartPosition={"Id": messages[2]}, ScanDirection="FORWARD")

    assert contents(page) == ["m5", "m4"]


def test_a_start_position_defaults_to_forward(transcript, messages):
    page = transcript(StartPosition={"Id": messages[3]}, SortOrder="ASCENDING")

    assert contents(page) == ["m5"]


def test_backward_from_an_id_excludes_that_item(transcript, messages):
    page = transcript(StartPosition={"Id": messages[2]}, ScanDirection="BACKWARD")

    assert contents(page) == ["m2", "m1", "joined"]


def test_forward_from_the_newest_id_is_empty(transcript, messages):
    page = transcript(StartPosition={"Id": messages[-1]}, ScanDirection="FORWARD")

    assert page["Transcript"] == []
    assert "NextToken" not in page


def test_forward_from_an_absolute_time_includes_that_time(chat, control, transcript, messages):
    m3 = next(i for i in control.items(chat.contact_id) if i["Id"] == messages[2])

    page = transcript(
        StartPosition={"AbsoluteTime": m3["AbsoluteTime"]},
        ScanDirection="FORWARD",
        SortOrder="ASCENDING",
    )

    assert page["Transcript"][0]["AbsoluteTime"] >= m3["AbsoluteTime"]
    assert contents(page)[-3:] == ["m3", "m4", "m5"]


def test_backward_from_an_absolute_time_includes_that_time(chat, control, transcript, messages):
    m2 = next(i for i in control.items(chat.contact_id) if i["Id"] == messages[1])

    page = transcript(StartPosition={"AbsoluteTime": m2["AbsoluteTime"]}, ScanDirection="BACKWARD")

    assert all(item["AbsoluteTime"] <= m2["AbsoluteTime"] for item in page["Transcript"])
    assert contents(page)[-3:] == ["m2", "m1", "joined"]


def test_backward_from_before_the_chat_is_empty(transcript, messages):
    page = transcript(
        StartPosition={"AbsoluteTime": "2001-01-01T00:00:00.000Z"}, ScanDirection="BACKWARD"
    )

    assert page["Transcript"] == []


def test_most_recent_forward_returns_that_many_newest_items(transcript, messages):
    page = transcript(
        StartPosition={"MostRecent": 2}, ScanDirection="FORWARD", SortOrder="ASCENDING"
    )

    assert contents(page) == ["m4", "m5"]


def test_most_recent_backward_skips_that_many_newest_items(transcript, messages):
    page = transcript(StartPosition={"MostRecent": 2}, ScanDirection="BACKWARD")

    assert contents(page) == ["m3", "m2", "m1", "joined"]


def test_forward_without_a_start_position_is_a_validation_error(transcript, messages):
    with pytest.raises(ClientError) as raised:
        transcript(ScanDirection="FORWARD")

    code, status, message = error_of(raised)
    assert (code, status) == ("ValidationException", 400)
    assert "StartPosition" in message


def test_an_unknown_start_id_is_a_validation_error(transcript, messages):
    with pytest.raises(ClientError) as raised:
        transcript(StartPosition={"Id": "no-such-item"}, ScanDirection="FORWARD")

    assert error_of(raised)[:2] == ("ValidationException", 400)


def test_two_start_positions_at_once_are_a_validation_error(transcript, messages):
    with pytest.raises(ClientError) as raised:
        transcript(StartPosition={"Id": messages[0], "MostRecent": 1})

    assert error_of(raised)[:2] == ("ValidationException", 400)


def test_a_malformed_absolute_time_is_a_validation_error(transcript, messages):
    with pytest.raises(ClientError) as raised:
        transcript(StartPosition={"AbsoluteTime": "yesterday"})

    assert error_of(raised)[:2] == ("ValidationException", 400)


def test_a_forged_next_token_is_a_validation_error(transcript, messages):
    with pytest.raises(ClientError) as raised:
        transcript(NextToken="forged")

    assert error_of(raised)[:2] == ("ValidationException", 400)


def test_max_results_above_100_is_a_validation_error(unvalidated_participant_client, chat):
    with pytest.raises(ClientError) as raised:
        unvalidated_participant_client.get_transcript(
            ConnectionToken=chat.connection_token, MaxResults=101
        )

    code, _, message = error_of(raised)
    assert code == "ValidationException"
    assert "MaxResults" in message


def test_max_results_100_returns_a_full_page(no_quotas, chat, participant_client, transcript):
    for n in range(100):
        participant_client.send_message(
            ContentType="text/plain", Content=str(n), ConnectionToken=chat.connection_token
        )

    page = transcript(MaxResults=100)

    assert len(page["Transcript"]) == 100
    assert page["NextToken"]
    assert contents(transcript(MaxResults=100, NextToken=page["NextToken"])) == ["joined"]


def test_another_contact_id_is_refused(transcript, messages):
    with pytest.raises(ClientError) as raised:
        transcript(ContactId="another-contact")

    assert error_of(raised)[:2] == ("ValidationException", 400)


def test_every_item_kind_of_every_participant_is_in_the_transcript(
    chat, participant_client, control, transcript
):
    participant_client.send_message(
        ContentType="text/plain", Content="hi", ConnectionToken=chat.connection_token
    )
    control.post(f"/contacts/{chat.contact_id}/agent/join")
    reply = control.post(f"/contacts/{chat.contact_id}/agent/message", {"content": "hello"})
    participant_client.send_event(
        ContentType="application/vnd.amazonaws.connect.event.message.read",
        Content=f'{{"messageId": "{reply["Id"]}"}}',
        ConnectionToken=chat.connection_token,
    )
    control.post(f"/contacts/{chat.contact_id}/transfer")

    page = transcript(MaxResults=100, SortOrder="ASCENDING")

    kinds = [(i["Type"], i["ContentType"].rsplit("/", 1)[-1]) for i in page["Transcript"]]
    assert kinds == [
        ("EVENT", "vnd.amazonaws.connect.event.participant.joined"),
        ("MESSAGE", "plain"),
        ("EVENT", "vnd.amazonaws.connect.event.participant.joined"),
        ("MESSAGE", "plain"),
        ("MESSAGEMETADATA", "vnd.amazonaws.connect.event.message.metadata"),
        ("EVENT", "vnd.amazonaws.connect.event.transfer.succeeded"),
        ("EVENT", "vnd.amazonaws.connect.event.participant.left"),
        ("EVENT", "vnd.amazonaws.connect.event.participant.joined"),
    ]
    assert len({item["Id"] for item in page["Transcript"]}) == len(page["Transcript"])
