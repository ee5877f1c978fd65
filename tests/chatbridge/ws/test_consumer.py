"""/ws/chat/ end to end: consumer, Redis channel layer, upstream and the emulator."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from channels.layers import get_channel_layer

from chatbridge import actions
from chatbridge.realtime.layer_groups import LayerGroups
from chatbridge.realtime.relay import chat_group
from chatbridge.runtime import CLOSE_SERVICE_RESTART
from chatbridge.ws import consumer
from chatbridge.ws.protocol import SERVER_FRAME_TYPES
from tests.support.closing import close
from tests.support.connections import with_first_connection
from tests.support.emulator import receipts_in_connect
from tests.support.ws_client import ChatClient, Frame, authenticated_client, is_agent_message

# Channels closes stale database connections around every consumer event.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def chat(runtime):
    return await runtime.service.start_chat(display_name="Ada")


@pytest.fixture
async def client(chat):
    client = ChatClient()
    assert await client.connect()
    yield client
    await close(client)


async def test_auth_answers_ready_with_the_chat_and_no_connect_token(chat, client, runtime):
    ready = await client.auth(chat.session_token)
    assert ready["type"] == "ready"
    assert ready["protocol"] == 1
    assert ready["chat_id"] == chat.session.chat_id
    assert ready["status"] == "active"
    text = json.dumps(ready)
    session = await with_first_connection(runtime.service.store, chat.session.chat_id)
    assert session.connection_token
    assert session.participant_token not in text
    assert session.connection_token not in text


async def test_a_conversation_with_the_echo_agent(emulator, runtime):
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0)
    chat = await runtime.service.start_chat(display_name="Ada")
    client = await authenticated_client(chat.session_token, connected=True)
    ack = await client.request({"type": "send", "content": "hello", "client_id": "m1"})
    assert ack["type"] == "ack" and ack["id"]
    await client.wait_for(is_agent_message("Echo: hello"))
    assert client.messages() == ["hello", "Echo: hello"]
    seqs = [f["seq"] for f in client.events()]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    await close(client)


async def test_own_message_appears_once_with_its_connect_id(chat, runtime, emulator):
    client = await authenticated_client(chat.session_token, connected=True)
    ack = await client.request({"type": "send", "content": "only once", "client_id": "m1"})
    emulator.agent_join(chat.session.contact_id)
    emulator.agent_message(chat.session.contact_id, "after")
    await client.wait_for(is_agent_message("after"))
    own = [f for f in client.events() if f["event"]["content"] == "only once"]
    assert [f["event"]["id"] for f in own] == [ack["id"]]
    await close(client)


async def test_two_tabs_see_the_same_events_in_the_same_order(chat, emulator):
    first, second = [
        await authenticated_client(chat.session_token, connected=True) for _ in range(2)
    ]
    emulator.agent_join(chat.session.contact_id)
    await first.request({"type": "send", "content": "from tab one"})
    for n in range(5):
        emulator.agent_message(chat.session.contact_id, f"agent {n}")
    for tab in (first, second):
        await tab.wait_for(is_agent_message("agent 4"))
    assert [f["seq"] for f in first.events()] == [f["seq"] for f in second.events()]
    assert [f["event"]["id"] for f in first.events()] == [f["event"]["id"] for f in second.events()]
    await close(first)
    await close(second)


async def test_tabs_in_one_process_make_one_member_of_the_chats_group(chat, redis_client):
    group = LayerGroups(get_channel_layer()).key(chat_group(chat.session.chat_id))
    first, second = [await authenticated_client(chat.session_token) for _ in range(2)]
    assert await redis_client.zcard(group) == 1
    await close(first)
    await close(second)


async def test_resume_after_a_seq_returns_exactly_the_missed_events(chat, emulator):
    client = await authenticated_client(chat.session_token, connected=True)
    emulator.agent_join(chat.session.contact_id)
    emulator.agent_message(chat.session.contact_id, "seen")
    seen = await client.wait_for(is_agent_message("seen"))
    await close(client)
    for n in range(3):
        emulator.agent_message(chat.session.contact_id, f"missed {n}")
    probe = await authenticated_client(chat.session_token)
    await probe.wait_for(is_agent_message("missed 2"))
    await close(probe)
    resumed = await authenticated_client(chat.session_token, after=seen["seq"])
    await resumed.wait_for(is_agent_message("missed 2"))
    assert resumed.messages() == ["missed 0", "missed 1", "missed 2"]
    assert [f["seq"] for f in resumed.events()] == [seen["seq"] + n for n in (1, 2, 3)]
    await close(resumed)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "malformed_frame"),
        ("[1, 2]", "malformed_frame"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"content": "no type"}', "unknown_type"),
        ('{"type": "auth"}', "invalid_frame"),
        ('{"type": "auth", "token": 42}', "invalid_frame"),
        ('{"type": "auth", "token": "t", "after": -1}', "invalid_frame"),
        ('{"type": "auth", "token": "t", "protocol": 2}', "invalid_frame"),
        ('{"type": "send", "content": "hi"}', "not_authenticated"),
        ('{"type": "auth", "token": "cbs_unknown"}', "unknown_chat"),
    ],
)
async def test_bad_frames_before_auth_get_an_error_and_keep_the_connection(client, frame, code):
    await client.send(frame)
    error = await client.receive()
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    pong = await client.request({"type": "ping"})
    assert pong["type"] == "pong"


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ({"type": "send", "content": ""}, "invalid_frame", "content"),
        ({"type": "send", "content": "x" * 16385}, "invalid_frame", "content"),
        ({"type": "send", "content": 5}, "invalid_frame", "content"),
        (
            {"type": "send", "content": "hi", "content_type": "text/html"},
            "invalid_frame",
            "content_type",
        ),
        ({"type": "send", "content": "hi", "extra": 1}, "invalid_frame", "extra"),
        ({"type": "receipt", "message_id": "m", "kind": "seen"}, "invalid_frame", "kind"),
        ({"type": "auth", "token": "again"}, "already_authenticated", None),
    ],
)
async def test_bad_frames_after_auth_get_an_error_and_keep_the_connection(chat, frame, code, field):
    client = await authenticated_client(chat.session_token)
    answer = await client.request(frame)
    assert answer["type"] == "error"
    assert answer["code"] == code
    assert answer.get("field") == field
    ack = await client.request({"type": "send", "content": "still fine"})
    assert ack["type"] == "ack"
    await close(client)


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"type": "auth", "after": 10**30}, "after"),
        ({"type": "auth", "after": 2**31}, "after"),
        ({"type": "auth", "after": -1}, "after"),
    ],
)
async def test_an_auth_with_an_out_of_range_after_is_refused_before_any_set_up(
    chat, client, frame, field
):
    """Refused as a frame, not half way through: no ready, and a valid auth then works."""
    refused = await client.request({**frame, "token": chat.session_token})
    assert refused["type"] == "error"
    assert (refused["code"], refused.get("field")) == ("invalid_frame", field)
    assert [f["type"] for f in client.frames] == ["error"]
    ready = await client.auth(chat.session_token)
    assert ready["type"] == "ready"
    await client.receive_until(lambda f: f["type"] in {"upstream", "ended"})


@pytest.mark.parametrize("after", [10**30, 2**31, -1])
async def test_a_sync_with_an_out_of_range_after_is_refused(chat, after):
    """A seq no log can hold is the client's mistake, named as such, not a server failure."""
    client = await authenticated_client(chat.session_token)
    refused = await client.request({"type": "sync", "after": after})
    assert (refused["type"], refused["code"], refused.get("field")) == (
        "error",
        "invalid_frame",
        "after",
    )
    assert (await client.request({"type": "sync", "after": 0}))["type"] == "ack"
    await close(client)


