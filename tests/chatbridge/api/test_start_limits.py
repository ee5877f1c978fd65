"""A chat start's address windows, counted by the start's first round trip to Redis (its key's
claim, or its budget's script) rather than by one of their own: each start still counts once,
whatever its answer, and one over the limit is refused before it claims, reads or calls
anything."""

import uuid

import pytest

from chatbridge.api.idempotency import digest, start_scope
from chatbridge.redis import keys
from tests.support.rest import assert_problem, start_chat
from webwidget.lookup import cached_widget, forget

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"widget_id": "shop", "display_name": "Ada"}


@pytest.fixture
def one_start_a_minute(settings):
    settings.CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP = 1


async def test_a_start_over_the_limit_makes_no_connect_call(
    api, widget, emulator, one_start_a_minute
):
    await start_chat(api)
    started = emulator.calls("StartChatContact")

    refused = await api.post("/chats", json=BODY)

    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert emulator.calls("StartChatContact") == started


async def test_a_start_over_the_limit_claims_no_idempotency_key(
    api, widget, redis_client, one_start_a_minute
):
    await start_chat(api)
    key = str(uuid.uuid4())

    refused = await api.post("/chats", json=BODY, headers={"Idempotency-Key": key})

    assert_problem(refused, 429, "rate_limited")
    record = keys().api("idem", f"start:{start_scope('shop', '')}", digest(key))
    assert not await redis_client.exists(record)


async def test_a_start_with_a_key_counts_once(api, widget, settings):
    settings.CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP = 2
    first = await api.post("/chats", json=BODY, headers={"Idempotency-Key": str(uuid.uuid4())})
    second = await api.post("/chats", json=BODY, headers={"Idempotency-Key": str(uuid.uuid4())})
    third = await api.post("/chats", json=BODY, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert (first.status_code, second.status_code) == (201, 201)
    assert_problem(third, 429, "rate_limited")


async def test_a_start_over_the_limit_does_not_read_its_widget(api, widget, one_start_a_minute):
    await start_chat(api)
    forget()

    refused = await api.post("/chats", json=BODY)

    assert_problem(refused, 429, "rate_limited")
    assert cached_widget("shop") == (False, None)


async def test_starts_refused_by_their_own_checks_count_against_the_address(api, widget, settings):
    settings.CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP = 2
    reserved = {**BODY, "attributes": {"identity_sub": "someone"}}

    answers = [await api.post("/chats", json=reserved) for _ in range(3)]

    assert [answer.status_code for answer in answers[:2]] == [422, 422]
    assert_problem(answers[2], 429, "rate_limited")
    assert_problem(await api.post("/chats", json=BODY), 429, "rate_limited")


async def test_a_start_counts_against_the_addresss_requests_too(api, widget, settings):
    settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_IP = 2
    await start_chat(api)
    assert (await api.get("/widgets/shop/config")).status_code == 200
    assert_problem(await api.get("/widgets/shop/config"), 429, "rate_limited")
