"""A client that authenticates before its chat's first connection has come (the widget opens
its websocket as soon as the start answers) takes up the chat's connection once, not on
every call, and without the chat's refresh lock."""

import asyncio

import pytest

from chatbridge.redis import get_redis, keys
from tests.support.closing import close
from tests.support.connections import with_first_connection
from tests.support.redis_waits import key_events
from tests.support.ws_client import ChatClient

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_client_ready_before_the_first_connection_takes_it_up_once_without_the_lock(
    runtime, emulator, monkeypatch
):
    """The lock's holder may be the chat's upstream, waiting in Connect's queue: the client
    takes the connection saved in the store without asking for the lock."""
    emulator.fault("CreateParticipantConnection", "hold")
    chat = await runtime.service.start_chat(display_name="Ada")
    assert await asyncio.to_thread(emulator.held, 1) == 1
    client = ChatClient()
    assert await client.connect()
    assert (await client.auth(chat.session_token))["type"] == "ready"
    emulator.clear_faults()
    await with_first_connection(runtime.service.store, chat.session.chat_id)
    refreshes = []
    refresh = runtime.service.refresh

    async def counted_refresh(session):
        refreshes.append(session.generation)
        return await refresh(session)

    monkeypatch.setattr(runtime.service, "refresh", counted_refresh)

    async with key_events(get_redis(), keys().chat(chat.session.chat_id, "refresh")) as events:
        for number in range(3):
            ack = await client.request({"type": "send", "content": f"message {number}"})
            assert ack["status"] == "sent", ack
        assert "set" not in await events()
    assert len(refreshes) == 1
    await close(client)