HOSTILE_FRAMES: list[str] = [
    # integers out of any range, or not integers at all
    '{"type": "sync", "after": 1e400}',
    '{"type": "sync", "after": 100000000000000000000000000000000000000}',
    '{"type": "sync", "after": -100000000000000000000000000000000000000}',
    '{"type": "sync", "after": 1.5}',
    '{"type": "sync", "after": 1.0}',
    '{"type": "sync", "after": NaN}',
    '{"type": "sync", "after": Infinity}',
    '{"type": "sync", "after": "3"}',
    '{"type": "sync", "after": "\u0663"}',
    '{"type": "sync", "after": "\u00b2"}',
    '{"type": "sync", "after": true}',
    '{"type": "sync", "after": null}',
    '{"type": "sync", "after": [1]}',
    '{"type": "sync", "after": {"seq": 1}}',
    '{"type": "auth", "token": "t", "after": 1e400}',
    '{"type": "auth", "token": "t", "protocol": 1.0}',
    '{"type": "auth", "token": "t", "protocol": true}',
    # strings that are not strings, or not ones to pass on
    '{"type": "send", "content": true}',
    '{"type": "send", "content": null}',
    '{"type": "send", "content": {"text": "hi"}}',
    '{"type": "send", "content": ["hi"]}',
    '{"type": "send", "content": "hi", "content_type": 1}',
    '{"type": "send", "content": "hi", "client_id": false}',
    '{"type": "send", "content": "hi", "client_id": "' + "c" * 65 + '"}',
    '{"type": "receipt", "message_id": true, "kind": "read"}',
    '{"type": "receipt", "message_id": "' + "m" * 257 + '", "kind": "read"}',
    '{"type": "receipt", "message_id": "m", "kind": null}',
    '{"type": "ping", "ref": "' + "r" * 65 + '"}',
    '{"type": "ping", "ref": 7}',
    '{"type": "ping", "ref": ["r"]}',
    # null bytes (raw, which JSON refuses, and escaped), lone surrogates, nesting, odd shapes
    '{"type": "ping", "ref": "a\u0000b"}',
    '{"type": "ping\\u0000"}',
    '{"type": "send\\u0000", "content": "hi"}',
    '{"type": "ping", "ref": "\\ud800"}',
    '{"type": "send", "content": "\\ud800"}',
    '{"type": "send", "content": "hi", "client_id": "\\udfff"}',
    '{"type": "ping", "extra": ' + "[" * 5000 + "]" * 5000 + "}",
    "[" * 5000 + "]" * 5000,
    '{"type": "ping", "ref": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}",
    '{"type": true}',
    '{"type": null}',
    '{"type": ["ping"]}',
    '{"type": {"type": "ping"}}',
    '{"type": "ping", "type": "shout"}',
    '"ping"',
    "null",
    "1e400",
    "\u0000",
]


