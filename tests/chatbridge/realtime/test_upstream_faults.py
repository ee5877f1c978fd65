"""Faults injected through the emulator: every agent message still reaches the client exactly
once, in Connect's order."""

import gc
import json
import logging

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.protocol import State

from chatbridge.runtime import build_runtime
from tests.support.closing import close
from tests.support.connections import with_first_connection
from tests.support.ws_client import ChatClient, authenticated_client, is_agent_message

# Channels closes stale database connections around every consumer event.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def chat(runtime, emulator):
    started = await runtime.service.start_chat(display_name="Ada")
    emulator.agent_join(started.session.contact_id, "Sam")
    return started


@pytest.fixture
async def client(chat):
    client = await authenticated_client(chat.session_token, connected=True)
    yield client
    await close(client)


async def connected(client: ChatClient) -> None:
    await client.receive_until(lambda f: f["type"] == "upstream" and f["status"] == "connected")


def agent_messages_in_connect_order(client: ChatClient) -> list[str]:
    events = [f["event"] for f in client.events() if f["event"]["participant_role"] == "AGENT"]
    messages = [e for e in events if e["type"] == "message"]
    return [e["content"] for e in sorted(messages, key=lambda e: e["absolute_time"])]


def agent_messages_as_delivered(client: ChatClient) -> list[str]:
    return client.messages("AGENT")


async def test_upstream_dropped_mid_chat_loses_nothing(chat, client, emulator):
    emulator.agent_message(chat.session.contact_id, "before")
    await client.wait_for(is_agent_message("before"))
    emulator.drop_websockets(chat.session.contact_id)
    for n in range(3):
        emulator.agent_message(chat.session.contact_id, f"during {n}")
    await client.wait_for(is_agent_message("during 2"))
    emulator.agent_message(chat.session.contact_id, "after")
    await client.wait_for(is_agent_message("after"))
    assert agent_messages_as_delivered(client) == [
        "before",
        "during 0",
        "during 1",
        "during 2",
        "after",
    ]


async def test_a_dropped_upstream_is_reported_to_the_client(chat, client, emulator):
    emulator.drop_websockets(chat.session.contact_id)
    await client.receive_until(lambda f: f["type"] == "upstream" and f["status"] == "reconnecting")
    await connected(client)


async def test_duplicated_frames_are_delivered_once(chat, client, emulator):
    emulator.websocket_faults(chat.session.contact_id, duplicate=True, count=10)
    for n in range(4):
        emulator.agent_message(chat.session.contact_id, f"dup {n}")
    await client.wait_for(is_agent_message("dup 3"))
    emulator.agent_message(chat.session.contact_id, "last")
    await client.wait_for(is_agent_message("last"))
    assert agent_messages_as_delivered(client) == ["dup 0", "dup 1", "dup 2", "dup 3", "last"]


async def test_reordered_frames_are_delivered_once_and_carry_connect_order(chat, client, emulator):
    emulator.websocket_faults(chat.session.contact_id, reorder=True, count=4)
    for n in range(4):
        emulator.agent_message(chat.session.contact_id, f"swap {n}")
    emulator.agent_message(chat.session.contact_id, "last")
    await client.wait_for(is_agent_message("last"))
    expected = ["swap 0", "swap 1", "swap 2", "swap 3", "last"]
    assert sorted(agent_messages_as_delivered(client)) == sorted(expected)
    assert agent_messages_in_connect_order(client) == expected


@pytest.mark.parametrize("kind", ["throttle", "error"])
async def test_a_send_retried_by_botocore_is_sent_once(chat, client, emulator, kind):
    emulator.fault("SendMessage", kind, count=2)  # fewer than the 3 attempts
    ack = await client.request({"type": "send", "content": "retried", "client_id": "c1"})
    assert ack["type"] == "ack"
    items = emulator.contact(chat.session.contact_id)["items"]
    assert [
        i["Content"] for i in items if i["Type"] == "MESSAGE" and i["ParticipantRole"] == "CUSTOMER"
    ] == ["retried"]


async def test_a_send_that_still_fails_is_reported_and_can_be_retried_once(chat, client, emulator):
    emulator.fault("SendMessage", "error", count=3)
    failed = await client.request({"type": "send", "content": "again", "client_id": "c2"})
    assert failed["type"] == "error"
    assert failed["code"] == "upstream_unavailable"
    first = await client.request({"type": "send", "content": "again", "client_id": "c2"})
    second = await client.request({"type": "send", "content": "again", "client_id": "c2"})
    assert first["id"] == second["id"]
    await client.request({"type": "send", "content": "marker"})
    await client.wait_for(lambda f: f["type"] == "event" and f["event"]["content"] == "marker")
    assert client.messages("CUSTOMER") == ["again", "marker"]


