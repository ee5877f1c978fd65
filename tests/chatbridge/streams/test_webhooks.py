"""Webhooks: an agent message and the chat's end, signed, retried after a failure."""

import json
from dataclasses import replace

import pytest
from asgiref.sync import sync_to_async

from chatbridge.chats.feed import publish_chat
from chatbridge.chats.records import ChatSession
from chatbridge.redis import RedisKeys
from chatbridge.streams.webhooks import (
    ATTEMPT_HEADER,
    GROUP,
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookWorker,
    verify,
)
from tests.support.records import PREFIX, ended, session
from tests.support.rest import assert_logged_event, bearer, contact_id, start_chat
from tests.support.webhook_receiver import Receiver
from webwidget.models import Widget

pytestmark = pytest.mark.django_db(transaction=True)

STREAM = RedisKeys(PREFIX).feed


async def point_webhook_at(widget: Widget, receiver: Receiver) -> None:
    widget.webhook_url = receiver.url
    await sync_to_async(widget.save)()


def ended_chat_of(widget: Widget) -> ChatSession:
    return replace(ended(session()), widget_id=widget.widget_id)


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.CHATBRIDGE_WEBHOOK_BACKOFF_INITIAL = 0.05
    settings.CHATBRIDGE_WEBHOOK_MAX_ATTEMPTS = 3


@pytest.fixture(autouse=True)
def plain_http_receivers_on_loopback(settings, loopback_guard):
    """These receivers speak plain HTTP on 127.0.0.1: allowed only with DEBUG on and loopback
    on the allow-list (tests of the target policy itself are in test_webhook_transport.py)."""
    settings.DEBUG = True
    settings.CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS = ["127.0.0.0/8"]


async def test_agent_message_and_end_are_delivered_signed_and_retried(
    api, widget, runtime, emulator
):
    await runtime.webhooks.ensure_group()
    async with Receiver(failures=1) as receiver:
        widget.webhook_url = receiver.url
        await sync_to_async(widget.save)()
        chat = await start_chat(api)
        contact = await contact_id(runtime, chat)
        await api.post(
            f"/chats/{chat['chat_id']}/messages", json={"content": "mine"}, headers=bearer(chat)
        )
        emulator.agent_join(contact)
        emulator.agent_message(contact, "Your order shipped")

        first = await receiver.next_call()
        assert first["failed"]
        retry = await receiver.next_call()
        assert not retry["failed"]
        assert retry["headers"][ID_HEADER.lower()] == first["headers"][ID_HEADER.lower()]
        assert retry["headers"][ATTEMPT_HEADER.lower()] == "2"
        for call in (first, retry):
            assert call["request_line"].startswith("POST /hooks ")
            assert verify(
                widget.webhook_secret,
                call["headers"][TIMESTAMP_HEADER.lower()],
                call["body"],
                call["headers"][SIGNATURE_HEADER.lower()],
            )
            assert not verify(
                "another-secret",
                call["headers"][TIMESTAMP_HEADER.lower()],
                call["body"],
                call["headers"][SIGNATURE_HEADER.lower()],
            )
        payload = json.loads(retry["body"])
        assert payload["type"] == "message.created"
        assert set(payload) == {"id", "type", "created_at", "widget_id", "chat_id", "data"}
        assert_logged_event(payload["data"])
        assert payload["chat_id"] == chat["chat_id"] and payload["widget_id"] == "shop"
        assert payload["data"]["event"]["content"] == "Your order shipped"
        assert payload["data"]["event"]["participant_role"] == "AGENT"

        await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
        ending = await receiver.next_call()
        payload = json.loads(ending["body"])
        assert payload["type"] == "chat.ended"
        assert payload["data"]["reason"] == "customer_disconnected"
        assert payload["id"] == f"{chat['chat_id']}:ended"
        # The customer's own message was never delivered: only agent messages and the end.
        assert all(b"mine" not in call["body"] for call in receiver.calls)


async def test_deliveries_stop_after_the_last_attempt(widget, redis_client, settings):
    settings.CHATBRIDGE_WEBHOOK_MAX_ATTEMPTS = 3
    settings.CHATBRIDGE_WEBHOOK_BACKOFF_INITIAL = 0  # every retry is due as soon as it is queued
    worker = WebhookWorker(redis_client, prefix=PREFIX, consumer_name="live")
    await worker.ensure_group()
    async with Receiver(failures=100) as receiver:
        await point_webhook_at(widget, receiver)
        await publish_chat(redis_client, ended_chat_of(widget), feed=STREAM)

        await worker.drain_once()
        for _ in range(settings.CHATBRIDGE_WEBHOOK_MAX_ATTEMPTS + 2):
            await worker.retry_due()
        await worker.close()

    assert [call["headers"][ATTEMPT_HEADER.lower()] for call in receiver.calls] == ["1", "2", "3"]
    assert await redis_client.zcard(RedisKeys(PREFIX).webhook_retries) == 0


async def test_a_dead_consumers_entries_are_claimed_and_delivered(widget, redis_client):
    worker = WebhookWorker(redis_client, prefix=PREFIX, consumer_name="live", claim_idle_ms=0)
    await worker.ensure_group()
    async with Receiver(failures=0) as receiver:
        await point_webhook_at(widget, receiver)
        await publish_chat(redis_client, ended_chat_of(widget), feed=STREAM)
        # A consumer read the entry, then died before delivering and acknowledging it.
        await redis_client.xreadgroup(GROUP, "dead", {STREAM: ">"})

        assert await worker.drain_once() == 1
        await worker.close()

    [call] = receiver.calls
    assert json.loads(call["body"])["type"] == "chat.ended"
    assert (await redis_client.xpending(STREAM, GROUP))["pending"] == 0


async def test_a_chats_widget_is_read_once_not_per_event(redis_client, settings):
    prefix = settings.CHATBRIDGE_REDIS_PREFIX
    worker = WebhookWorker(redis_client, prefix=prefix, consumer_name="test-widgets")
    await redis_client.hset(f"{prefix}:chat:widget-once", "widget_id", "shop")
    assert await worker._widget_id("widget-once") == "shop"
    await redis_client.delete(f"{prefix}:chat:widget-once")
    assert await worker._widget_id("widget-once") == "shop"


async def test_an_unknown_chats_widget_is_not_remembered(redis_client, settings):
    prefix = settings.CHATBRIDGE_REDIS_PREFIX
    worker = WebhookWorker(redis_client, prefix=prefix, consumer_name="test-widgets")
    assert await worker._widget_id("widget-later") == ""
    await redis_client.hset(f"{prefix}:chat:widget-later", "widget_id", "shop")
    assert await worker._widget_id("widget-later") == "shop"
