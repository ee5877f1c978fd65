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


async def test_a_gated_setup_goes_on_after_a_wait_only_once_no_live_message_is_under_way():
    live_first = LiveFirst(max_wait=60)
    reply = asyncio.get_running_loop().create_future()
    steps = []

    async def setup() -> None:
        steps.append("before the reply")
        await reply
        steps.append("after the reply")

    running = asyncio.create_task(live_first.gated(setup()))
    await asyncio.sleep(0)
    live = live_first.live()
    live.__enter__()
    reply.set_result(None)
    for _ in range(5):
        await asyncio.sleep(0)
    while_live = list(steps)
    live.__exit__(None, None, None)

    async with asyncio.timeout(GUARD):
        await running
    assert while_live == ["before the reply"]
    assert steps == ["before the reply", "after the reply"]


async def test_a_gated_setup_begins_only_once_no_live_message_is_under_way():
    live_first = LiveFirst(max_wait=60)
    began = asyncio.Event()

    async def setup() -> None:
        began.set()

    with live_first.live():
        running = asyncio.create_task(live_first.gated(setup()))
        for _ in range(5):
            await asyncio.sleep(0)
        began_while_live = began.is_set()

    async with asyncio.timeout(GUARD):
        await running
    assert not began_while_live
    assert began.is_set()


async def test_each_step_of_a_gated_setup_waits_no_longer_than_its_limit():
    live_first = LiveFirst(max_wait=0.01)

    async def setup() -> str:
        for _ in range(3):
            await asyncio.sleep(0)
        return "done"

    with live_first.live():
        async with asyncio.timeout(GUARD):
            assert await live_first.gated(setup()) == "done"


class CountedLiveFirst(LiveFirst):
    """LiveFirst that counts the waits its setups' steps begin."""

    def __init__(self, **limits: float) -> None:
        super().__init__(**limits)
        self.waits = 0

    def next_turn(self) -> "asyncio.Future[None] | None":
        waiting = super().next_turn()
        self.waits += waiting is not None
        return waiting


async def test_a_gated_setup_stops_waiting_once_it_has_waited_its_limit_in_all():
    live_first = CountedLiveFirst(max_wait=0.05, max_setup_wait=0.04)

    async def setup() -> str:
        for _ in range(5):
            await asyncio.sleep(0)
        return "done"

    with live_first.live():
        async with asyncio.timeout(GUARD):
            assert await live_first.gated(setup()) == "done"

    assert live_first.waits == 1


async def test_setups_that_waited_for_a_live_message_go_one_step_at_a_time_after_it():
    """Had they all gone the moment the process fell idle, a message arriving during the
    first one's step would have waited for every one of them."""
    live_first = LiveFirst(max_wait=60)
    steps = []
    next_message = live_first.live()

    async def first() -> None:
        steps.append("first")
        next_message.__enter__()  # a message arrives while the step runs

    async def second() -> None:
        steps.append("second")

    with live_first.live():
        setups = [asyncio.create_task(live_first.gated(setup())) for setup in (first, second)]
        for _ in range(5):
            await asyncio.sleep(0)
    for _ in range(10):
        await asyncio.sleep(0)
    while_the_next_message_is_live = list(steps)
    next_message.__exit__(None, None, None)

    async with asyncio.timeout(GUARD):
        await asyncio.gather(*setups)
    assert while_the_next_message_is_live == ["first"]
    assert steps == ["first", "second"]


async def test_a_gated_setup_raises_its_own_errors():
    live_first = LiveFirst(max_wait=60)

    async def setup() -> None:
        await asyncio.sleep(0)
        raise LookupError("no such chat")

    with pytest.raises(LookupError, match="no such chat"):
        await live_first.gated(setup())


async def test_cancelling_a_gated_setup_while_it_waits_for_its_turn_cancels_the_setup():
    live_first = LiveFirst(max_wait=60)
    reply = asyncio.get_running_loop().create_future()
    seen = []

    async def setup() -> None:
        try:
            await reply
            seen.append("went on")
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    running = asyncio.create_task(live_first.gated(setup()))
    await asyncio.sleep(0)
    with live_first.live():
        reply.set_result(None)
        for _ in range(5):
            await asyncio.sleep(0)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    assert seen == ["cancelled"]
    assert live_first.next_turn() is None  # no cancelled wait holds the next setup back


async def test_a_cancellation_reaches_a_gated_setup_at_once_while_a_message_is_live():
    live_first = LiveFirst(max_wait=60)
    reply = asyncio.get_running_loop().create_future()
    seen = []

    async def setup() -> None:
        try:
            await reply
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    running = asyncio.create_task(live_first.gated(setup()))
    await asyncio.sleep(0)
    with live_first.live():
        running.cancel()
        for _ in range(5):
            await asyncio.sleep(0)
        done_while_live = running.done()

    assert done_while_live
    assert running.cancelled()
    assert seen == ["cancelled"]