@pytest.mark.parametrize("frame", HOSTILE_FRAMES)
async def test_a_hostile_frame_is_refused_and_the_connection_answers_on(chat, frame: str):
    """Whatever the client sends, the answer is a refusal of its frame, not a server failure,
    and the connection stays usable."""
    client = await authenticated_client(chat.session_token)
    await client.send(frame)
    answer = await client.receive_until(lambda f: f["type"] in {"error", "ack", "pong"})
    assert answer["type"] == "error", answer
    assert answer["code"] != "internal_error", answer
    pong = await client.request({"type": "ping", "ref": "after"})
    assert pong["type"] == "pong"
    await close(client)


async def test_binary_frames_are_refused_with_an_error(client):
    await client.send_bytes(b"\x00\x01")
    error = await client.receive()
    assert error["code"] == "binary_not_supported"


async def test_oversized_frames_are_refused_with_an_error(client, settings):
    await client.send(
        json.dumps({"type": "ping", "pad": "x" * settings.CHATBRIDGE_WS_MAX_FRAME_BYTES})
    )
    error = await client.receive()
    assert error["code"] == "frame_too_large"
    assert (await client.request({"type": "ping"}))["type"] == "pong"


async def test_sending_faster_than_the_connection_limit_is_refused_then_recovers(chat, settings):
    settings.CHATBRIDGE_WS_MESSAGES_PER_SECOND = 0.001
    settings.CHATBRIDGE_WS_MESSAGE_BURST = 2
    client = await authenticated_client(chat.session_token)
    answers = [await client.request({"type": "send", "content": f"m{n}"}) for n in range(3)]
    assert [a["type"] for a in answers] == ["ack", "ack", "error"]
    assert answers[2]["code"] == "rate_limited"
    assert answers[2]["retry_after"] > 0
    assert (await client.request({"type": "ping"}))["type"] == "pong"
    await close(client)


