"""The customer's actions, as the websocket and the REST API share them."""

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
