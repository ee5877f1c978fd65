"""The chat service end to end: boto3 over HTTP to the emulator, sessions in real Redis."""

import asyncio
import logging
import threading
from dataclasses import replace

import pytest
from django.conf import settings

from chatbridge.chats.records import ChatStatus
from chatbridge.chats.service import get_chat_service
from chatbridge.connect import clients
from chatbridge.errors import ChatEnded, InvalidInput, UnknownChat
from tests.support.participant_socket import subscribed

# Failure guard for a refresh that must not wait for the chat's refresh lock.
LOCK_GUARD = 5.0


@pytest.fixture
async def service(redis_client):
    return get_chat_service()


async def connected(service, started):
    """The chat once its first connection, on its way as the start answered, is saved."""
    return replace(started, session=await service.refresh(started.session))


@pytest.fixture
async def chat(service, emulator):
    return await connected(
        service, await service.start_chat(display_name="Ada", widget_id="default")
    )


def messages_of(items, role=None):
    return [
        item
        for item in items
        if item.type == "MESSAGE" and (role is None or item.participant_role == role)
    ]


async def test_start_chat_creates_a_contact_and_a_session(service, emulator):
    started = await service.start_chat(
        display_name="Ada", attributes={"plan": "gold"}, initial_message="Hello"
    )
    contacts = emulator.contacts()
    assert [c["contact_id"] for c in contacts] == [started.session.contact_id]
    session = await service.authenticate(started.session_token)
    assert session.chat_id == started.session.chat_id
    transcript = await service.full_transcript(session)
    assert [m.content for m in messages_of(transcript)] == ["Hello"]


async def test_start_chat_with_the_same_client_token_returns_the_same_chat(service, emulator):
    first = await service.start_chat(display_name="Ada", client_token="start-1")
    second = await service.start_chat(display_name="Ada", client_token="start-1")
    assert second.session.chat_id == first.session.chat_id
    assert len(emulator.contacts()) == 1


async def test_echo_agent_answers_a_customer_message(service, emulator):
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0)
    started = await service.start_chat(display_name="Ada")
    session, connection = await service.open_connection(started.session)
    async with subscribed(connection.websocket_url) as socket:
        await service.send_message(session, content="ping", client_id="m-1")
        echo = await socket.wait_for_item(
            lambda item: item.get("ParticipantRole") == "AGENT" and item.get("Type") == "MESSAGE"
        )
    assert "ping" in echo["Content"]


async def test_send_message_with_the_same_client_id_sends_once(service, chat):
    first = await service.send_message(chat.session, content="once", client_id="same")
    second = await service.send_message(chat.session, content="once", client_id="same")
    assert first.id == second.id
    transcript = await service.full_transcript(chat.session)
    assert [m.content for m in messages_of(transcript)] == ["once"]


async def test_typing_is_sent_as_a_typing_event(service, chat, emulator):
    typing = await service.send_typing(chat.session)
    items = emulator.contact(chat.session.contact_id)["items"]
    assert [(i["Id"], i["ContentType"]) for i in items if i["Id"] == typing.id] == [
        (typing.id, "application/vnd.amazonaws.connect.event.typing")
    ]


@pytest.mark.parametrize(("kind", "stamps"), [("delivered", 1), ("read", 2)])
async def test_a_receipt_is_sent_as_message_metadata_of_its_kind(
    service, chat, emulator, kind, stamps
):
    emulator.agent_join(chat.session.contact_id)
    message = emulator.agent_message(chat.session.contact_id, "hi")
    await service.send_receipt(chat.session, message_id=message["Id"], kind=kind)
    items = emulator.contact(chat.session.contact_id)["items"]
    (metadata,) = [i["MessageMetadata"] for i in items if i["Type"] == "MESSAGEMETADATA"]
    assert metadata["MessageId"] == message["Id"]
    (receipt,) = metadata["Receipts"]
    # Delivered carries its time only; read carries both (Connect counts a read as delivered).
    assert len({"DeliveredTimestamp", "ReadTimestamp"} & receipt.keys()) == stamps


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "   "}, "content"),
        ({"content": 42}, "content"),
        ({"content": "x" * 16385}, "content"),
        ({"content": "hi", "content_type": "text/html"}, "content_type"),
        ({"content": "hi", "client_id": "x" * 501}, "client_id"),
    ],
)
async def test_invalid_message_is_refused_with_the_field_named(service, chat, kwargs, field):
    with pytest.raises(InvalidInput) as caught:
        await service.send_message(chat.session, **kwargs)
    assert caught.value.field == field


async def test_receipt_of_an_unknown_kind_is_refused(service, chat):
    with pytest.raises(InvalidInput) as caught:
        await service.send_receipt(chat.session, message_id="m", kind="seen")
    assert caught.value.field == "kind"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 257}, "display_name"),
        ({"display_name": "Ada", "attributes": ["not", "a", "dict"]}, "attributes"),
        ({"display_name": "Ada", "attributes": {"plan": 3}}, "attributes.plan"),
    ],
)
async def test_invalid_start_is_refused_with_the_field_named(service, emulator, kwargs, field):
    with pytest.raises(InvalidInput) as caught:
        await service.start_chat(**kwargs)
    assert caught.value.field == field
    assert emulator.contacts() == []


