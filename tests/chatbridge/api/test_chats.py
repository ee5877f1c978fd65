"""Chats over REST end to end: start, status, end, idempotent sends, events, long-poll."""

import asyncio
import json

import pytest

from tests.support.connections import with_first_connection
from tests.support.rest import (
    assert_problem,
    bearer,
    contact_id,
    events_after,
    polling,
    start_chat,
    wait_for_agent_message,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_start_answers_the_contract_and_no_connect_token(api, widget, runtime):
    chat = await start_chat(api, attributes={"order": "A-17"}, initial_message="Hi there")
    assert set(chat) >= {
        "chat_id",
        "session_token",
        "expires_at",
        "status",
        "participant_id",
        "display_name",
    }
    assert chat["status"] == "active" and chat["display_name"] == "Ada"
    session = await with_first_connection(runtime.service.store, chat["chat_id"])
    text = json.dumps(chat)
    assert session.connection_token
    assert session.participant_token not in text and session.connection_token not in text
    assert session.widget_id == "shop"


async def test_a_started_chats_upstream_is_held_here_once_the_start_answers(
    api, widget, runtime, redis_client
):
    chat = await start_chat(api)
    assert runtime.supervisor.holds(chat["chat_id"])
    lease = runtime.supervisor.lease(chat["chat_id"])
    assert await lease.holder() == runtime.supervisor.owner


async def test_attributes_reach_connect(api, widget, runtime, emulator):
    chat = await start_chat(api, attributes={"order": "A-17"})
    contact = emulator.contact(await contact_id(runtime, chat))
    assert contact["attributes"]["order"] == "A-17"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": " \t"}, "display_name"),
        ({"display_name": "\x1f"}, "display_name"),
        ({"initial_message": "  "}, "initial_message"),
        ({"attributes": {" ": "x"}}, "attributes. .[key]"),
    ],
)
async def test_a_blank_name_or_message_is_refused_by_the_schema(api, widget, body, field):
    answer = await api.post("/chats", json={"widget_id": "shop", "display_name": "Ada", **body})
    assert assert_problem(answer, 422, "invalid_input")["field"] == field


async def test_status_and_end(api, chat):
    status = await api.get(f"/chats/{chat['chat_id']}", headers=bearer(chat))
    assert status.status_code == 200
    body = status.json()
    assert body["chat_id"] == chat["chat_id"] and body["status"] == "active"
    assert body["upstream"] in {"connected", "reconnecting"}
    ended = await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
    assert ended.status_code == 200
    assert ended.json()["status"] == "ended"
    assert ended.json()["ended_reason"] == "customer_disconnected"
    again = await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
    assert again.status_code == 200
    refused = await api.post(
        f"/chats/{chat['chat_id']}/messages", json={"content": "late"}, headers=bearer(chat)
    )
    assert_problem(refused, 409, "chat_ended")


async def test_a_token_opens_only_its_own_chat(api, widget):
    mine, theirs = await start_chat(api), await start_chat(api)
    for path in ("", "/events", "/transcript"):
        cross = await api.get(f"/chats/{theirs['chat_id']}{path}", headers=bearer(mine))
        unknown = await api.get(f"/chats/{'0' * 32}{path}", headers=bearer(mine))
        assert cross.status_code == unknown.status_code == 404
        assert cross.json() == unknown.json()
    sent = await api.post(
        f"/chats/{theirs['chat_id']}/messages", json={"content": "x"}, headers=bearer(mine)
    )
    assert_problem(sent, 404, "unknown_chat")


async def test_missing_or_unknown_token_is_401(api, chat):
    missing = await api.get(f"/chats/{chat['chat_id']}")
    assert_problem(missing, 401, "not_authenticated")
    assert missing.headers["www-authenticate"] == "Bearer"
    unknown = await api.get(f"/chats/{chat['chat_id']}", headers={"Authorization": "Bearer cbs_x"})
    assert_problem(unknown, 401, "not_authenticated")
    cookie_only = await api.get(
        f"/chats/{chat['chat_id']}", headers={"Cookie": f"sessionid={chat['session_token']}"}
    )
    assert_problem(cookie_only, 401, "not_authenticated")


