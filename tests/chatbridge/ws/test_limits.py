"""/ws/chat/'s limits on frames that cost Connect calls, Redis or replays of the log: per
connection and per chat, each refusal a `rate_limited` error with `retry_after`, and the
connection answering on."""

from collections.abc import Callable

import pytest

from chatbridge.redis import keys
from tests.support.closing import close
from tests.support.ws_client import ChatClient, Frame, authenticated_client, is_agent_message

# Channels closes stale database connections around every consumer event.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def chat(runtime):
    return await runtime.service.start_chat(display_name="Ada")


async def agent_wrote(client: ChatClient, emulator, contact_id: str, *contents: str) -> list[str]:
    """The Connect item Ids of the agent's messages, once the client has seen them all."""
    emulator.agent_join(contact_id)
    ids = [emulator.agent_message(contact_id, content)["Id"] for content in contents]
    await client.wait_for(is_agent_message(contents[-1]))
    return ids


def read(message_id: str) -> Frame:
    return {"type": "receipt", "message_id": message_id, "kind": "read"}


def is_receipt_for(message_id: str) -> Callable[[Frame], bool]:
    return lambda f: (
        f["type"] == "event"
        and f["event"]["type"] == "receipt"
        and f["event"]["message_id"] == message_id
    )


def receipted_in_connect(emulator, contact_id: str) -> set[str]:
    """The message ids that Connect holds receipts for: one per SendEvent of a receipt."""
    items = emulator.contact(contact_id)["items"]
    return {i["MessageMetadata"]["MessageId"] for i in items if i["Type"] == "MESSAGEMETADATA"}


def assert_rate_limited(answer: Frame, *, within: float) -> None:
    assert (answer["type"], answer["code"]) == ("error", "rate_limited"), answer
    assert 0 < answer["retry_after"] <= within


async def test_receipts_past_the_connection_limit_are_refused_and_never_reach_connect(
    chat, emulator, settings
):
    settings.CHATBRIDGE_WS_RECEIPTS_PER_MINUTE = 2
    contact_id = chat.session.contact_id
    client = await authenticated_client(chat.session_token)
    first, second, third = await agent_wrote(client, emulator, contact_id, "a", "b", "c")

    answers = [await client.request(read(message_id)) for message_id in (first, second, third)]

    assert [a["type"] for a in answers[:2]] == ["ack", "ack"]
    assert_rate_limited(answers[2], within=30)
    for message_id in (first, second):
        await client.wait_for(is_receipt_for(message_id))
    assert receipted_in_connect(emulator, contact_id) == {first, second}
    await close(client)


async def test_the_chat_receipt_limit_is_shared_by_its_connections(chat, emulator, settings):
    settings.CHATBRIDGE_CHAT_RECEIPTS_PER_MINUTE = 2
    contact_id = chat.session.contact_id
    one, two = [await authenticated_client(chat.session_token) for _ in range(2)]
    first, second, third = await agent_wrote(one, emulator, contact_id, "a", "b", "c")

    assert (await one.request(read(first)))["type"] == "ack"
    assert (await two.request(read(second)))["type"] == "ack"
    refused = await one.request(read(third))

    assert_rate_limited(refused, within=60)
    for message_id in (first, second):
        await one.wait_for(is_receipt_for(message_id))
    assert receipted_in_connect(emulator, contact_id) == {first, second}
    await close(one)
    await close(two)


async def test_a_receipt_for_an_unknown_message_is_refused_without_connect_or_redis(
    chat, emulator, redis_client
):
    contact_id = chat.session.contact_id
    client = await authenticated_client(chat.session_token)
    (known,) = await agent_wrote(client, emulator, contact_id, "a")

    refused = await client.request(read("made-up"))
    await client.request(read(known))
    # Receipts go out in order, a batch at a time: once the known one is in, a receipt queued
    # before it would have been sent.
    await client.wait_for(is_receipt_for(known))

    assert (refused["code"], refused["field"]) == ("unknown_message", "message_id")
    marker = keys().chat(chat.session.chat_id, "receipt", "read", "made-up")
    assert await redis_client.exists(marker) == 0
    assert [f["code"] for f in client.frames if f["type"] == "error"] == ["unknown_message"]
    assert receipted_in_connect(emulator, contact_id) == {known}
    await close(client)


