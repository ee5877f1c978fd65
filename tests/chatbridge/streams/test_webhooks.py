"""Webhooks: an agent message and the chat's end, signed, retried after a failure."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from chatbridge.streams.webhooks import (
    ATTEMPT_HEADER,
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookWorker,
    verify,
)
from tests.support.rest import assert_logged_event, bearer, contact_id, start_chat

pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that fails its first `failures` calls with 500."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[dict] = []
        self.arrived: asyncio.Queue[dict] = asyncio.Queue()

    async def __aenter__(self) -> "Receiver":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hooks"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ": " in line:
                name, value = line.split(": ", 1)
                headers[name.lower()] = value
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        failing = len(self.calls) < self.failures
        call = {"request_line": lines[0], "headers": headers, "body": body, "failed": failing}
        self.calls.append(call)
        status = b"500 Internal Server Error" if failing else b"204 No Content"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        await self.arrived.put(call)

    async def next_call(self) -> dict:
        return await asyncio.wait_for(self.arrived.get(), 15)


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.CHATBRIDGE_WEBHOOK_BACKOFF_INITIAL = 0.05
    settings.CHATBRIDGE_WEBHOOK_MAX_ATTEMPTS = 3


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
        ended = await receiver.next_call()
        payload = json.loads(ended["body"])
        assert payload["type"] == "chat.ended"
        assert payload["data"]["reason"] == "customer_disconnected"
        assert payload["id"] == f"{chat['chat_id']}:ended"
        # The customer's own message was never delivered: only agent messages and the end.
        assert all(b"mine" not in call["body"] for call in receiver.calls)


async def test_deliveries_stop_after_the_last_attempt(api, widget, runtime, emulator, settings):
    settings.CHATBRIDGE_WEBHOOK_MAX_ATTEMPTS = 2
    await runtime.webhooks.ensure_group()
    async with Receiver(failures=100) as receiver:
        widget.webhook_url = receiver.url
        await sync_to_async(widget.save)()
        chat = await start_chat(api)
        await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
        await receiver.next_call()
        await receiver.next_call()
        # Nothing is left scheduled: the retry queue is empty once the last attempt failed.
        retries = f"{settings.CHATBRIDGE_REDIS_PREFIX}:webhooks:retry"
        assert await runtime.service.store.redis.zcard(retries) == 0
        assert len(receiver.calls) == 2


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
