"""Live chats first: a setup step waits while a live message is under way, never longer than
its limit."""

import asyncio

import pytest

from chatbridge import actions
from chatbridge.realtime.priority import LiveFirst
from chatbridge.redis import keys
from tests.support.closing import close
from tests.support.held_appends import HeldAppends
from tests.support.redis_waits import until_members
from tests.support.ws_client import ChatClient, authenticated_client, is_agent_message

# Failure guard for a turn that must end.
GUARD = 10.0
# Connect's SendMessage rate and ChatBridge's budget for it: a token per 100 s, burst 3.
SLOW = "0.01/3"


async def test_a_setup_goes_on_at_once_when_no_live_message_is_under_way():
    live_first = LiveFirst(max_wait=60)

    async with asyncio.timeout(GUARD):
        await live_first.turn()


async def test_a_setup_waits_until_the_live_messages_under_way_are_done():
    live_first = LiveFirst(max_wait=60)
    first, second = live_first.live(), live_first.live()
    first.__enter__()
    second.__enter__()
    turn = asyncio.create_task(live_first.turn())
    await asyncio.sleep(0)

    first.__exit__(None, None, None)
    for _ in range(5):
        await asyncio.sleep(0)
    waited_for_the_second = not turn.done()
    second.__exit__(None, None, None)

    async with asyncio.timeout(GUARD):
        await turn
    assert waited_for_the_second


async def test_a_setup_waits_no_longer_than_its_limit():
    live_first = LiveFirst(max_wait=0.01)

    with live_first.live():
        async with asyncio.timeout(GUARD):
            await live_first.turn()
        assert live_first.busy


async def test_with_no_limit_a_setup_never_waits():
    live_first = LiveFirst(max_wait=0)

    with live_first.live():
        turn = asyncio.create_task(live_first.turn())
        await asyncio.sleep(0)
        assert turn.done()


async def test_a_message_no_longer_under_way_before_its_block_ends_leaves_once():
    live_first = LiveFirst(max_wait=60)

    with live_first.live():
        with live_first.live() as under_way:
            under_way.end()
            ended_early = live_first.busy
        assert live_first.busy
    assert ended_early
    assert not live_first.busy


async def test_a_live_message_that_fails_is_no_longer_under_way():
    live_first = LiveFirst(max_wait=60)

    try:
        with live_first.live():
            raise ValueError
    except ValueError:
        pass

    assert not live_first.busy


class WatchedLiveFirst(LiveFirst):
    """LiveFirst that tells when a setup step begins to wait for its turn."""

    def __init__(self) -> None:
        super().__init__(max_wait=60)
        self.waiting = asyncio.Event()

    async def turn(self) -> None:
        if self.busy:
            self.waiting.set()
        await super().turn()


@pytest.fixture
def live_first(runtime, monkeypatch) -> WatchedLiveFirst:
    live_first = WatchedLiveFirst()
    monkeypatch.setattr(runtime.relay, "live_first", live_first)
    return live_first


@pytest.mark.django_db(transaction=True)
async def test_a_new_chats_upstream_opens_once_no_live_message_is_under_way(
    runtime, live_first, emulator
):
    with live_first.live():
        started = await actions.start_chat(runtime, display_name="Ada")
        async with asyncio.timeout(GUARD):
            await live_first.waiting.wait()
        opened_while_live = emulator.contact(started.session.contact_id)["websockets"]

    client = await authenticated_client(started.session_token, connected=True)
    assert opened_while_live == []
    await close(client)


@pytest.mark.django_db(transaction=True)
async def test_each_step_of_an_upstreams_opening_takes_its_turn(runtime, live_first, emulator):
    """Taken over, its session read, its connection got, its websocket opened, its gap
    filled: a live message meets one of these steps at most, never the whole opening."""
    live = live_first.live()
    live.__enter__()
    started = await actions.start_chat(runtime, display_name="Ada")
    seen = []
    for _ in range(5):
        async with asyncio.timeout(GUARD):
            await live_first.waiting.wait()
        live_first.waiting.clear()
        seen.append(emulator.contact(started.session.contact_id)["websockets"])
        live.__exit__(None, None, None)  # lets the waiting step go, and holds the next one
        live = live_first.live()
        live.__enter__()
    live.__exit__(None, None, None)

    client = await authenticated_client(started.session_token, connected=True)
    assert seen[:4] == [[]] * 4
    assert [socket["subscribed"] for socket in seen[4]] == [True]
    await close(client)