async def test_a_retried_send_returns_the_first_result_and_sends_once(api, chat, runtime, emulator):
    path = f"/chats/{chat['chat_id']}/messages"
    headers = {**bearer(chat), "Idempotency-Key": "msg-1"}
    first = await api.post(path, json={"content": "hello"}, headers=headers)
    second = await api.post(path, json={"content": "hello"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert first.json()["seq"] >= 1 and first.json()["id"]
    # A retry that lost the stored result still sends nothing twice (Connect's ClientToken).
    await runtime.service.store.redis.delete(
        *[k async for k in runtime.service.store.redis.scan_iter("*:api:idem:send:*")]
    )
    third = await api.post(path, json={"content": "hello"}, headers=headers)
    assert third.status_code == 201
    assert third.json() == first.json()
    contact = emulator.contact(await contact_id(runtime, chat))
    assert contact["item_counts"]["MESSAGE"] == 1
    page = await events_after(api, chat)
    assert [e["event"]["content"] for e in page["events"]].count("hello") == 1
    conflict = await api.post(path, json={"content": "other"}, headers=headers)
    assert_problem(conflict, 409, "idempotency_key_reused")


async def test_send_validation_names_the_field(api, chat):
    path = f"/chats/{chat['chat_id']}/messages"
    empty = await api.post(path, json={"content": ""}, headers=bearer(chat))
    assert assert_problem(empty, 422, "invalid_input")["field"] == "content"
    blank = await api.post(path, json={"content": " \n"}, headers=bearer(chat))
    assert assert_problem(blank, 422, "invalid_input")["field"] == "content"
    kind = await api.post(
        path, json={"content": "x", "content_type": "text/html"}, headers=bearer(chat)
    )
    assert assert_problem(kind, 422, "invalid_input")["field"] == "content_type"
    extra = await api.post(path, json={"content": "x", "admin": True}, headers=bearer(chat))
    assert assert_problem(extra, 422, "invalid_input")["field"] == "admin"
    not_json = await api.post(
        path, content=b"{", headers={**bearer(chat), "Content-Type": "application/json"}
    )
    assert_problem(not_json, 400, "malformed_request")


def items_of_kind(emulator, contact: str, content_type: str) -> list[dict]:
    items = emulator.contact(contact)["items"]
    return [i for i in items if i.get("ContentType") == content_type]


async def test_typing_reaches_connect_at_most_once_per_interval(
    api, chat, runtime, emulator, settings
):
    settings.CHATBRIDGE_TYPING_INTERVAL = 3600  # both within it, however slow the machine
    path = f"/chats/{chat['chat_id']}/events"
    typing = await api.post(path, json={"type": "typing"}, headers=bearer(chat))
    assert typing.status_code == 202 and typing.json()["sent"] is True
    again = await api.post(path, json={"type": "typing"}, headers=bearer(chat))
    assert again.status_code == 202 and again.json()["sent"] is False
    typing_type = "application/vnd.amazonaws.connect.event.typing"
    assert len(items_of_kind(emulator, await contact_id(runtime, chat), typing_type)) == 1


async def test_a_read_receipt_reaches_connect_once(api, chat, runtime, emulator):
    contact = await contact_id(runtime, chat)
    emulator.agent_join(contact)
    emulator.agent_message(contact, "hi from agent")
    seen = await wait_for_agent_message(api, chat, "hi from agent")
    message_id = next(e["event"]["id"] for e in seen if e["event"]["content"] == "hi from agent")
    path = f"/chats/{chat['chat_id']}/events"
    body = {"type": "read", "message_id": message_id}
    read = await api.post(path, json=body, headers=bearer(chat))
    assert read.status_code == 202 and read.json()["sent"] is True
    again = await api.post(path, json=body, headers=bearer(chat))
    assert again.status_code == 202 and again.json()["sent"] is False
    receipts = items_of_kind(
        emulator, contact, "application/vnd.amazonaws.connect.event.message.metadata"
    )
    assert [r["MessageMetadata"]["MessageId"] for r in receipts] == [message_id]
    assert receipts[0]["MessageMetadata"]["Receipts"][0]["ReadTimestamp"]


async def test_events_of_an_unknown_type_or_a_receipt_without_a_message_are_refused(api, chat):
    path = f"/chats/{chat['chat_id']}/events"
    missing = await api.post(path, json={"type": "read"}, headers=bearer(chat))
    assert assert_problem(missing, 422, "invalid_input")["field"] == "message_id"
    unknown = await api.post(path, json={"type": "shout"}, headers=bearer(chat))
    assert assert_problem(unknown, 422, "invalid_input")["field"] == "type"


async def test_a_receipt_for_a_message_the_chat_lacks_is_refused(api, chat, runtime, emulator):
    path = f"/chats/{chat['chat_id']}/events"
    made_up = await api.post(
        path, json={"type": "read", "message_id": "made-up"}, headers=bearer(chat)
    )
    assert assert_problem(made_up, 404, "unknown_message")["field"] == "message_id"
    metadata = "application/vnd.amazonaws.connect.event.message.metadata"
    assert items_of_kind(emulator, await contact_id(runtime, chat), metadata) == []


async def test_events_page_after_and_limit(api, chat, runtime, emulator):
    contact = await contact_id(runtime, chat)
    emulator.agent_join(contact)
    for n in range(3):
        emulator.agent_message(contact, f"agent {n}")
    everything = await wait_for_agent_message(api, chat, "agent 2")
    seqs = [e["seq"] for e in everything]
    assert seqs == list(range(1, len(seqs) + 1))
    first = await events_after(api, chat, 0, limit=2)
    assert [e["seq"] for e in first["events"]] == [1, 2]
    assert first["last_seq"] >= seqs[-1] and first["status"] == "active"
    rest = await events_after(api, chat, 2, limit=500)
    assert [e["seq"] for e in rest["events"]] == seqs[2:]
    bad = await api.get(
        f"/chats/{chat['chat_id']}/events", params={"after": -1}, headers=bearer(chat)
    )
    assert assert_problem(bad, 422, "invalid_input")["field"] == "after"
    too_long = await api.get(
        f"/chats/{chat['chat_id']}/events", params={"wait": 31}, headers=bearer(chat)
    )
    assert assert_problem(too_long, 422, "invalid_input")["field"] == "wait"


async def test_a_long_poll_is_answered_when_the_agent_writes(
    api, chat, runtime, emulator, redis_client
):
    contact = await contact_id(runtime, chat)
    emulator.agent_join(contact)
    last = 0
    while True:  # until the agent's join is logged: the poll below then waits for the message
        page = await events_after(api, chat, last, wait=10)
        assert page["events"], "the long-poll timed out"
        last = page["events"][-1]["seq"]
        if any(e["event"]["participant_role"] == "AGENT" for e in page["events"]):
            break
    poll = await polling(api, chat, redis_client, last)
    assert not poll.done()

    emulator.agent_message(contact, "wake up")

    page = await poll
    assert [e["event"]["content"] for e in page["events"]] == ["wake up"]
    assert page["events"][0]["seq"] == last + 1


async def test_a_waiting_long_poll_is_rung_by_the_process_relay_as_a_websocket_is(
    api, chat, runtime, emulator, redis_client
):
    # No channel layer channel of its own: its wake-up never queues behind the process's one
    # reader of channel layer messages.
    contact = await contact_id(runtime, chat)
    emulator.agent_join(contact)
    last = 0
    while True:  # until the agent's join is logged: the poll below then waits for the message
        page = await events_after(api, chat, last, wait=10)
        assert page["events"], "the long-poll timed out"
        last = page["events"][-1]["seq"]
        if any(e["event"]["participant_role"] == "AGENT" for e in page["events"]):
            break
    poll = await polling(api, chat, redis_client, last)

    assert runtime.relay.fanout.followers(chat["chat_id"]) == 1
    emulator.agent_message(contact, "wake up")
    page = await poll
    assert [e["event"]["content"] for e in page["events"]] == ["wake up"]
    assert runtime.relay.fanout.followers(chat["chat_id"]) == 0


async def test_a_long_poll_returns_when_the_chat_ends(api, chat, redis_client):
    page = await events_after(api, chat, 0)
    poll = await polling(api, chat, redis_client, page["last_seq"] + 100)
    assert not poll.done()

    ended = await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
    assert ended.status_code == 200

    # Well before the poll's own 30 s are up: the end woke it.
    page = await asyncio.wait_for(poll, 15)
    assert page["status"] == "ended" and page["events"] == []
