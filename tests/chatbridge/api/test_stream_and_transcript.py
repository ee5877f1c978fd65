"""SSE with resume, and the archived transcript of an ended chat, paged both ways."""

import pytest

from tests.support.rest import (
    SseStream,
    assert_problem,
    bearer,
    contact_id,
    events_after,
    transcript_page,
    wait_for_agent_message,
)
from tests.support.upstreams import until_upstream_stops

pytestmark = pytest.mark.django_db(transaction=True)


async def test_sse_resumes_after_last_event_id_then_streams_live_until_the_end(
    api, chat, runtime, emulator, settings
):
    settings.CHATBRIDGE_API_SSE_HEARTBEAT = 0.2
    contact = await contact_id(runtime, chat)
    emulator.agent_join(contact)
    for n in range(3):
        emulator.agent_message(contact, f"before {n}")
    seen = await wait_for_agent_message(api, chat, "before 2")
    resume_from = seen[1]["seq"]
    path = f"/api/v1/chats/{chat['chat_id']}/events/stream"
    headers = {**bearer(chat), "Last-Event-ID": str(resume_from)}
    async with SseStream(path, headers) as stream:
        assert stream.status == 200
        assert stream.response_headers["content-type"].startswith("text/event-stream")
        replayed = []
        while len(replayed) < len(seen) - 2:
            event = await stream.next_event()
            assert event["event"] == "chat"
            replayed.append(event)
        assert [int(e["id"]) for e in replayed] == [e["seq"] for e in seen[2:]]
        assert [e["data"]["content"] for e in replayed] == [e["event"]["content"] for e in seen[2:]]
        upstream = await stream.next_event()
        assert upstream["event"] == "upstream"
        # Quiet: a heartbeat comment keeps proxies open.
        while (await stream.next_block()) != ": keep-alive":
            pass
        emulator.agent_message(contact, "live")
        while True:
            event = await stream.next_event()
            if event["event"] == "chat" and event["data"]["content"] == "live":
                break
        # The agent's message came through the live link to Connect: so does its typing.
        emulator.agent_typing(contact)
        while (event := await stream.next_event())["event"] != "typing":
            pass
        assert event["data"]["participant_role"] == "AGENT"
        ended = await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
        assert ended.status_code == 200
        while (event := await stream.next_event()) is not None:
            last = event
        assert last["event"] == "ended"
        assert last["data"]["reason"] == "customer_disconnected"


async def test_sse_of_an_ended_chat_replays_after_the_query_seq_and_closes(api, chat, runtime):
    for n in range(3):
        sent = await api.post(
            f"/chats/{chat['chat_id']}/messages", json={"content": f"m{n}"}, headers=bearer(chat)
        )
        assert sent.status_code == 201, sent.text
    ended = await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
    assert ended.status_code == 200
    before = await logged_events(api, chat)
    first = next(e["seq"] for e in before if e["event"]["content"] == "m0")
    path = f"/api/v1/chats/{chat['chat_id']}/events/stream?after={first}"
    async with SseStream(path, bearer(chat)) as stream:
        events = []
        while (event := await stream.next_event()) is not None:
            events.append(event)
    # Connect's own events of the end may still be logged while the stream replays: the
    # replay holds at least what was logged before it opened, and every seq after `first`
    # up to where it stopped, in order, as logged.
    after = await logged_events(api, chat)
    *replayed, closing = events
    assert closing["event"] == "ended"
    assert closing["data"]["reason"] == "customer_disconnected"
    assert {e["event"] for e in replayed} == {"chat"}
    seqs = [int(e["id"]) for e in replayed]
    assert seqs == list(range(first + 1, first + 1 + len(seqs)))
    assert seqs[-1] >= before[-1]["seq"]
    by_seq = {e["seq"]: e["event"] for e in after}
    assert [e["data"] for e in replayed] == [by_seq[seq] for seq in seqs]
    assert [e["data"]["content"] for e in replayed if e["data"]["type"] == "message"] == [
        "m1",
        "m2",
    ]