async def test_a_chat_over_its_per_minute_limit_is_refused_across_connections(chat, settings):
    settings.CHATBRIDGE_CHAT_MESSAGES_PER_MINUTE = 2
    first, second = [await authenticated_client(chat.session_token) for _ in range(2)]
    assert (await first.request({"type": "send", "content": "a"}))["type"] == "ack"
    assert (await second.request({"type": "send", "content": "b"}))["type"] == "ack"
    refused = await first.request({"type": "send", "content": "c"})
    assert refused["code"] == "rate_limited"
    await close(first)
    await close(second)


async def test_typing_is_sent_at_most_once_per_interval(chat, emulator, settings):
    settings.CHATBRIDGE_TYPING_INTERVAL = 3600  # both within it, however slow the machine
    client = await authenticated_client(chat.session_token)
    first = await client.request({"type": "typing"})
    second = await client.request({"type": "typing"})
    assert (first["sent"], second["sent"]) == (True, False)
    items = emulator.contact(chat.session.contact_id)["items"]
    typing = [i for i in items if i["ContentType"].endswith("typing")]
    assert len(typing) == 1
    await close(client)


class HeldBatches:
    """The consumer's asyncio, except that its sleeps (a receipt batch's delay) last until the
    test releases them: a batch stays open for as long as the test needs, however slow the
    machine."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        await self.release.wait()
        return result


@pytest.fixture
def held_batches(monkeypatch) -> HeldBatches:
    held = HeldBatches()
    monkeypatch.setattr(consumer, "asyncio", held)
    return held


class HeldFirstSend:
    """actions.deliver_receipt, except that its first call waits until the test releases it."""

    def __init__(self, send: Callable[..., Awaitable[bool]]) -> None:
        self._send = send
        self.sending = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, *args: Any, **kwargs: Any) -> bool:
        if not self.sending.is_set():
            self.sending.set()
            await self.release.wait()
        return await self._send(*args, **kwargs)


@pytest.fixture
def held_first_send(monkeypatch) -> HeldFirstSend:
    held = HeldFirstSend(actions.deliver_receipt)
    monkeypatch.setattr(actions, "deliver_receipt", held)
    return held


async def agent_wrote(client: ChatClient, emulator, contact_id: str, *contents: str) -> list[str]:
    """The Connect item Ids of the agent's messages, once the client has seen them all."""
    emulator.agent_join(contact_id)
    ids = [emulator.agent_message(contact_id, content)["Id"] for content in contents]
    await client.wait_for(is_agent_message(contents[-1]))
    return ids


def is_receipt_for(message_id: str) -> Callable[[Frame], bool]:
    return lambda f: (
        f["type"] == "event"
        and f["event"]["type"] == "receipt"
        and f["event"]["message_id"] == message_id
    )


@pytest.mark.parametrize("kinds", [("delivered", "read"), ("read", "delivered")])
async def test_a_read_receipt_wins_over_a_delivered_one_in_the_same_batch(
    chat, emulator, held_batches, kinds
):
    contact_id = chat.session.contact_id
    client = await authenticated_client(chat.session_token)
    (message_id,) = await agent_wrote(client, emulator, contact_id, "read me")
    for kind in kinds:
        await client.request({"type": "receipt", "message_id": message_id, "kind": kind})

    held_batches.release.set()

    receipt = await client.wait_for(is_receipt_for(message_id))
    assert receipt["event"]["receipts"][0]["read_at"]
    (sent,) = receipts_in_connect(emulator, contact_id, message_id)
    assert sent[0]["ReadTimestamp"]
    await close(client)


