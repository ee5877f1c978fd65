"""A send prepared while its admission check runs leaves only once admitted."""

import asyncio

import pytest

from chatbridge.connect import get_gateway
from chatbridge.errors import RateLimited


@pytest.fixture
async def connection_token(emulator):
    gateway = get_gateway()
    contact = await gateway.start_chat_contact(display_name="Ada")
    connection = await gateway.create_connection(contact.participant_token)
    return connection.connection_token


async def transcript_texts(token: str) -> list[str]:
    page = await get_gateway().get_transcript(token, max_results=100)
    return [item.content for item in page.items if item.type == "MESSAGE"]


async def test_an_admitted_send_is_sent(connection_token):
    async def passes() -> None:
        await asyncio.sleep(0)

    sent = await get_gateway().send_message(
        connection_token, content_type="text/plain", content="hello", client_token=None,
        admission=passes(),
    )  # fmt: skip

    assert sent.id
    assert "hello" in await transcript_texts(connection_token)


async def test_a_refused_send_raises_the_refusal_and_never_reaches_connect(connection_token):
    async def refuses() -> None:
        raise RateLimited(retry_after=1.0)

    with pytest.raises(RateLimited):
        await get_gateway().send_message(
            connection_token, content_type="text/plain", content="too many", client_token=None,
            admission=refuses(),
        )  # fmt: skip

    assert "too many" not in await transcript_texts(connection_token)
    # The same connection still sends: the withdrawn call released its thread.
    await get_gateway().send_message(
        connection_token, content_type="text/plain", content="later", client_token=None
    )
    assert "later" in await transcript_texts(connection_token)