@pytest.mark.parametrize(
    "last_event_id",
    [
        b"abc",
        b"-1",
        b"1.5",
        b" 7",
        b"\xb2",  # "²" as HTTP's latin-1: str.isdigit() says yes, int() says no
        b"\xb9\xb3",  # "¹³"
        b"2147483648",  # one past the largest seq
        b"9999999999",
    ],
)
async def test_sse_refuses_a_bad_last_event_id(api, chat, last_event_id: bytes):
    """Anything but an ASCII seq the log can hold is the client's mistake: a 422 naming the
    header, never a 500 nor a stream that waits for a seq that will never come."""
    response = await api.get(
        f"/chats/{chat['chat_id']}/events/stream",
        headers={**bearer(chat), "Last-Event-ID": last_event_id},
    )
    assert assert_problem(response, 422, "invalid_input")["field"] == "Last-Event-ID"


@pytest.mark.parametrize("after", ["-1", "2147483648", "\u00b2", "\u0663"])
async def test_sse_refuses_an_after_out_of_the_seq_range(api, chat, after: str):
    """The query's `after` holds to the same bounds as the header."""
    response = await api.get(
        f"/chats/{chat['chat_id']}/events/stream", params={"after": after}, headers=bearer(chat)
    )
    assert assert_problem(response, 422, "invalid_input")["field"] == "after"


async def logged_events(api, chat) -> list[dict]:
    """Every event logged for the chat so far, as GET /events pages them."""
    events: list[dict] = []
    while True:
        page = await events_after(api, chat, events[-1]["seq"] if events else 0, limit=500)
        if not page["events"]:
            return events
        events += page["events"]


async def archive_everything(runtime) -> None:
    """Drains the archive stream now: afterwards everything logged so far is in the database."""
    await runtime.archiver.drain_once()


async def test_transcript_of_an_ended_chat_pages_both_ways_and_outlives_redis(
    api, chat, runtime, emulator
):
    contact = await contact_id(runtime, chat)
    for n in range(3):
        response = await api.post(
            f"/chats/{chat['chat_id']}/messages", json={"content": f"c{n}"}, headers=bearer(chat)
        )
        assert response.status_code == 201
    emulator.agent_join(contact)
    emulator.agent_message(contact, "a0")
    await wait_for_agent_message(api, chat, "a0")
    await api.post(f"/chats/{chat['chat_id']}/end", headers=bearer(chat))
    # Connect's own events of the end arrive through the upstream: once it has stopped, the
    # log is final, and the archive can be drained of all of it.
    await until_upstream_stops(chat["chat_id"])
    await archive_everything(runtime)
    logged = await logged_events(api, chat)
    all_seqs = [e["seq"] for e in logged]

    path = f"/chats/{chat['chat_id']}/transcript"
    forward, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = transcript_page(await api.get(path, params=params, headers=bearer(chat)))
        assert page["status"] == "ended" and page["direction"] == "forward"
        assert len(page["events"]) <= 2
        forward += page["events"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["seq"] for e in forward] == all_seqs
    messages = [e["event"]["content"] for e in forward if e["event"]["type"] == "message"]
    assert messages == ["c0", "c1", "c2", "a0"]
    assert [e["event"]["id"] for e in forward] == [e["event"]["id"] for e in logged]

    backward, cursor = [], None
    while True:
        params = {"limit": 2, "direction": "backward", **({"cursor": cursor} if cursor else {})}
        page = transcript_page(await api.get(path, params=params, headers=bearer(chat)))
        assert [e["seq"] for e in page["events"]] == sorted(e["seq"] for e in page["events"])
        backward = page["events"] + backward
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["seq"] for e in backward] == all_seqs

    # Redis forgets the ended chat: the session token stops working, the history token not.
    redis = runtime.service.store.redis
    await redis.delete(*[k async for k in redis.scan_iter("chatbridge:*")])
    gone = await api.get(path, headers=bearer(chat))
    assert_problem(gone, 401, "not_authenticated")
    history = {"Authorization": f"Bearer {chat['history_token']}"}
    page = transcript_page(await api.get(path, params={"limit": 200}, headers=history))
    assert [e["seq"] for e in page["events"]] == all_seqs
    # The history token reads the transcript only, and only of its own chat.
    status = await api.get(f"/chats/{chat['chat_id']}", headers=history)
    assert_problem(status, 401, "not_authenticated")
    other = await api.get(f"/chats/{'0' * 32}/transcript", headers=history)
    assert_problem(other, 404, "unknown_chat")


async def test_transcript_refuses_a_cursor_it_did_not_issue(api, chat):
    response = await api.get(
        f"/chats/{chat['chat_id']}/transcript", params={"cursor": "nonsense"}, headers=bearer(chat)
    )
    assert assert_problem(response, 422, "invalid_input")["field"] == "cursor"