@pytest.mark.django_db(transaction=True)
async def test_a_websocket_authenticates_once_no_live_message_is_under_way(runtime, live_first):
    started = await actions.start_chat(runtime, display_name="Ada")
    first = await authenticated_client(started.session_token, connected=True)
    second = ChatClient()
    assert await second.connect()

    with live_first.live():
        await second.send({"type": "auth", "token": started.session_token, "ref": "auth"})
        async with asyncio.timeout(GUARD):
            await live_first.waiting.wait()

    assert (await second.receive_until(lambda f: f["type"] in {"ready", "error"}))[
        "type"
    ] == "ready"
    await close(first)
    await close(second)


@pytest.mark.django_db(transaction=True)
async def test_a_customers_message_is_live_while_connect_takes_it(runtime, live_first, emulator):
    started = await actions.start_chat(runtime, display_name="Ada")
    client = await authenticated_client(started.session_token, connected=True)
    emulator.fault("SendMessage", "hold")

    await client.send({"type": "send", "content": "hi", "ref": "hi"})
    assert await asyncio.to_thread(emulator.held, 1) == 1
    busy_while_sending = live_first.busy
    emulator.clear_faults()

    await client.wait_for(lambda f: f["type"] == "ack" and f.get("ref") == "hi")
    assert busy_while_sending
    assert not live_first.busy
    await close(client)


@pytest.mark.django_db(transaction=True)
async def test_an_agents_message_is_live_until_it_is_relayed(
    runtime, live_first, emulator, monkeypatch
):
    held = HeldAppends(runtime.log.append_many)
    monkeypatch.setattr(runtime.log, "append_many", held)
    started = await actions.start_chat(runtime, display_name="Ada")
    emulator.agent_join(started.session.contact_id, "Sam")
    client = await authenticated_client(started.session_token, connected=True)
    held.hold_when(lambda events: any(event.content == "hello" for event, _ in events))

    emulator.agent_message(started.session.contact_id, "hello")
    async with asyncio.timeout(GUARD):
        await held.holding.wait()
    busy_while_logging = live_first.busy
    held.release.set()

    await client.wait_for(is_agent_message("hello"))
    assert busy_while_logging
    await close(client)


@pytest.fixture
def slow_sends(emulator, settings):
    """Connect's SendMessage rate and ChatBridge's budget for it at a token per 100 s; the
    session's emulator runs without quotas again afterwards."""
    emulator.set_quotas(SendMessage=SLOW)
    settings.CHATBRIDGE_CONNECT_RATES = f"SendMessage={SLOW}"
    settings.CHATBRIDGE_CONNECT_MAX_WAIT = 3600
    yield
    emulator.reset()


@pytest.mark.django_db(transaction=True)
async def test_a_customers_message_waiting_for_connects_rate_is_not_under_way(
    runtime, live_first, emulator, slow_sends, redis_client
):
    budget = keys().connect_budget("SendMessage")
    await redis_client.hset(budget, "tokens", 0)
    started = await actions.start_chat(runtime, display_name="Ada")
    client = await authenticated_client(started.session_token, connected=True)

    await client.send({"type": "send", "content": "waits", "ref": "r1"})
    await until_members(redis_client, keys().connect_budget("SendMessage", "queue"), 1)
    async with asyncio.timeout(GUARD):
        await live_first.turn()

    emulator.set_quotas(SendMessage=SLOW)  # Connect's bucket full again, and a token here
    await redis_client.hset(budget, "tokens", 1)
    ack = await client.receive_until(lambda f: f.get("ref") == "r1")
    assert (ack["type"], ack.get("status")) == ("ack", "sent"), ack
    await close(client)