async def test_full_transcript_reads_every_page(service, chat, emulator):
    emulator.agent_join(chat.session.contact_id)
    for n in range(120):
        emulator.agent_message(chat.session.contact_id, f"agent {n}")
    transcript = await service.full_transcript(chat.session)
    assert [m.content for m in messages_of(transcript, "AGENT")] == [
        f"agent {n}" for n in range(120)
    ]


async def test_full_transcript_after_an_item_returns_only_what_follows(service, chat, emulator):
    first = await service.send_message(chat.session, content="one")
    await service.send_message(chat.session, content="two")
    emulator.agent_join(chat.session.contact_id)
    emulator.agent_message(chat.session.contact_id, "three")
    after = await service.full_transcript(chat.session, after_id=first.id)
    assert [m.content for m in messages_of(after)] == ["two", "three"]


async def test_connection_is_refreshed_before_it_expires(service, emulator):
    emulator.configure(connection_token_ttl=30)  # inside the 60 s refresh margin
    started = await connected(service, await service.start_chat(display_name="Ada"))
    await service.send_message(started.session, content="after refresh")
    reloaded = await service.store.load(started.session.chat_id)
    assert reloaded.generation == 2
    assert reloaded.connection_token != started.session.connection_token


async def test_connection_is_refreshed_when_connect_denies_it(service, chat, emulator):
    emulator.expire_connection_tokens(chat.session.contact_id)
    await service.send_message(chat.session, content="still here")
    reloaded = await service.store.load(chat.session.chat_id)
    assert reloaded.generation == 2
    transcript = await service.full_transcript(reloaded)
    assert [m.content for m in messages_of(transcript)] == ["still here"]


async def test_concurrent_refreshes_collapse_into_one(service, chat):
    results = await asyncio.gather(*(service.refresh(chat.session) for _ in range(10)))
    assert {result.generation for result in results} == {2}
    assert len({result.connection_token for result in results}) == 1


async def test_a_token_saved_since_is_taken_without_the_refresh_lock(service, chat):
    """The lock's holder may be an upstream waiting seconds in Connect's queue for a new
    websocket URL: a customer's call takes the good token in the store meanwhile."""
    fresh = await service.refresh(chat.session)

    async with service.store.refresh_lock(chat.session.chat_id):
        async with asyncio.timeout(LOCK_GUARD):
            taken = await service.refresh(chat.session)

    assert (taken.generation, taken.connection_token) == (2, fresh.connection_token)


async def test_a_refresh_of_an_ended_chat_says_it_ended_even_with_a_token_saved_since(
    service, chat
):
    fresh = await service.refresh(chat.session)
    await service.disconnect(fresh)

    with pytest.raises(ChatEnded):
        await service.refresh(chat.session)


async def test_a_chat_ended_by_the_agent_is_detected_and_recorded(service, chat, emulator):
    emulator.end_chat(chat.session.contact_id)
    with pytest.raises(ChatEnded):
        await service.send_message(chat.session, content="anyone?")
    stored = await service.store.load(chat.session.chat_id)
    assert stored.status is ChatStatus.ENDED
    assert stored.ended_reason == "connect_access_denied"


async def test_an_ended_chat_refuses_further_calls_without_asking_connect(service, chat, emulator):
    ended = await service.disconnect(chat.session)
    emulator.fault("SendMessage", "error", count=5)
    with pytest.raises(ChatEnded):
        await service.send_message(ended, content="late")


async def test_disconnect_ends_the_chat_and_can_be_repeated(service, chat, emulator):
    ended = await service.disconnect(chat.session)
    again = await service.disconnect(ended)
    assert ended.status is ChatStatus.ENDED
    assert again.ended_reason == "customer_disconnected"
    assert emulator.contact(chat.session.contact_id)["status"] == "ENDED"


async def test_revoked_token_is_unknown(service, chat):
    await service.store.revoke(chat.session_token)
    with pytest.raises(UnknownChat):
        await service.authenticate(chat.session_token)


async def test_no_connect_token_reaches_a_log_record(service, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0)
    started = await connected(service, await service.start_chat(display_name="Ada"))
    emulator.expire_connection_tokens(started.session.contact_id)
    await service.send_message(started.session, content="hello")
    session = await service.store.load(started.session.chat_id)
    secrets = {
        started.session.participant_token,
        started.session.connection_token,
        session.connection_token,
        started.session_token,
    }
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        assert not any(secret in text for secret in secrets)


async def test_the_customer_leaving_is_the_reason_even_if_connect_reports_the_end_first(
    service, chat
):
    await service.store.note_ending(chat.session.chat_id, "customer_disconnected")
    # The upstream hears Connect's chat-ended event before the customer's own call returns.
    ended = await service.end(chat.session, "chat_ended")
    assert ended.ended_reason == "customer_disconnected"


async def test_a_chat_starts_while_every_thread_of_the_live_chats_is_busy(service, emulator):
    # Live chats' sends hold every thread of the foreground pool: a start does not queue
    # behind them, it has threads of its own.
    release = threading.Event()
    busy = [clients.executor().submit(release.wait, 30) for _ in range(settings.CONNECT_THREADS)]
    try:
        async with asyncio.timeout(20):
            started = await service.start_chat(display_name="Ada")
    finally:
        release.set()
    await asyncio.gather(*(asyncio.wrap_future(future) for future in busy))
    assert [c["contact_id"] for c in emulator.contacts()] == [started.session.contact_id]
