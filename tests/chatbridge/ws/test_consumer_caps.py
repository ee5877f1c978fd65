"""/ws/chat/ under the live-connection caps: per chat from auth, per client address from the
handshake (by the trusted-proxy rule), freed on close, never held by a dead process."""

import pytest

from chatbridge.redis import keys
from chatbridge.ws.consumer import CLOSE_TOO_MANY_CONNECTIONS
from tests.support.closing import close
from tests.support.ws_client import ChatClient, authenticated_client

pytestmark = pytest.mark.django_db(transaction=True)

PER_CHAT = 2
PER_ADDRESS = 3


@pytest.fixture(autouse=True)
def caps(settings):
    """Small caps, set before the runtime that reads them is built."""
    settings.CHATBRIDGE_CONNECTIONS_PER_CHAT = PER_CHAT
    settings.CHATBRIDGE_CONNECTIONS_PER_ADDRESS = PER_ADDRESS


@pytest.fixture
async def chat(runtime):
    return await runtime.service.start_chat(display_name="Ada")


async def test_a_chat_takes_its_cap_of_tabs_and_refuses_one_more(chat):
    tabs = [await authenticated_client(chat.session_token) for _ in range(PER_CHAT)]
    extra = ChatClient()
    assert await extra.connect()
    refused = await extra.auth(chat.session_token)
    assert refused["code"] == "too_many_connections" and refused["ref"] == "auth"
    assert refused["retry_after"] >= 1
    assert await extra.closed_with() == CLOSE_TOO_MANY_CONNECTIONS
    for client in (*tabs, extra):
        await close(client)


async def test_closing_a_tab_frees_its_place_for_a_new_one(chat):
    first = await authenticated_client(chat.session_token)
    second = await authenticated_client(chat.session_token)
    await close(first)
    third = await authenticated_client(chat.session_token)
    await close(second)
    await close(third)


async def test_a_dead_process_holds_no_place_in_the_chat(chat, redis_client):
    """Another process died with two tabs open: nothing refreshes them any more, so they are
    past their expiry."""
    key = keys().chat_connections(chat.session.chat_id)
    await redis_client.zadd(key, {"dead-tab-1": 1, "dead-tab-2": 2})
    client = await authenticated_client(chat.session_token)
    assert await redis_client.zscore(key, "dead-tab-1") is None
    await close(client)


async def test_one_address_behind_a_proxy_takes_its_cap_whatever_it_claims(settings, runtime):
    """The proxy appends the real address; the entry to its left is the client's to choose."""
    settings.CHATBRIDGE_API_TRUSTED_PROXIES = 1
    proxy = ("10.0.0.9", 50000)
    clients = [
        ChatClient(client=proxy, forwarded_for=f"192.0.2.{n}, 203.0.113.7")
        for n in range(PER_ADDRESS + 1)
    ]
    for client in clients[:PER_ADDRESS]:
        assert await client.connect()
    extra = clients[-1]
    assert await extra.connect()
    refused = await extra.receive()
    assert refused["type"] == "error" and refused["code"] == "too_many_connections"
    assert await extra.closed_with() == CLOSE_TOO_MANY_CONNECTIONS
    other = ChatClient(client=proxy, forwarded_for="203.0.113.7, 198.51.100.1")
    assert await other.connect()
    pong = await other.request({"type": "ping"})
    assert pong["type"] == "pong"
    for client in (*clients, other):
        await close(client)