async def test_a_receipt_asked_for_while_a_batch_is_sent_goes_in_the_next(
    chat, emulator, held_first_send
):
    contact_id = chat.session.contact_id
    client = await authenticated_client(chat.session_token)
    first, second = await agent_wrote(client, emulator, contact_id, "one", "two")
    await client.request({"type": "receipt", "message_id": first, "kind": "read"})
    await held_first_send.sending.wait()
    await client.request({"type": "receipt", "message_id": second, "kind": "read"})

    held_first_send.release.set()

    for message_id in (first, second):
        receipt = await client.wait_for(is_receipt_for(message_id))
        assert receipt["event"]["receipts"][0]["read_at"]
    await close(client)


async def test_a_receipt_waiting_for_its_batch_is_sent_when_the_client_leaves(
    chat, emulator, settings
):
    # The batch would wait longer than the test lasts: only the client's leaving sends it.
    settings.CHATBRIDGE_RECEIPT_DELAY = 600
    contact_id = chat.session.contact_id
    client = await authenticated_client(chat.session_token)
    (message_id,) = await agent_wrote(client, emulator, contact_id, "read me")
    await client.request({"type": "receipt", "message_id": message_id, "kind": "read"})

    await close(client)  # the tab closed, or the page reloaded

    (sent,) = receipts_in_connect(emulator, contact_id, message_id)
    assert sent[0]["ReadTimestamp"]


async def test_ending_tells_every_tab_without_waiting_for_connects_word(chat, emulator, runtime):
    first, second = (
        await authenticated_client(chat.session_token),
        await authenticated_client(chat.session_token),
    )
    # Nobody hears Connect's chat-ended event: ChatBridge itself must tell the tabs.
    await runtime.supervisor.stop()
    ack = await first.request({"type": "end"})
    assert ack["type"] == "ack"
    for tab in (first, second):
        ended = await tab.wait_for(lambda f: f["type"] == "ended")
        assert ended["reason"]
    assert emulator.contact(chat.session.contact_id)["status"] == "ENDED"
    await close(first)
    await close(second)


async def test_an_ended_chat_can_still_be_read_but_not_written(chat, runtime):
    await runtime.service.disconnect(chat.session)
    client = await authenticated_client(chat.session_token)
    ready = await client.wait_for(lambda f: f["type"] == "ready")
    assert ready["status"] == "ended"
    await client.wait_for(lambda f: f["type"] == "ended")
    refused = await client.request({"type": "send", "content": "late"})
    assert refused["code"] == "chat_ended"
    await close(client)


async def test_an_agent_ending_the_chat_reaches_the_client(chat, emulator):
    client = await authenticated_client(chat.session_token, connected=True)
    emulator.end_chat(chat.session.contact_id)
    ended = await client.wait_for(lambda f: f["type"] == "ended")
    assert ended["reason"] == "chat_ended"
    await close(client)


async def until_closed(client: ChatClient) -> tuple[list[Frame], int]:
    """The frames the server sends until it closes the connection, and its close code."""
    frames = []
    while True:
        output = await client.communicator.receive_output(timeout=15)
        if output["type"] == "websocket.close":
            return frames, output["code"]
        frames.append(json.loads(output["text"]))


async def test_a_connection_that_never_authenticates_is_closed(chat, settings):
    settings.CHATBRIDGE_WS_AUTH_TIMEOUT = 0.2
    client = ChatClient()
    assert await client.connect()
    frames, code = await until_closed(client)
    assert [f["code"] for f in frames] == ["auth_timeout"]
    assert code == 4001


