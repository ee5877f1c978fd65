"""The customer's actions, as the websocket and the REST API share them."""

import asyncio

import pytest

from chatbridge import actions
from chatbridge.errors import UnknownMessage
from chatbridge.redis import keys


@pytest.fixture
async def chat(runtime):
    return await runtime.service.start_chat(display_name="Ada")


async def test_a_receipt_for_a_message_the_log_lacks_is_refused_before_connect(
    runtime, chat, emulator, redis_client
):
    with pytest.raises(UnknownMessage):
        await actions.send_receipt(runtime, chat.session, message_id="made-up", kind="read")
    marker = keys().chat(chat.session.chat_id, "receipt", "read", "made-up")
    assert await redis_client.exists(marker) == 0
    items = emulator.contact(chat.session.contact_id)["items"]
    assert not [i for i in items if i["Type"] == "MESSAGEMETADATA"]


class Statuses:
    """The upstream statuses a chat's followers in this process hear."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()

    async def ring(self, message: dict) -> None:
        if message.get("type") == "chat.upstream" and message.get("status") == "connected":
            self.connected.set()


async def until_upstream_connected(runtime, chat_id: str) -> None:
    statuses = Statuses()
    await runtime.relay.follow(chat_id, statuses)
    if await runtime.relay.current_upstream_status(chat_id) != "connected":
        async with asyncio.timeout(30):  # failure guard: it connects within milliseconds
            await statuses.connected.wait()


async def test_a_message_sent_while_the_upstream_is_connected_is_logged_by_the_upstream(
    runtime,
):
    started = await actions.start_chat(runtime, display_name="Ada")
    chat_id = started.session.chat_id
    await until_upstream_connected(runtime, chat_id)
    sent, seq = await actions.send_message(runtime, started.session, content="hello")
    cursor = await runtime.relay.log.cursor(chat_id)
    assert (cursor.last_item_id, cursor.last_seq) == (sent.id, seq)
