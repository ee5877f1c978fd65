"""The REST API under Connect's quotas: the emulator enforces them (quotas on) and ChatBridge's
shared budget is sized to match. Rates are tiny so that the tests reach them in a few calls;
a rate of one token per 100 s means no token appears during a test unless it puts one there."""

import asyncio
import uuid
from typing import Any

import pytest

from chatbridge.connect.budget import ConnectBudget
from chatbridge.redis import keys
from tests.support.redis_waits import until_key, until_members
from tests.support.rest import (
    assert_problem,
    bearer,
    contact_id,
    start_chat,
    wait_for_agent_message,
)

pytestmark = pytest.mark.django_db(transaction=True)

GUARD = 30


def customer_messages(emulator, contact: str) -> list[str]:
    return [
        item["Content"]
        for item in emulator.contact(contact)["items"]
        if item["Type"] == "MESSAGE" and item["ParticipantRole"] == "CUSTOMER"
    ]


async def send(api, chat: dict[str, Any], content: str, key: str | None = None):
    headers = bearer(chat)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await api.post(
        f"/chats/{chat['chat_id']}/messages", json={"content": content}, headers=headers
    )


async def test_a_send_that_waits_for_the_budget_says_queued_and_reaches_connect_once(
    api, chat, emulator, runtime, settings
):
    emulator.set_quotas(SendMessage="1/1")
    settings.CHATBRIDGE_CONNECT_RATES = "SendMessage=1/1"
    first = await send(api, chat, "first")
    second = await send(api, chat, "second", key="k-2")
    retried = await send(api, chat, "second", key="k-2")

    assert first.status_code == 201 and first.json()["queued"] is False
    assert second.status_code == 201, second.text
    assert second.json()["queued"] is True and second.json()["status"] == "sent"
    assert retried.json()["id"] == second.json()["id"]
    assert customer_messages(emulator, await contact_id(runtime, chat)) == ["first", "second"]


async def test_a_wait_beyond_the_maximum_answers_throttled_with_retry_after(
    api, chat, emulator, runtime, settings
):
    emulator.set_quotas(SendMessage="0.01/1")
    settings.CHATBRIDGE_CONNECT_RATES = "SendMessage=0.01/1"
    settings.CHATBRIDGE_CONNECT_MAX_WAIT = 5
    assert (await send(api, chat, "first")).status_code == 201
    refused = await send(api, chat, "second")

    assert_problem(refused, 429, "throttled")
    assert int(refused.headers["retry-after"]) >= 90  # the next token is 100 s away
    assert customer_messages(emulator, await contact_id(runtime, chat)) == ["first"]


async def test_a_throttle_from_connect_slows_the_budget_and_the_client_sees_no_error(
    api, chat, emulator, runtime, redis_client
):
    emulator.set_quotas()
    emulator.fault("SendMessage", "throttle", count=1)
    sent = await send(api, chat, "throttled once")

    assert sent.status_code == 201, sent.text
    bucket = await redis_client.hgetall(keys().connect_budget("SendMessage"))
    assert b"slowed" in bucket  # the throttle emptied the bucket and was noted
    assert customer_messages(emulator, await contact_id(runtime, chat)) == ["throttled once"]


async def test_typing_without_a_free_token_is_dropped_silently(
    api, chat, emulator, runtime, settings
):
    emulator.set_quotas(SendEvent="0.01/1")
    settings.CHATBRIDGE_CONNECT_RATES = "SendEvent=0.01/1"
    await ConnectBudget.from_settings().acquire("SendEvent")  # the one token
    typed = await api.post(
        f"/chats/{chat['chat_id']}/events", json={"type": "typing"}, headers=bearer(chat)
    )

    assert typed.status_code == 202
    assert typed.json() == {"accepted": True, "sent": False, "status": "skipped"}
    items = emulator.contact(await contact_id(runtime, chat))["items"]
    assert not [i for i in items if i["ContentType"].endswith(".typing")]


async def test_a_read_receipt_replaces_the_chats_pending_delivered_receipt(
    api, chat, emulator, runtime, settings, redis_client
):
    emulator.set_quotas(SendEvent="0.01/5")
    settings.CHATBRIDGE_CONNECT_RATES = "SendEvent=0.01/5"
    settings.CHATBRIDGE_CONNECT_MAX_WAIT = 3600
    contact = await contact_id(runtime, chat)
    emulator.agent_join(contact)
    ids = [emulator.agent_message(contact, text)["Id"] for text in ("one", "two")]
    await wait_for_agent_message(api, chat, "two")
    bucket = keys().connect_budget("SendEvent")
    await ConnectBudget.from_settings().acquire("SendEvent")
    await redis_client.hset(bucket, "tokens", 0)

    def receipt(kind: str, message_id: str):
        return api.post(
            f"/chats/{chat['chat_id']}/events",
            json={"type": kind, "message_id": message_id},
            headers=bearer(chat),
        )

    sender = asyncio.create_task(receipt("delivered", ids[0]))
    await until_members(redis_client, keys().connect_budget("SendEvent", "queue"), 1)
    delivered = await receipt("delivered", ids[1])
    read = await receipt("read", ids[1])
    await redis_client.hset(bucket, "tokens", 2)
    first = await asyncio.wait_for(sender, GUARD)

    assert [r.json()["status"] for r in (first, delivered, read)] == ["sent", "queued", "queued"]
    receipts = [
        item["MessageMetadata"]
        for item in emulator.contact(contact)["items"]
        if item["Type"] == "MESSAGEMETADATA"
    ]
    assert [r["MessageId"] for r in receipts] == ids
    assert "ReadTimestamp" not in receipts[0]["Receipts"][0]
    assert "ReadTimestamp" in receipts[1]["Receipts"][0]


