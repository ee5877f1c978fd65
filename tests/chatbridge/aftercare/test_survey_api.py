"""The post-chat survey over REST: after the end only, once, on the widget's scale, stored
with the archived chat whether or not the archiver has written it yet."""

import pytest
from asgiref.sync import sync_to_async

from chatbridge.archive.models import Chat, Survey
from tests.support.rest import assert_problem, bearer, start_chat
from tests.support.upstreams import until_upstream_stops

pytestmark = pytest.mark.django_db(transaction=True)


async def ended_chat(api) -> dict:
    chat = await start_chat(api)
    response = await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
    assert response.status_code == 200, response.text
    await until_upstream_stops(chat["chat_id"])
    return chat


async def survey(api, chat, **body):
    return await api.post(f"/chats/{chat['chat_id']}/survey", json=body, headers=bearer(chat))


async def test_a_chat_still_going_refuses_the_survey(api, widget):
    chat = await start_chat(api)
    assert_problem(await survey(api, chat, rating=5), 409, "chat_not_ended")


async def test_an_answer_is_stored_before_the_archiver_wrote_the_chat(api, widget, archiver):
    chat = await ended_chat(api)
    response = await survey(api, chat, rating=4, comment="  Quick and kind  ")
    assert response.status_code == 201, response.text
    assert response.json() == {"scale": "stars", "rating": 4, "comment": "Quick and kind"}

    stored = await Survey.objects.select_related("chat").aget(chat__chat_id=chat["chat_id"])
    assert (stored.scale, stored.rating, stored.comment) == ("stars", 4, "Quick and kind")
    # The archiver comes later and fills in the row the answer created; the answer stays.
    await archiver.drain_once()
    row = await Chat.objects.aget(chat_id=chat["chat_id"])
    assert (row.widget_id, row.status, row.display_name) == ("shop", "ended", "Ada")
    assert await Survey.objects.filter(chat=row).acount() == 1


async def test_an_answer_joins_the_chat_the_archiver_already_wrote(api, widget, archiver):
    chat = await ended_chat(api)
    await archiver.drain_once()
    assert (await survey(api, chat, rating=2)).status_code == 201
    assert await Chat.objects.filter(chat_id=chat["chat_id"]).acount() == 1
    row = await Chat.objects.aget(chat_id=chat["chat_id"])
    assert (await Survey.objects.aget(chat=row)).rating == 2


async def test_a_second_answer_is_refused_and_the_first_kept(api, widget):
    chat = await ended_chat(api)
    assert (await survey(api, chat, rating=5)).status_code == 201
    assert_problem(await survey(api, chat, rating=1), 409, "survey_already_answered")
    assert (await Survey.objects.aget(chat__chat_id=chat["chat_id"])).rating == 5


async def test_thumbs_take_zero_or_one(api, widget):
    widget.survey_scale = "thumbs"
    await sync_to_async(widget.save)()
    chat = await ended_chat(api)
    body = assert_problem(await survey(api, chat, rating=4), 422, "invalid_input")
    assert body["field"] == "rating"
    response = await survey(api, chat, rating=0)
    assert response.json() == {"scale": "thumbs", "rating": 0, "comment": ""}


async def test_stars_take_one_to_five(api, widget):
    chat = await ended_chat(api)
    assert assert_problem(await survey(api, chat, rating=0), 422, "invalid_input")["field"] == (
        "rating"
    )


async def test_a_widget_without_survey_refuses_answers(api, widget):
    widget.survey_scale = "off"
    await sync_to_async(widget.save)()
    chat = await ended_chat(api)
    assert_problem(await survey(api, chat, rating=5), 409, "survey_off")


async def test_a_long_comment_is_refused(api, widget):
    chat = await ended_chat(api)
    response = await survey(api, chat, rating=5, comment="x" * 1001)
    assert assert_problem(response, 422, "invalid_input")["field"] == "comment"


async def test_another_chats_token_cannot_answer(api, widget):
    chat = await ended_chat(api)
    other = await ended_chat(api)
    response = await api.post(
        f"/chats/{chat['chat_id']}/survey", json={"rating": 5}, headers=bearer(other)
    )
    assert_problem(response, 404, "unknown_chat")


async def test_the_widgets_configuration_names_its_survey_scale(api, widget):
    widget.survey_scale = "thumbs"
    await sync_to_async(widget.save)()
    response = await api.get(f"/widgets/{widget.widget_id}/config")
    assert response.json()["survey_scale"] == "thumbs"
