"""A chat's requests under the address's and the chat's request limits, which are counted in
one round trip with the session token's lookup (chatbridge.api.gate): each limit still
counts, refuses as documented and in the same order, and a token still opens only its chat."""

import pytest

from chatbridge.redis import keys
from tests.support.redis_waits import until_members
from tests.support.rest import assert_problem, bearer, events_page, start_chat

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_chats_requests_count_against_the_address(api, chat, settings):
    settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_IP = 3  # the start was the first
    path = f"/chats/{chat['chat_id']}"
    assert (await api.get(path, headers=bearer(chat))).status_code == 200
    events_page(await api.get(f"{path}/events", headers=bearer(chat)))
    refused = await api.get(path, headers=bearer(chat))
    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Refused before its token is looked at: a bad one gets the same answer.
    unknown = await api.get(path, headers={"Authorization": "Bearer cbs_made-up"})
    assert_problem(unknown, 429, "rate_limited")


async def test_long_polls_and_sends_count_against_the_chat(api, chat, settings):
    settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_CHAT = 3
    path = f"/chats/{chat['chat_id']}"
    events_page(await api.get(f"{path}/events", params={"wait": 1}, headers=bearer(chat)))
    sent = await api.post(f"{path}/messages", json={"content": "hi"}, headers=bearer(chat))
    assert sent.status_code == 201, sent.text
    events_page(await api.get(f"{path}/events", params={"wait": 1}, headers=bearer(chat)))
    refused = await api.get(f"{path}/events", params={"wait": 1}, headers=bearer(chat))
    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    refused = await api.post(f"{path}/messages", json={"content": "hi"}, headers=bearer(chat))
    assert_problem(refused, 429, "rate_limited")


async def test_an_unknown_token_is_not_authenticated(api, chat):
    response = await api.get(
        f"/chats/{chat['chat_id']}/events", headers={"Authorization": "Bearer cbs_made-up"}
    )
    body = assert_problem(response, 401, "not_authenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    assert "cbs_made-up" not in response.text
    assert body["status"] == 401


async def test_a_token_of_another_chat_finds_no_chat_and_counts_against_neither(
    api, chat, settings
):
    settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_CHAT = 1
    other = await start_chat(api)
    stranger = await api.get(f"/chats/{other['chat_id']}", headers=bearer(chat))
    assert_problem(stranger, 404, "unknown_chat")
    assert (await api.get(f"/chats/{other['chat_id']}", headers=bearer(other))).status_code == 200
    assert (await api.get(f"/chats/{chat['chat_id']}", headers=bearer(chat))).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/events?limit=0", 422),
        ("POST", "/messages", 422),
        ("GET", "/no-such-thing", 404),
        ("PUT", "/messages", 405),
    ],
)
async def test_a_request_that_never_reaches_the_chat_is_not_counted_against_it(
    api, chat, settings, method, path, status
):
    settings.CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_CHAT = 1
    base = f"/chats/{chat['chat_id']}"
    refused = await api.request(method, base + path, json={}, headers=bearer(chat))
    assert refused.status_code == status, refused.text
    assert (await api.get(base, headers=bearer(chat))).status_code == 200
    assert_problem(await api.get(base, headers=bearer(chat)), 429, "rate_limited")


async def test_a_long_polls_place_is_given_back_as_it_answers(api, chat, settings, redis_client):
    settings.CHATBRIDGE_CONNECTIONS_PER_CHAT = 1
    path = f"/chats/{chat['chat_id']}/events"
    for _ in range(3):
        page = events_page(await api.get(path, params={"wait": 5}, headers=bearer(chat)))
        assert page["events"]
    await until_members(redis_client, keys().chat_connections(chat["chat_id"]), 0)


async def test_a_chat_whose_record_cannot_be_read_is_answered_as_an_internal_error(
    api, chat, redis_client
):
    await redis_client.hset(keys().chat(chat["chat_id"]), "participant_token", b"not-fernet")
    response = await api.get(f"/chats/{chat['chat_id']}", headers=bearer(chat))
    assert_problem(response, 500, "internal_error")
