"""An open Server-Sent Events stream counts in chatbridge_http_streams while it is open."""

import pytest
from prometheus_client import REGISTRY

from tests.support.rest import SseStream, bearer

pytestmark = pytest.mark.django_db(transaction=True)


def open_sse_streams() -> float:
    return REGISTRY.get_sample_value("chatbridge_http_streams", {"kind": "sse"}) or 0.0


async def test_an_sse_stream_is_counted_while_it_is_open(api, chat):
    before = open_sse_streams()
    path = f"/api/v1/chats/{chat['chat_id']}/events/stream"

    async with SseStream(path, bearer(chat)) as stream:
        while (await stream.next_event())["event"] != "upstream":
            pass
        during = open_sse_streams()
    after = open_sse_streams()

    assert (during, after) == (before + 1, before)