class WatchedLiveFirst(LiveFirst):
    """LiveFirst that tells when a setup step begins to wait for its turn."""

    def __init__(self) -> None:
        super().__init__(max_wait=60)
        self.waiting = asyncio.Event()

    def next_turn(self) -> "asyncio.Future[None] | None":
        waiting = super().next_turn()
        if waiting is not None:
            self.waiting.set()
        return waiting


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
    filled: a live message meets one step of these at most, never the whole opening."""
    live = live_first.live()
    live.__enter__()
    started = await actions.start_chat(runtime, display_name="Ada")
    seen = []
    for _ in range(100):
        async with asyncio.timeout(GUARD):
            await live_first.waiting.wait()
        live_first.waiting.clear()
        sockets = emulator.contact(started.session.contact_id)["websockets"]
        seen.append(sockets)
        if [socket["subscribed"] for socket in sockets] == [True]:
            break
        live.__exit__(None, None, None)  # lets the waiting step go, and holds the next one
        live = live_first.live()
        live.__enter__()
    live.__exit__(None, None, None)

    client = await authenticated_client(started.session_token, connected=True)
    assert seen[:4] == [[]] * 4
    assert [socket["subscribed"] for socket in seen[-1]] == [True]
    await close(client)


class UpstreamTurns(LiveFirst):
    """LiveFirst that notes, at each wait an upstream's setup begins, whether the send path
    already leaves the chat's items to that upstream."""

    def __init__(self, relay) -> None:
        super().__init__(max_wait=0.001, max_setup_wait=60)
        self.relay = relay
        self.left_items_while_waiting: list[bool] = []

    def next_turn(self) -> "asyncio.Future[None] | None":
        waiting = super().next_turn()
        name = asyncio.current_task().get_name()
        if waiting is not None and name.startswith("upstream-"):
            chat_id = name.removeprefix("upstream-")
            self.left_items_while_waiting.append(self.relay.upstream_connected_here(chat_id))
        return waiting


@pytest.mark.django_db(transaction=True)
async def test_an_upstream_takes_no_turn_once_the_send_path_leaves_it_items(
    runtime, monkeypatch, emulator
):
    """A customer's item left to the upstream is live until the upstream logs it: a turn the
    upstream waited for then would wait for that item, and the item for the upstream."""
    turns = UpstreamTurns(runtime.relay)
    monkeypatch.setattr(runtime.relay, "live_first", turns)

    with turns.live():
        started = await actions.start_chat(runtime, display_name="Ada")
        client = await authenticated_client(started.session_token, connected=True)

    assert runtime.relay.upstream_connected_here(started.session.chat_id)
    assert turns.left_items_while_waiting
    assert not any(turns.left_items_while_waiting)
    await close(client)


@pytest.mark.django_db(transaction=True)
async def test_an_upstreams_gap_fill_waits_after_connects_answer_while_a_message_is_live(
    runtime, live_first, emulator
):
    """Connect's transcript comes back while a live message is under way: the opening logs
    it and reports itself connected only once the message is on its way no longer."""
    emulator.fault("GetTranscript", "hold")
    started = await actions.start_chat(runtime, display_name="Ada")
    client = await authenticated_client(started.session_token)
    await client.wait_for(lambda f: f["type"] == "upstream")  # its own setup is over
    assert await asyncio.to_thread(emulator.held, 1) == 1

    with live_first.live():
        live_first.waiting.clear()
        emulator.clear_faults()
        async with asyncio.timeout(GUARD):
            await live_first.waiting.wait()
        status_while_live = await runtime.relay.current_upstream_status(started.session.chat_id)

    await client.wait_for(lambda f: f["type"] == "upstream" and f["status"] == "connected")
    assert status_while_live != "connected"
    await close(client)


@pytest.mark.django_db(transaction=True)
async def test_a_websocket_authenticates_once_no_live_message_is_under_way(
    runtime, live_first, redis_client
):
    started = await actions.start_chat(runtime, display_name="Ada")
    first = await authenticated_client(started.session_token, connected=True)
    second = ChatClient()
    assert await second.connect()
    connections = keys().chat_connections(started.session.chat_id)

    with live_first.live():
        await second.send({"type": "auth", "token": started.session_token, "ref": "auth"})
        async with asyncio.timeout(GUARD):
            await live_first.waiting.wait()
        slots_while_live = await redis_client.zcard(connections)

    assert (await second.receive_until(lambda f: f["type"] in {"ready", "error"}))[
        "type"
    ] == "ready"
    assert slots_while_live == 1  # the first client's: the second's setup had not begun
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
