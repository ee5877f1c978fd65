"""SSE streams and long-polls under the live-connection caps that websockets share."""

import pytest

from tests.support.rest import SseStream, assert_problem, bearer, events_page

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