async def test_expired_connection_token_is_replaced_without_losing_messages(chat, client, emulator):
    emulator.expire_connection_tokens(chat.session.contact_id)
    emulator.agent_message(chat.session.contact_id, "while expired")
    ack = await client.request({"type": "send", "content": "customer after expiry"})
    assert ack["type"] == "ack", ack
    emulator.agent_message(chat.session.contact_id, "after refresh")
    await client.wait_for(is_agent_message("after refresh"))
    assert agent_messages_as_delivered(client) == ["while expired", "after refresh"]
    assert client.messages("CUSTOMER") == ["customer after expiry"]


async def test_another_process_takes_over_when_the_lease_owner_stops(
    chat, client, emulator, runtime
):
    second = build_runtime(owner="second-process")
    second.start()
    try:
        emulator.agent_message(chat.session.contact_id, "first owner")
        await client.wait_for(is_agent_message("first owner"))
        assert runtime.supervisor.holds(chat.session.chat_id)
        await runtime.supervisor.stop()
        emulator.agent_message(chat.session.contact_id, "while nobody holds it")
        await client.wait_for(is_agent_message("while nobody holds it"))
        assert second.supervisor.holds(chat.session.chat_id)
        emulator.agent_message(chat.session.contact_id, "second owner")
        await client.wait_for(is_agent_message("second owner"))
    finally:
        await second.stop()
    assert agent_messages_as_delivered(client) == [
        "first owner",
        "while nobody holds it",
        "second owner",
    ]


async def test_another_process_takes_over_after_the_owner_crashes(
    chat, client, emulator, runtime, redis_client, settings
):
    lease = runtime.supervisor.lease(chat.session.chat_id)
    await runtime.supervisor.stop()
    # A crashed owner releases nothing: its lease lingers until the TTL runs out.
    await redis_client.set(
        lease.key, "crashed-process", px=int(settings.CHATBRIDGE_LEASE_TTL * 1000)
    )
    second = build_runtime(owner="second-process")
    second.start()
    try:
        emulator.agent_message(chat.session.contact_id, "after the crash")
        await client.wait_for(is_agent_message("after the crash"))
        assert second.supervisor.holds(chat.session.chat_id)
    finally:
        await second.stop()


async def test_no_connect_token_appears_in_any_frame_or_log_record(
    chat, client, emulator, runtime, caplog
):
    caplog.set_level(logging.DEBUG)
    first = await with_first_connection(runtime.service.store, chat.session.chat_id)
    emulator.expire_connection_tokens(chat.session.contact_id)
    await client.request({"type": "send", "content": "hello"})
    await client.request({"type": "send", "content": 5})
    await client.request({"type": "auth", "token": "x"})
    emulator.agent_message(chat.session.contact_id, "bye")
    await client.wait_for(is_agent_message("bye"))
    current = await runtime.service.store.load(chat.session.chat_id)
    secrets = {first.participant_token, first.connection_token, current.connection_token}
    assert all(secrets) and len(secrets) == 3
    frames = json.dumps(client.frames)
    logs = "\n".join(record.getMessage() + repr(record.args) for record in caplog.records)
    for secret in secrets:
        assert secret not in frames
        assert secret not in logs


@pytest.fixture
def quick_heartbeats(settings):
    """Heartbeats every 0.2 s, set before the runtime builds its upstreams."""
    settings.CHATBRIDGE_UPSTREAM_HEARTBEAT = 0.2


async def test_a_connect_socket_gone_silent_is_replaced_without_losing_messages(
    quick_heartbeats, chat, client, emulator
):
    emulator.drop_websockets(chat.session.contact_id)
    await client.receive_until(lambda f: f["type"] == "upstream" and f["status"] == "reconnecting")
    await connected(client)
    emulator.websocket_faults(chat.session.contact_id, unanswered_heartbeats=1)
    await client.receive_until(lambda f: f["type"] == "upstream" and f["status"] == "reconnecting")
    emulator.agent_message(chat.session.contact_id, "while silent")
    await connected(client)
    await client.wait_for(is_agent_message("while silent"))
    assert agent_messages_as_delivered(client) == ["while silent"]


async def test_a_connected_upstream_keeps_nothing_of_its_opening_handshake(chat, client, emulator):
    """The request's URL carries the connection token, and the headers cost memory per chat."""
    emulator.agent_message(chat.session.contact_id, "hello")
    await client.wait_for(is_agent_message("hello"))
    sockets = [o for o in gc.get_objects() if type(o) is ClientConnection and o.state is State.OPEN]

    assert sockets
    assert [(s.request, dict(s.response.headers)) for s in sockets] == [(None, {})] * len(sockets)
