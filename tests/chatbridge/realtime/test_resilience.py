"""ChatBridge keeps a live chat going through a Redis restart, and archives what it relays."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.test import override_settings

from chatbridge.archive.models import ChatEvent
from chatbridge.dev.services import RedisServer
from chatbridge.redis import channel_layer_hosts
from chatbridge.runtime import get_runtime, stop_runtime
from tests.support.closing import close
from tests.support.ws_client import authenticated_client, is_agent_message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_relay")]


@pytest.fixture
def own_redis():
    """A Redis of this test's own, which it may restart."""
    server = RedisServer().start()
    layer = django_settings.CHANNEL_LAYERS["default"]
    layers = {
        "default": {
            **layer,
            "CONFIG": {**layer["CONFIG"], "hosts": channel_layer_hosts(server.url)},
        }
    }
    with override_settings(REDIS_URL=server.url, CHANNEL_LAYERS=layers):
        yield server
    server.stop()


async def test_a_live_chat_survives_a_redis_restart(own_redis, emulator):
    runtime = get_runtime()
    try:
        chat = await runtime.service.start_chat(display_name="Ada")
        emulator.agent_join(chat.session.contact_id)
        client = await authenticated_client(chat.session_token, connected=True)
        emulator.agent_message(chat.session.contact_id, "before the restart")
        await client.wait_for(is_agent_message("before the restart"))
        await asyncio.to_thread(own_redis.restart)
        emulator.agent_message(chat.session.contact_id, "after the restart")
        await client.wait_for(is_agent_message("after the restart"))
        ack = await client.request({"type": "send", "content": "customer after the restart"})
        assert ack["type"] == "ack"
        assert client.messages("AGENT") == ["before the restart", "after the restart"]
        await close(client)
    finally:
        await stop_runtime()


async def test_relayed_events_reach_the_archive(redis_client, emulator):
    runtime = get_runtime()
    try:
        chat = await runtime.service.start_chat(display_name="Ada")
        emulator.agent_join(chat.session.contact_id, "Sam")
        client = await authenticated_client(chat.session_token, connected=True)
        await client.request({"type": "send", "content": "archive me"})
        emulator.agent_message(chat.session.contact_id, "archived too")
        await client.wait_for(is_agent_message("archived too"))
        await close(client)
        assert await archived_messages(runtime, chat.session.chat_id) == [
            "archive me",
            "archived too",
        ]
    finally:
        await stop_runtime()


async def archived_messages(runtime, chat_id: str) -> list[str]:
    """The archived message contents, once the archive has drained what is logged so far."""
    await runtime.archiver.drain_once()

    def contents() -> list[str]:
        return list(
            ChatEvent.objects.filter(chat__chat_id=chat_id, type="message")
            .order_by("seq")
            .values_list("content", flat=True)
        )

    return await sync_to_async(contents)()
