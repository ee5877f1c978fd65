"""/ws/chat/ under Connect's quotas: the emulator enforces a tiny SendMessage rate and
ChatBridge's shared budget is sized to match. More sends than the burst are queued, not
failed, and each reaches Connect exactly once.

The rate is one token per 100 s, so no token appears during a test unless the test puts one
there: `refill` stands for time passing, in ChatBridge's budget and in Connect's alike.
"""

import asyncio

import pytest

from chatbridge.redis import keys
from tests.support.closing import close
from tests.support.redis_waits import until_members
from tests.support.ws_client import ChatClient, authenticated_client

pytestmark = pytest.mark.django_db(transaction=True)

SENDS = 7
BURST = 3
RATE = f"0.01/{BURST}"
SPENT_AT_ONCE = BURST - 1  # the budget keeps one token in reserve


@pytest.fixture(autouse=True)
def _quotas_off_again(emulator):
    """The session's emulator runs without quotas for every other test."""
    yield
    emulator.reset()


async def refill(emulator, redis_client) -> None:
    """One token more, in ChatBridge's budget and in Connect's (whose buckets start full
    again, at the same burst)."""
    emulator.set_quotas(SendMessage=RATE)
    await redis_client.hset(keys().connect_budget("SendMessage"), "tokens", 1)


async def test_sends_beyond_the_burst_are_queued_then_sent_once_each(
    runtime, emulator, settings, redis_client
):
    emulator.set_quotas(SendMessage=RATE)
    settings.CHATBRIDGE_CONNECT_RATES = f"SendMessage={RATE}"
    settings.CHATBRIDGE_CONNECT_MAX_WAIT = 3600
    chat = await runtime.service.start_chat(display_name="Ada")
    client = ChatClient()
    assert await client.connect()
    await client.send({"type": "auth", "token": chat.session_token, "queued_acks": True})
    await client.receive_until(lambda f: f["type"] == "ready")
    for n in range(SENDS):
        await client.send({"type": "send", "content": f"m{n}", "client_id": f"c{n}"})
    sent = set()
    while len(sent) < SENDS:
        frame = await client.receive(timeout=30)
        assert frame["type"] != "error", frame
        if frame["type"] == "ack" and frame["status"] == "queued":
            await refill(emulator, redis_client)
        if frame["type"] == "ack" and frame["status"] == "sent":
            sent.add(frame["ref"])
    await close(client)

    answers = [(f["ref"], f["status"]) for f in client.frames if f["type"] == "ack"]
    assert answers == [(f"c{n}", "sent") for n in range(SPENT_AT_ONCE)] + [
        (f"c{n}", status) for n in range(SPENT_AT_ONCE, SENDS) for status in ("queued", "sent")
    ]
    items = emulator.contact(chat.session.contact_id)["items"]
    assert [i["Content"] for i in items if i["Type"] == "MESSAGE"] == [
        f"m{n}" for n in range(SENDS)
    ]


@pytest.fixture
async def waiting_chat(runtime, emulator, settings, redis_client):
    """A chat with a client, whose sends wait: SendMessage's budget is empty."""
    emulator.set_quotas(SendMessage=RATE)
    settings.CHATBRIDGE_CONNECT_RATES = f"SendMessage={RATE}"
    settings.CHATBRIDGE_CONNECT_MAX_WAIT = 3600
    await redis_client.hset(keys().connect_budget("SendMessage"), "tokens", 0)
    chat = await runtime.service.start_chat(display_name="Ada")
    return chat, await authenticated_client(chat.session_token)


async def test_a_client_that_did_not_ask_for_queued_acks_gets_only_the_final_ones(
    waiting_chat, emulator, redis_client
):
    chat, client = waiting_chat
    await client.send({"type": "send", "content": "waits", "client_id": "c1", "ref": "r1"})
    await until_members(redis_client, keys().connect_budget("SendMessage", "queue"), 1)
    await refill(emulator, redis_client)
    ack = await client.receive_until(lambda f: f.get("ref") == "r1")
    await close(client)

    assert ack["type"] == "ack" and ack["status"] == "sent"
    assert [f for f in client.frames if f["type"] == "ack"] == [ack]


async def test_a_send_waiting_for_its_turn_holds_up_none_of_the_connections_other_frames(
    waiting_chat, emulator, redis_client
):
    chat, client = waiting_chat
    await client.send({"type": "send", "content": "waits", "client_id": "c1", "ref": "r1"})
    await until_members(redis_client, keys().connect_budget("SendMessage", "queue"), 1)

    pong = await client.request({"type": "ping"})
    typing = await client.request({"type": "typing"})
    await refill(emulator, redis_client)
    ack = await client.receive_until(lambda f: f.get("ref") == "r1")
    await close(client)

    assert pong["type"] == "pong" and typing["type"] == "ack"
    assert ack["type"] == "ack" and ack["status"] == "sent"


async def test_sends_that_wait_for_their_turn_keep_the_customers_order(
    waiting_chat, emulator, redis_client
):
    chat, client = waiting_chat
    for n in range(3):
        await client.send({"type": "send", "content": f"m{n}", "client_id": f"c{n}"})
    for n in range(3):
        await until_members(redis_client, keys().connect_budget("SendMessage", "queue"), 1)
        await refill(emulator, redis_client)
        await client.receive_until(lambda f, n=n: f.get("ref") == f"c{n}")
    await close(client)

    items = emulator.contact(chat.session.contact_id)["items"]
    assert [i["Content"] for i in items if i["Type"] == "MESSAGE"] == ["m0", "m1", "m2"]


async def test_a_connection_whose_sends_are_done_holds_no_task_for_them(
    waiting_chat, emulator, redis_client, runtime
):
    chat, client = waiting_chat
    await client.send({"type": "send", "content": "waits", "client_id": "c1", "ref": "r1"})
    await until_members(redis_client, keys().connect_budget("SendMessage", "queue"), 1)
    (consumer,) = [
        c for c in runtime._connections if c.session and c.session.chat_id == chat.session.chat_id
    ]
    sending = consumer.ordered_worker
    await refill(emulator, redis_client)
    await client.receive_until(lambda f: f.get("ref") == "r1")
    await asyncio.wait([sending], timeout=30)
    await close(client)

    assert sending.done() and not sending.cancelled()
    assert consumer.ordered_worker is None and consumer.ordered is None