async def test_a_receipt_may_not_name_an_event_that_is_not_a_message(chat, emulator):
    """Receipts make receipts: naming one would let a client make Connect items forever."""
    contact_id = chat.session.contact_id
    client = await authenticated_client(chat.session_token)
    (message_id,) = await agent_wrote(client, emulator, contact_id, "a")
    await client.request(read(message_id))
    receipt = await client.wait_for(is_receipt_for(message_id))

    refused = await client.request(read(receipt["event"]["id"]))

    assert refused["code"] == "unknown_message"
    await close(client)


async def test_syncs_past_the_connection_limit_are_refused(chat, settings):
    settings.CHATBRIDGE_WS_SYNCS_PER_MINUTE = 2
    client = await authenticated_client(chat.session_token)

    answers = [await client.request({"type": "sync", "after": 0}) for _ in range(3)]

    assert [a["type"] for a in answers[:2]] == ["ack", "ack"]
    assert_rate_limited(answers[2], within=30)
    await close(client)


async def test_the_chat_sync_limit_is_shared_by_its_connections(chat, settings):
    settings.CHATBRIDGE_CHAT_SYNCS_PER_MINUTE = 2
    one, two = [await authenticated_client(chat.session_token) for _ in range(2)]

    assert (await one.request({"type": "sync", "after": 0}))["type"] == "ack"
    assert (await two.request({"type": "sync", "after": 0}))["type"] == "ack"
    refused = await one.request({"type": "sync", "after": 0})

    assert_rate_limited(refused, within=60)
    await close(one)
    await close(two)


async def test_a_refused_sync_replays_nothing(chat, emulator, settings):
    settings.CHATBRIDGE_WS_SYNCS_PER_MINUTE = 1
    client = await authenticated_client(chat.session_token)
    await agent_wrote(client, emulator, chat.session.contact_id, "a")
    await client.request({"type": "sync", "after": 0})
    events_before = len(client.events())

    refused = await client.request({"type": "sync", "after": 0})

    assert refused["code"] == "rate_limited"
    assert len(client.events()) == events_before
    await close(client)


async def test_typing_past_the_connection_limit_is_refused(chat, settings):
    settings.CHATBRIDGE_WS_TYPING_PER_MINUTE = 1
    client = await authenticated_client(chat.session_token)

    first = await client.request({"type": "typing"})
    refused = await client.request({"type": "typing"})

    assert first["type"] == "ack"
    assert_rate_limited(refused, within=60)
    await close(client)


async def test_typing_reaches_connect_once_per_interval_whichever_connection_sends_it(
    chat, emulator, settings
):
    settings.CHATBRIDGE_TYPING_INTERVAL = 3600  # both within it, however slow the machine
    one, two = [await authenticated_client(chat.session_token) for _ in range(2)]

    first = await one.request({"type": "typing"})
    second = await two.request({"type": "typing"})

    assert (first["sent"], second["sent"]) == (True, False)
    items = emulator.contact(chat.session.contact_id)["items"]
    assert len([i for i in items if i["ContentType"].endswith("typing")]) == 1
    await close(one)
    await close(two)


async def test_ends_past_the_connection_limit_are_refused(chat, settings):
    settings.CHATBRIDGE_WS_ENDS_PER_MINUTE = 1
    client = await authenticated_client(chat.session_token)

    first = await client.request({"type": "end"})
    refused = await client.request({"type": "end"})

    assert first["type"] == "ack"
    assert_rate_limited(refused, within=60)
    await close(client)


async def test_the_chat_end_limit_is_shared_by_its_connections(chat, settings):
    settings.CHATBRIDGE_CHAT_ENDS_PER_MINUTE = 1
    one, two = [await authenticated_client(chat.session_token) for _ in range(2)]

    assert (await one.request({"type": "end"}))["type"] == "ack"
    refused = await two.request({"type": "end"})

    assert_rate_limited(refused, within=60)
    await close(one)
    await close(two)


async def test_a_rate_limited_connection_stays_open_and_answers_other_frames(
    chat, emulator, settings
):
    settings.CHATBRIDGE_WS_RECEIPTS_PER_MINUTE = 1
    client = await authenticated_client(chat.session_token)
    first, second = await agent_wrote(client, emulator, chat.session.contact_id, "a", "b")
    await client.request(read(first))
    refused = await client.request(read(second))

    sent = await client.request({"type": "send", "content": "still here"})

    assert refused["code"] == "rate_limited"
    assert sent["type"] == "ack" and sent["id"]
    assert (await client.request({"type": "ping"}))["type"] == "pong"
    await close(client)
