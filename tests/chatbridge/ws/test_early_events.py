"""Events before they are logged: a client that sets `early_events` gets what Connect's
websocket delivers at once (an `early` frame), then its seq (`logged`)."""

import pytest

from tests.support.closing import close
from tests.support.emulator import receipts_in_connect
from tests.support.held_appends import HeldAppends
from tests.support.ws_client import ChatClient, Frame, authenticated_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held_appends(runtime, monkeypatch) -> HeldAppends:
    held = HeldAppends(runtime.log.append_many)
    monkeypatch.setattr(runtime.log, "append_many", held)
    return held


@pytest.fixture
async def chat(runtime, emulator):
    chat = await runtime.service.start_chat(display_name="Ada")
    emulator.agent_join(chat.session.contact_id, "Sam")
    return chat


def is_early(content: str):
    return lambda f: f["type"] == "early" and f["event"].get("content") == content


def is_event(content: str):
    return lambda f: f["type"] == "event" and f["event"].get("content") == content


def is_early_receipt_for(message_id: str):
    return lambda f: (
        f["type"] == "early"
        and f["event"]["type"] == "receipt"
        and f["event"]["message_id"] == message_id
    )


async def nothing_more(client: ChatClient) -> list[Frame]:
    """The frames the client got before its ping's answer: the server sends in order."""
    await client.request({"type": "ping"})
    return client.frames


async def shown_early_while_held(
    chat, emulator, held_appends: HeldAppends
) -> tuple[ChatClient, str]:
    """An early client, and the id of the agent's message it got early, whose append waits."""
    early = await authenticated_client(chat.session_token, connected=True, early_events=True)
    held_appends.hold_when()
    emulator.agent_message(chat.session.contact_id, "read me")
    message_id = (await early.wait_for(is_early("read me")))["event"]["id"]
    await held_appends.holding.wait()
    return early, message_id


async def test_the_agents_message_reaches_an_early_client_before_it_is_logged(
    chat, emulator, held_appends
):
    early = await authenticated_client(chat.session_token, connected=True, early_events=True)
    plain = await authenticated_client(chat.session_token, connected=True)
    held_appends.hold_when()

    emulator.agent_message(chat.session.contact_id, "hello")

    frame = await early.wait_for(is_early("hello"))
    await held_appends.holding.wait()
    assert frame["event"]["participant_role"] == "AGENT"
    assert not any(is_event("hello")(f) for f in await nothing_more(plain))
    held_appends.release.set()
    await plain.wait_for(is_event("hello"))
    await close(early)
    await close(plain)


async def test_an_early_event_gets_its_seq_once_logged(chat, emulator):
    early = await authenticated_client(chat.session_token, connected=True, early_events=True)
    plain = await authenticated_client(chat.session_token, connected=True)

    emulator.agent_message(chat.session.contact_id, "hello")

    shown = await early.wait_for(is_early("hello"))
    item_id = shown["event"]["id"]
    logged = await early.wait_for(lambda f: f["type"] == "logged" and f["id"] == item_id)
    event = await plain.wait_for(is_event("hello"))
    assert logged["seq"] == event["seq"]
    assert early.frames.index(shown) < early.frames.index(logged)
    assert not any(is_event("hello")(f) for f in await nothing_more(early))
    await close(early)
    await close(plain)


async def test_a_client_that_did_not_ask_gets_no_early_frames(chat, emulator):
    plain = await authenticated_client(chat.session_token, connected=True)

    emulator.agent_message(chat.session.contact_id, "hello")

    await plain.wait_for(is_event("hello"))
    assert not {"early", "logged"} & {f["type"] for f in await nothing_more(plain)}
    await close(plain)


async def test_an_event_the_client_already_has_is_not_sent_early_again(chat, emulator, runtime):
    early = await authenticated_client(chat.session_token, connected=True, early_events=True)
    emulator.agent_message(chat.session.contact_id, "hello")
    await early.wait_for(lambda f: f["type"] == "logged")
    (logged,) = [
        e for e in await runtime.log.read_after(chat.session.chat_id, 0) if e.event.content
    ]
    before = len(early.frames)

    await runtime.relay.ring_early(chat.session.chat_id, [(logged.event, logged.event.to_json())])

    assert [f["type"] for f in (await nothing_more(early))[before:]] == ["pong"]
    await close(early)


async def test_a_receipt_for_an_early_message_is_taken_and_sent_once_it_is_logged(
    chat, emulator, held_appends
):
    early, message_id = await shown_early_while_held(chat, emulator, held_appends)

    answer = await early.request({"type": "receipt", "message_id": message_id, "kind": "read"})

    assert answer["type"] == "ack", answer
    assert receipts_in_connect(emulator, chat.session.contact_id, message_id) == []
    held_appends.release.set()
    receipt = await early.wait_for(is_early_receipt_for(message_id))
    assert receipt["event"]["receipts"][0]["read_at"]
    await close(early)


async def test_a_receipt_for_an_early_event_that_is_no_message_is_refused(
    chat, emulator, held_appends
):
    early = await authenticated_client(chat.session_token, connected=True, early_events=True)
    held_appends.hold_when()
    emulator.agent_leave(chat.session.contact_id)
    left = await early.wait_for(lambda f: f["type"] == "early")
    await held_appends.holding.wait()

    answer = await early.request(
        {"type": "receipt", "message_id": left["event"]["id"], "kind": "read"}
    )

    assert answer["type"] == "error" and answer["code"] == "unknown_message"
    held_appends.release.set()
    await close(early)


async def test_a_receipt_held_for_an_early_message_is_sent_when_the_client_leaves(
    chat, emulator, held_appends
):
    early, message_id = await shown_early_while_held(chat, emulator, held_appends)
    await early.request({"type": "receipt", "message_id": message_id, "kind": "read"})

    await close(early)  # the tab closed before the message was logged

    (sent,) = receipts_in_connect(emulator, chat.session.contact_id, message_id)
    assert sent[0]["ReadTimestamp"]
    held_appends.release.set()
