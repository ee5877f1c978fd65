"""A chat start answers once Connect has started the contact: its participant's first
connection follows, and every call for the chat waits for that one rather than asking Connect
for another (CreateParticipantConnection: 6 a second for the whole account)."""

import asyncio
from datetime import timedelta

import pytest

from chatbridge.chats.handoff import handoff
from chatbridge.chats.service import get_chat_service
from chatbridge.redis import keys

CONNECTION = "CreateParticipantConnection"
# Failure guard only: a start answers within milliseconds.
GUARD = 10


@pytest.fixture
async def service(redis_client):
    return get_chat_service()


async def test_a_start_answers_while_its_connection_is_on_its_way(service, emulator):
    emulator.fault(CONNECTION, "hold")

    async with asyncio.timeout(GUARD):
        started = await service.start_chat(display_name="Ada")

    assert await asyncio.to_thread(emulator.held, 1) == 1
    emulator.clear_faults()
    assert await handoff.take(started.session.chat_id, valid_for=timedelta(0)) is not None
    session = await service.refresh(started.session)
    assert (session.generation, bool(session.connection_token)) == (1, True)


async def test_the_chat_is_locked_for_refreshes_until_its_first_connection_is_saved(
    service, emulator, redis_client
):
    emulator.fault(CONNECTION, "hold")
    started = await service.start_chat(display_name="Ada")
    lock = keys().chat(started.session.chat_id, "refresh")
    assert await asyncio.to_thread(emulator.held, 1) == 1

    assert await redis_client.exists(lock)
    emulator.clear_faults()
    assert await handoff.take(started.session.chat_id, valid_for=timedelta(0)) is not None
    assert not await redis_client.exists(lock)


async def test_a_call_made_before_the_first_connection_came_waits_for_it(service, emulator):
    emulator.fault(CONNECTION, "hold")
    started = await service.start_chat(display_name="Ada")
    assert await asyncio.to_thread(emulator.held, 1) == 1

    sending = asyncio.ensure_future(service.send_message(started.session, content="first"))
    emulator.clear_faults()
    await sending
    assert await handoff.take(started.session.chat_id, valid_for=timedelta(0)) is not None

    assert emulator.calls(CONNECTION) == 1
    stored = await service.store.load(started.session.chat_id)
    assert stored.generation == 1


async def test_a_first_connection_connect_did_not_give_is_asked_for_by_the_next_call(
    service, emulator
):
    emulator.fault(CONNECTION, "error", count=100)
    started = await service.start_chat(display_name="Ada")
    # What the chat's upstream would have taken: nothing, once Connect refused.
    assert await handoff.take(started.session.chat_id, valid_for=timedelta(0)) is None
    emulator.clear_faults()

    await service.send_message(started.session, content="first")

    stored = await service.store.load(started.session.chat_id)
    assert (stored.generation, bool(stored.connection_token)) == (1, True)
