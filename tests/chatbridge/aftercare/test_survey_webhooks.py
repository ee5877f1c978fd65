"""The survey answer reaches a widget's webhook once: inside ``chat.ended`` when the answer
came first (a backlog), else as ``chat.survey``."""

import json
from dataclasses import replace

import pytest
from asgiref.sync import sync_to_async

from chatbridge.archive.surveys import store_answer
from chatbridge.chats.aftercare import SurveyAnswer
from chatbridge.chats.feed import publish_chat, publish_survey
from chatbridge.redis import keys
from tests.support.records import ended, session
from tests.support.rest import bearer, start_chat
from tests.support.upstreams import until_upstream_stops
from tests.support.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = SurveyAnswer(scale="stars", rating=4, comment="Kind")


@pytest.fixture(autouse=True)
def plain_http_receivers_on_loopback(settings, loopback_guard):
    settings.DEBUG = True
    settings.CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS = ["127.0.0.0/8"]


async def answered(redis, chat_id: str) -> None:
    await sync_to_async(store_answer)(chat_id, ANSWER)
    await publish_survey(redis, chat_id, "shop", ANSWER, feed=keys().feed)


async def test_an_answer_after_the_end_goes_as_chat_survey(widget, webhooks, redis_client):
    chat = replace(ended(session("chat-late")), widget_id=widget.widget_id)
    async with Receiver(failures=0) as receiver:
        widget.webhook_url = receiver.url
        await sync_to_async(widget.save)()
        await publish_chat(redis_client, chat, feed=keys().feed)
        await webhooks.drain_once()
        await answered(redis_client, chat.chat_id)
        await webhooks.drain_once()

    first, second = (json.loads(call["body"]) for call in receiver.calls)
    assert first["type"] == "chat.ended" and first["data"]["survey"] is None
    assert second["type"] == "chat.survey" and second["id"] == "chat-late:survey"
    assert second["widget_id"] == "shop" and second["chat_id"] == "chat-late"
    assert second["data"] == {"survey": {"scale": "stars", "rating": 4, "comment": "Kind"}}


async def test_an_answer_known_when_the_end_goes_rides_in_chat_ended(
    widget, webhooks, redis_client
):
    chat = replace(ended(session("chat-behind")), widget_id=widget.widget_id)
    async with Receiver(failures=0) as receiver:
        widget.webhook_url = receiver.url
        await sync_to_async(widget.save)()
        # The worker is behind: the end and the answer wait in the feed together.
        await publish_chat(redis_client, chat, feed=keys().feed)
        await answered(redis_client, chat.chat_id)
        await webhooks.drain_once()

    [call] = receiver.calls
    payload = json.loads(call["body"])
    assert payload["type"] == "chat.ended"
    assert payload["data"]["survey"] == {"scale": "stars", "rating": 4, "comment": "Kind"}


async def test_an_answer_given_over_rest_reaches_the_webhook(api, widget, webhooks):
    async with Receiver(failures=0) as receiver:
        widget.webhook_url = receiver.url
        await sync_to_async(widget.save)()
        chat = await start_chat(api)
        await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
        await until_upstream_stops(chat["chat_id"])
        await webhooks.drain_once()
        answer = await api.post(
            f"/chats/{chat['chat_id']}/survey",
            json={"rating": 3, "comment": "ok"},
            headers=bearer(chat),
        )
        assert answer.status_code == 201
        await webhooks.drain_once()

    types = [json.loads(call["body"])["type"] for call in receiver.calls]
    assert types == ["chat.ended", "chat.survey"]
    survey = json.loads(receiver.calls[-1]["body"])["data"]["survey"]
    assert survey == {"scale": "stars", "rating": 3, "comment": "ok"}
