"""Survey answers in the transcript viewer: the list's column and filter, the transcript
page, the average ratings per widget and per agent, and the exports."""

import csv
import io
import json

import pytest
from asgiref.sync import sync_to_async

from chatbridge.archive.models import Survey
from tests.chatbridge.archive.factories import make_chat

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/admin/archive/chat/"


def answered(chat_id: str, scale: str, rating: int, comment: str = "", **chat) -> None:
    Survey.objects.create(
        chat=make_chat(chat_id, **chat), scale=scale, rating=rating, comment=comment
    )


@pytest.fixture
async def answers():
    await sync_to_async(answered)("c5", "stars", 5, "Lovely", agent="Alice", widget="shop")
    await sync_to_async(answered)("c3", "stars", 3, agent="Bob", widget="shop")
    await sync_to_async(answered)("c4", "stars", 4, agent="Alice", widget="app")
    await sync_to_async(answered)("up", "thumbs", 1, agent="Alice", widget="app")
    await sync_to_async(answered)("down", "thumbs", 0, agent="Bob", widget="app")
    await sync_to_async(make_chat)("silent", agent="Bob", widget="shop")


async def listed(staff_client, query: str) -> set[str]:
    response = await staff_client.get(f"{LIST}?{query}")
    assert response.status_code == 200
    return {chat.chat_id for chat in response.context["cl"].result_list}


async def test_the_list_filters_by_rating(staff_client, answers):
    assert await listed(staff_client, "rating=stars-5") == {"c5"}
    assert await listed(staff_client, "rating=thumbs-0") == {"down"}
    assert await listed(staff_client, "rating=none") == {"silent"}
    assert await listed(staff_client, "rating=any") == {"c5", "c3", "c4", "up", "down"}


async def test_the_list_shows_each_chats_rating(staff_client, answers):
    response = await staff_client.get(f"{LIST}?rating=thumbs-1")
    assert '<td class="field-rating">thumbs up</td>' in response.content.decode()


async def test_averages_per_widget_and_per_agent_keep_the_scales_apart(staff_client, answers):
    response = await staff_client.get(f"{LIST}ratings/")
    assert response.status_code == 200
    by_widget = {row["key"]: row for row in response.context["by_widget"]}
    by_agent = {row["key"]: row for row in response.context["by_agent"]}
    assert by_widget["shop"]["stars_average"] == 4.0 and by_widget["shop"]["stars_count"] == 2
    assert by_widget["app"]["stars_average"] == 4.0 and by_widget["app"]["thumbs_up_percent"] == 50
    assert by_agent["Alice"]["stars_average"] == 4.5
    assert by_agent["Alice"]["thumbs_up_percent"] == 100
    assert by_agent["Bob"]["stars_average"] == 3.0 and by_agent["Bob"]["thumbs_up_percent"] == 0
    page = response.content.decode()
    assert 'id="ratings-by-widget"' in page and 'id="ratings-by-agent"' in page


async def test_averages_follow_the_lists_filters(staff_client, answers):
    response = await staff_client.get(f"{LIST}ratings/?widget_id=shop")
    assert [row["key"] for row in response.context["by_widget"]] == ["shop"]
    assert {row["key"] for row in response.context["by_agent"]} == {"Alice", "Bob"}


async def test_the_transcript_page_shows_the_answer(staff_client, answers):
    chat = await Survey.objects.select_related("chat").aget(chat__chat_id="c5")
    page = (await staff_client.get(f"{LIST}{chat.chat.pk}/change/")).content.decode()
    assert "5 of 5 stars" in page and "Lovely" in page


async def test_exports_carry_the_answer(staff_client, answers):
    chat = (await Survey.objects.select_related("chat").aget(chat__chat_id="c5")).chat
    data = json.loads((await staff_client.get(f"{LIST}{chat.pk}/export/json/")).content)
    assert data["chat"]["survey"]["rating"] == 5 and data["chat"]["survey"]["comment"] == "Lovely"
    text = (await staff_client.get(f"{LIST}{chat.pk}/export/txt/")).content.decode()
    assert "Survey: 5 of 5 stars" in text and "Comment: Lovely" in text

    response = await staff_client.get(f"{LIST}export/csv/?rating=thumbs-0")
    body = b"".join([part async for part in response.streaming_content]).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows and {(r["survey_scale"], r["survey_rating"]) for r in rows} == {("thumbs", "0")}

    response = await staff_client.get(f"{LIST}export/jsonl/?rating=none")
    body = b"".join([part async for part in response.streaming_content]).decode()
    [line] = body.splitlines()
    assert json.loads(line)["chat"]["survey"] is None


async def test_a_comment_is_redacted_when_transcripts_are(staff_client, settings):
    settings.CHATBRIDGE_REDACT_PII = True
    await sync_to_async(answered)("c1", "stars", 2, "Call me on +44 20 7946 0958")
    chat = (await Survey.objects.select_related("chat").aget(chat__chat_id="c1")).chat
    data = json.loads((await staff_client.get(f"{LIST}{chat.pk}/export/json/")).content)
    assert data["chat"]["survey"]["comment"] == "Call me on [phone]"


async def test_the_averages_need_the_permission_to_view_chats(async_client, answers):
    from django.contrib.auth import get_user_model

    user = await sync_to_async(get_user_model().objects.create_user)(
        "nosy", password="s3cret-pass-word", is_staff=True
    )
    await async_client.aforce_login(user)
    assert (await async_client.get(f"{LIST}ratings/")).status_code == 403