async def test_a_start_at_the_concurrent_chats_cap_answers_at_capacity(api, widget, emulator):
    emulator.set_quotas(ActiveChats=1)
    await start_chat(api)
    refused = await api.post("/chats", json={"widget_id": "shop", "display_name": "Bo"})

    body = assert_problem(refused, 503, "at_capacity")
    assert int(refused.headers["retry-after"]) >= 1
    assert "busy" in body["detail"]


async def test_sends_keep_working_while_the_chats_upstream_waits_for_the_budget(
    api, widget, emulator, runtime, settings, redis_client
):
    emulator.set_quotas(CreateParticipantConnection="0.01/1")
    settings.CHATBRIDGE_CONNECT_RATES = "CreateParticipantConnection=0.01/1"
    settings.CHATBRIDGE_CONNECT_MAX_WAIT = 3600
    # The start spends the one token, and its upstream opens on the start's connection; once
    # Connect drops that websocket, the upstream queues for the next token.
    chat = await start_chat(api)
    status = keys().chat(chat["chat_id"], "upstream-status")

    async def connected() -> bool:
        return ((await redis_client.get(status)) or b"").startswith(b"connected|")

    await until_key(redis_client, status, connected)
    emulator.drop_websockets(await contact_id(runtime, chat))
    queue = keys().connect_budget("CreateParticipantConnection", "queue")
    await until_members(redis_client, queue, 1)
    sent = await send(api, chat, "while the upstream waits")

    assert sent.status_code == 201, sent.text
    assert await redis_client.zcard(queue) == 1
    upstream = (await api.get(f"/chats/{chat['chat_id']}", headers=bearer(chat))).json()
    assert upstream["upstream"] != "connected"


async def test_a_start_waiting_for_its_turn_can_learn_its_place_in_the_queue(
    api, widget, emulator, settings, redis_client
):
    emulator.set_quotas(StartChatContact="0.01/1")
    settings.CHATBRIDGE_CONNECT_RATES = "StartChatContact=0.01/1"
    settings.CHATBRIDGE_CONNECT_START_MAX_WAIT = 3600
    await start_chat(api)  # the one token
    keys_ = [str(uuid.uuid4()) for _ in range(2)]
    body = {"widget_id": "shop", "display_name": "Bo"}
    queue = keys().connect_budget("StartChatContact", "queue")
    starts = []
    for n, key in enumerate(keys_, start=1):
        starts.append(
            asyncio.create_task(api.post("/chats", json=body, headers={"Idempotency-Key": key}))
        )
        await until_members(redis_client, queue, n)

    async def position(key: str) -> int | None:
        answer = await api.get("/widgets/shop/starts", headers={"Idempotency-Key": key})
        assert answer.status_code == 200, answer.text
        return answer.json()["position"]

    assert [await position(key) for key in keys_] == [1, 2]
    await refill_starts(emulator, redis_client)
    first = await asyncio.wait_for(starts[0], GUARD)
    assert first.status_code == 201, first.text
    assert [await position(key) for key in keys_] == [None, 1]
    assert await position(str(uuid.uuid4())) is None
    await refill_starts(emulator, redis_client)
    assert (await asyncio.wait_for(starts[1], GUARD)).status_code == 201


async def test_a_start_waits_for_its_turn_beyond_a_messages_maximum_wait(
    api, widget, emulator, settings, redis_client
):
    emulator.set_quotas(StartChatContact="0.01/1")
    settings.CHATBRIDGE_CONNECT_RATES = "StartChatContact=0.01/1"
    settings.CHATBRIDGE_CONNECT_MAX_WAIT = 0
    settings.CHATBRIDGE_CONNECT_START_MAX_WAIT = 3600
    await start_chat(api)  # the one token
    body = {"widget_id": "shop", "display_name": "Bo"}
    waiting = asyncio.create_task(api.post("/chats", json=body))
    await until_members(redis_client, keys().connect_budget("StartChatContact", "queue"), 1)
    await refill_starts(emulator, redis_client)
    started = await asyncio.wait_for(waiting, GUARD)
    assert started.status_code == 201, started.text


async def refill_starts(emulator, redis_client) -> None:
    """One chat start more, in ChatBridge's budget and in Connect's."""
    emulator.set_quotas(StartChatContact="0.01/1")
    await redis_client.hset(keys().connect_budget("StartChatContact"), "tokens", 1)


@pytest.fixture(autouse=True)
def _quotas_off_again(emulator):
    """The session's emulator runs without quotas for every other test."""
    yield
    emulator.reset()
