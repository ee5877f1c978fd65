"""What a client is told as it authenticates, when the chat rings while the consumer is still
reading: a new upstream status, or the chat's end.

The consumer already follows the chat then. A status rung during its status read reaches the
client first, and the read, older, must not be the client's last word; an end rung before
`ready` reaches the client after it. The runtime's Redis goes through a proxy that holds
the reply to the consumer's status read: the read runs in Redis before the holder's write, and
reaches the consumer after the ring, every time.
"""

import asyncio
from collections.abc import AsyncIterator

import pytest
from django.conf import settings

from chatbridge.redis import RedisKeys
from chatbridge.runtime import get_runtime, stop_runtime
from tests.support.closing import close
from tests.support.tcp_proxy import RedisProxy
from tests.support.ws_client import ChatClient

pytestmark = pytest.mark.django_db(transaction=True)

GUARD = 30.0


def is_upstream(frame) -> bool:
    return frame["type"] == "upstream"


def chat_key(chat_id: str, part: str) -> bytes:
    return RedisKeys(settings.CHATBRIDGE_REDIS_PREFIX).chat(chat_id, part).encode()


async def authenticating(proxy: RedisProxy, session_token: str, held: bytes) -> ChatClient:
    """A client that sent its auth, once the consumer's read of the key `held` has run in Redis
    and its reply is held by the proxy."""
    proxy.hold_reply_to(held)
    client = ChatClient()
    assert await client.connect()
    try:
        async with asyncio.timeout(GUARD):
            await client.send({"type": "auth", "token": session_token})
            assert await asyncio.to_thread(proxy.holding.wait, GUARD)
    except BaseException:
        await close(client)
        raise
    return client


@pytest.fixture
async def proxied(fast_relay, redis_server, redis_client, emulator, settings) -> AsyncIterator:
    """This event loop's runtime, its Redis client behind a proxy that can hold a reply."""
    proxy = RedisProxy(("127.0.0.1", redis_server.port))
    settings.REDIS_URL = f"redis://127.0.0.1:{proxy.port}/0"
    runtime = get_runtime()
    yield runtime, proxy
    proxy.release()
    await stop_runtime()
    proxy.close()


async def test_a_status_rung_during_the_auth_read_stays_the_clients_last_word(proxied):
    runtime, proxy = proxied
    # The test plays the chat's holder, in this process: its lease, its status, its rings.
    await runtime.supervisor.stop()
    chat = await runtime.service.start_chat(display_name="Ada")
    chat_id = chat.session.chat_id
    lease = runtime.supervisor.lease(chat_id)
    assert await lease.acquire()
    await runtime.relay.upstream_status(chat_id, "reconnecting", fence=lease.fence)
    client = await authenticating(
        proxy, chat.session_token, held=chat_key(chat_id, "upstream-status")
    )
    try:
        async with asyncio.timeout(GUARD):
            # The consumer's read ran; its answer waits. The holder connects meanwhile.
            await runtime.relay.upstream_status(chat_id, "connected", fence=lease.fence)
            rung = await client.receive_until(is_upstream)
            proxy.release()
            after = await client.receive_until(is_upstream)
    finally:
        await close(client)

    assert rung["status"] == "connected"
    assert after["status"] == "connected"
    assert await runtime.relay.current_upstream_status(chat_id) == "connected"


async def test_an_end_rung_while_the_client_authenticates_reaches_it_after_ready(proxied):
    runtime, proxy = proxied
    await runtime.supervisor.stop()
    chat = await runtime.service.start_chat(display_name="Ada")
    chat_id = chat.session.chat_id
    client = await authenticating(proxy, chat.session_token, held=chat_key(chat_id, "cursor"))
    try:
        async with asyncio.timeout(GUARD):
            # The consumer follows the chat already, and waits for the log's cursor.
            await runtime.relay.ended(chat_id, "abandoned")
            proxy.release()
            ended = await client.receive_until(lambda f: f["type"] == "ended")
    finally:
        await close(client)

    assert client.frames[0]["type"] == "ready"
    assert ended["reason"] == "abandoned"
