"""A live chat goes on through a Redis Sentinel failover: the customer's websocket stays, what
is said after the failover reaches it, and it sees every message once.

ChatBridge runs on a real sentinel group (a primary, a replica, three sentinels); the chat is a
real one through the ASGI app's websocket and the emulator.
"""

from collections.abc import Awaitable, Callable, Iterator

import pytest

from chatbridge.dev.services import RedisServer, SentinelGroup
from chatbridge.runtime import get_runtime, stop_runtime
from tests.support.closing import close
from tests.support.sentinels import (
    crash_primary,
    fail_over,
    replicated,
    sentinel_settings,
)
from tests.support.tcp_proxy import RedisProxy
from tests.support.ws_client import authenticated_client, is_agent_message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_relay")]


@pytest.fixture
def on_sentinel() -> Iterator[SentinelGroup]:
    group = SentinelGroup().start()
    try:
        with sentinel_settings(group):
            yield group
    finally:
        group.stop()


FAILOVERS: dict[str, Callable[[SentinelGroup], Awaitable[int]]] = {
    "sentinel failover": fail_over,
    "primary crash": crash_primary,
}


@pytest.mark.parametrize("failover", FAILOVERS.values(), ids=FAILOVERS.keys())
async def test_a_live_chat_goes_on_through_a_failover(on_sentinel, emulator, failover):
    runtime = get_runtime()
    try:
        chat = await runtime.service.start_chat(display_name="Ada")
        contact_id = chat.session.contact_id
        emulator.agent_join(contact_id)
        client = await authenticated_client(chat.session_token, connected=True)
        emulator.agent_message(contact_id, "before the failover")
        await client.wait_for(is_agent_message("before the failover"))
        assert (await client.request({"type": "send", "content": "hello"}))["type"] == "ack"
        await replicated(on_sentinel)

        await failover(on_sentinel)

        emulator.agent_message(contact_id, "after the failover")
        await client.wait_for(is_agent_message("after the failover"))
        ack = await client.request({"type": "send", "content": "still here"})
        assert ack["type"] == "ack"
        emulator.agent_message(contact_id, "and on")
        await client.wait_for(is_agent_message("and on"))
        assert client.messages() == [
            "before the failover",
            "hello",
            "after the failover",
            "still here",
            "and on",
        ]
        await close(client)

        # The log on the new primary has it all, once: what a reconnecting client reads.
        later = await authenticated_client(chat.session_token)
        assert later.messages() == client.messages()
        await close(later)
    finally:
        await stop_runtime()


@pytest.fixture
def held_replica() -> Iterator[tuple[SentinelGroup, RedisProxy]]:
    """A sentinel group whose primary the replica and the sentinels know through a proxy
    that can hold its replication."""
    primary = RedisServer()
    proxy = RedisProxy(("127.0.0.1", primary.port))
    group = SentinelGroup(primary=primary, primary_known_as=proxy.port)
    try:
        group.start()
        with sentinel_settings(group):
            yield group, proxy
    finally:
        proxy.close()
        group.stop()


@pytest.mark.parametrize("failover", FAILOVERS.values(), ids=FAILOVERS.keys())
async def test_a_message_whose_log_entry_the_failover_lost_reaches_the_customer_once(
    held_replica, emulator, settings, failover
):
    # The chat's lease outlives the failover, and with it the Connect websocket: nothing
    # reconnects, as when the sentinels act well within a deployment's lease.
    settings.CHATBRIDGE_LEASE_TTL = 120.0
    group, proxy = held_replica
    runtime = get_runtime()
    try:
        chat = await runtime.service.start_chat(display_name="Ada")
        contact_id = chat.session.contact_id
        emulator.agent_join(contact_id)
        client = await authenticated_client(chat.session_token, connected=True)
        emulator.agent_message(contact_id, "replicated")
        await client.wait_for(is_agent_message("replicated"))
        await replicated(group)
        proxy.hold_replication()
        emulator.agent_message(contact_id, "logged on the old primary only")
        await client.wait_for(is_agent_message("logged on the old primary only"))

        await failover(group)

        emulator.agent_message(contact_id, "after the failover")
        await client.wait_for(is_agent_message("after the failover"))
        expected = ["replicated", "logged on the old primary only", "after the failover"]
        assert client.messages("AGENT") == expected
        await close(client)

        later = await authenticated_client(chat.session_token)
        assert later.messages("AGENT") == expected
        await close(later)
    finally:
        await stop_runtime()