async def test_an_idle_connection_is_told_and_closed(chat, settings):
    settings.CHATBRIDGE_WS_IDLE_TIMEOUT = 0.3
    client = ChatClient()
    assert await client.connect()
    await client.send({"type": "auth", "token": chat.session_token})
    # However long the auth takes, the idle time runs from the auth frame on: its ready and
    # upstream frames may come before or after the error.
    frames, code = await until_closed(client)
    assert [f["code"] for f in frames if f["type"] == "error"] == ["idle_timeout"]
    assert code == 4008


async def test_a_foreign_origin_is_refused_at_the_handshake(chat):
    client = ChatClient(origin="https://evil.example")
    assert not await client.connect()


async def test_the_handshake_allows_the_configured_origins_as_they_are_now(chat, settings):
    settings.CHATBRIDGE_ALLOWED_ORIGINS = ["https://shop.example.com"]
    settings.CHATBRIDGE_PUBLIC_ORIGIN = "https://chat.example.com"
    public = ChatClient(origin="https://chat.example.com")
    assert await public.connect()
    await public.close()
    assert not await ChatClient(origin="http://localhost:8000").connect()


async def test_one_conversation_brings_every_kind_of_server_frame(chat, emulator):
    """Every server frame type and ack variant, from the real consumer: ChatClient checks each
    frame against the schema, so this makes sure that each one is checked at least once."""
    contact = chat.session.contact_id
    client = await authenticated_client(chat.session_token, connected=True)
    early = await authenticated_client(chat.session_token, connected=True, early_events=True)
    emulator.agent_join(contact, "Sam")
    sent = await client.request({"type": "send", "content": "hi", "client_id": "c1"})
    emulator.agent_typing(contact)
    typing = await client.wait_for(lambda f: f["type"] == "typing")
    emulator.agent_message(contact, "hello")
    message = await client.wait_for(is_agent_message("hello"))
    typed = await client.request({"type": "typing"})
    read = await client.request(
        {"type": "receipt", "message_id": message["event"]["id"], "kind": "read"}
    )
    synced = await client.request({"type": "sync", "after": message["seq"] - 1})
    pong = await client.request({"type": "ping"})
    error = await client.request({"type": "shout"})
    ended = await client.request({"type": "end"})
    await client.wait_for(lambda f: f["type"] == "ended")
    await early.wait_for(lambda f: f["type"] == "ended")
    await client.close()
    await early.close()

    assert {f["type"] for f in client.frames + early.frames} == SERVER_FRAME_TYPES
    assert typing["event"]["type"] == "typing" and typing["event"]["participant_role"] == "AGENT"
    assert sent["id"] in [f["event"]["id"] for f in client.events()]
    assert typed["sent"] is True and synced["last_seq"] >= message["seq"]
    assert [f["seq"] for f in client.events()].count(message["seq"]) == 2
    assert pong["type"] == "pong" and error["code"] == "unknown_type"
    acks = [sent, typed, read, synced, ended]
    assert {frozenset(a) - {"type", "ref"} for a in acks} == {
        frozenset({"status", "id", "seq"}),
        frozenset({"sent"}),
        frozenset({"last_seq"}),
        frozenset(),
    }


async def test_a_connection_to_a_process_shutting_down_is_closed_for_reconnect(runtime, chat):
    runtime.draining = True
    client = ChatClient()
    assert await client.connect()

    assert await client.closed_with() == CLOSE_SERVICE_RESTART


async def test_a_process_shutting_down_closes_its_clients_for_reconnect(runtime, chat):
    client = await authenticated_client(chat.session_token)

    draining = asyncio.create_task(runtime.drain())
    assert await client.closed_with() == CLOSE_SERVICE_RESTART
    await client.close()
    await draining


async def test_a_process_shutting_down_releases_its_chats_leases(runtime, chat, redis_client):
    client = await authenticated_client(chat.session_token, connected=True)
    lease = runtime.supervisor.lease(chat.session.chat_id)
    assert await redis_client.get(lease.key) == runtime.supervisor.owner.encode()

    draining = asyncio.create_task(runtime.drain())
    await client.closed_with()
    await client.close()
    await draining

    assert await redis_client.get(lease.key) is None
