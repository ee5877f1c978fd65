"""SSE streams and long-polls under the live-connection caps that websockets share."""

import pytest

from tests.support.rest import SseStream, assert_problem, bearer, events_page, start_chat

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def one_per_chat(settings):
    """Set before the runtime that reads it is built."""
    settings.CHATBRIDGE_CONNECTIONS_PER_CHAT = 1


def stream_path(chat) -> str:
    return f"/api/v1/chats/{chat['chat_id']}/events/stream"


async def test_a_stream_over_the_chats_cap_is_answered_429_with_retry_after(api, chat):
    async with SseStream(stream_path(chat), bearer(chat)) as first:
        assert first.status == 200
        response = await api.get(f"/chats/{chat['chat_id']}/events/stream", headers=bearer(chat))
        assert_problem(response, 429, "too_many_connections")
        assert int(response.headers["Retry-After"]) >= 1


async def test_a_long_poll_waits_under_the_same_cap_and_a_page_read_does_not(api, chat):
    path = f"/chats/{chat['chat_id']}/events"
    async with SseStream(stream_path(chat), bearer(chat)):
        waiting = await api.get(path, params={"wait": 5}, headers=bearer(chat))
        assert_problem(waiting, 429, "too_many_connections")
        events_page(await api.get(path, headers=bearer(chat)))


async def test_a_closed_stream_frees_its_place(chat):
    async with SseStream(stream_path(chat), bearer(chat)) as first:
        assert first.status == 200
    async with SseStream(stream_path(chat), bearer(chat)) as second:
        assert second.status == 200


@pytest.fixture
def one_per_address(settings):
    """Listed before the runtime's fixtures, so set before the runtime reads it."""
    settings.CHATBRIDGE_CONNECTIONS_PER_ADDRESS = 1
    settings.CHATBRIDGE_API_TRUSTED_PROXIES = 1


async def test_an_address_behind_a_proxy_takes_its_cap_across_chats(one_per_address, api, widget):
    first, second = await start_chat(api), await start_chat(api)
    behind = {"X-Forwarded-For": "192.0.2.1, 198.51.100.1"}
    async with SseStream(stream_path(first), {**bearer(first), **behind}) as stream:
        assert stream.status == 200
        spoofed = {"X-Forwarded-For": "192.0.2.2, 198.51.100.1"}
        refused = await api.get(
            f"/chats/{second['chat_id']}/events/stream", headers={**bearer(second), **spoofed}
        )
        assert_problem(refused, 429, "too_many_connections")
        elsewhere = {"X-Forwarded-For": "198.51.100.2"}
        async with SseStream(stream_path(second), {**bearer(second), **elsewhere}) as other:
            assert other.status == 200
