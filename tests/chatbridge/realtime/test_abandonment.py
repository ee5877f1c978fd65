"""Abandoned chats: a chat whose customer has no live client for CHATBRIDGE_ABANDON_AFTER
seconds is ended in Connect as `abandoned`, once, by one process; a return within the window
keeps it. The scans are driven by hand, on a clock the test sets: nothing waits for time."""

import asyncio

import pytest

from chatbridge.realtime.abandonment import AbandonWatch
from chatbridge.redis import keys
from tests.support.ws_client import authenticated_client

pytestmark = pytest.mark.django_db(transaction=True)

T0 = 1_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def watch(runtime) -> AbandonWatch:
    """This process's watch, on a clock of the test's, with no scan of its own running."""
    await runtime.supervisor.stop()
    watch = runtime.supervisor.abandon
    watch.clock = Clock()
    return watch


async def start(runtime) -> str:
    chat = await runtime.service.start_chat(display_name="Ada")
    return chat.session.chat_id


async def status(runtime, chat_id: str) -> tuple[str, str]:
    session = await runtime.service.store.load(chat_id)
    return session.status.value, session.ended_reason


def customer_of(emulator, contact_id: str) -> dict:
    (customer,) = [
        p for p in emulator.contact(contact_id)["participants"] if p["role"] == "CUSTOMER"
    ]
    return customer


async def test_a_chat_without_a_client_for_the_window_is_ended_in_connect_as_abandoned(
    runtime, watch, emulator, settings
):
    assert watch.after_ms == settings.CHATBRIDGE_ABANDON_AFTER * 1000 == 300_000
    chat_id = await start(runtime)
    contact_id = (await runtime.service.store.load(chat_id)).contact_id

    assert await watch.check([chat_id]) == []  # absent from now on
    watch.clock.now = T0 + 299.9
    assert await watch.check([chat_id]) == []
    assert await status(runtime, chat_id) == ("active", "")

    watch.clock.now = T0 + 300
    assert await watch.check([chat_id]) == [chat_id]

    assert await status(runtime, chat_id) == ("ended", "abandoned")
    assert customer_of(emulator, contact_id)["left_at"] is not None


async def test_a_customer_back_within_the_window_keeps_the_chat(runtime, watch):
    chat_id = await start(runtime)
    await watch.check([chat_id])

    watch.clock.now = T0 + 200
    slot = await runtime.slots.acquire(chat_id=chat_id)  # a websocket, SSE or long-poll
    assert await watch.check([chat_id]) == []
    await runtime.slots.release(slot)

    # Gone again: the window starts over from the first scan that sees nobody.
    watch.clock.now = T0 + 310
    assert await watch.check([chat_id]) == []
    watch.clock.now = T0 + 609
    assert await watch.check([chat_id]) == []
    assert await status(runtime, chat_id) == ("active", "")
    watch.clock.now = T0 + 610
    assert await watch.check([chat_id]) == [chat_id]


async def test_many_chats_are_decided_at_most_fifty_at_a_time(watch, redis_client):
    """A script call is one step of the event loop that nothing else interrupts."""
    chat_ids = [f"gone-{n}" for n in range(120)]
    decide, sizes = watch._check, []

    async def counted(*, keys, args):
        sizes.append(len(keys) // 3)
        return await decide(keys=keys, args=args)

    watch._check = counted
    assert await watch.check(chat_ids) == []

    assert max(sizes) <= 50
    assert sum(sizes) == len(chat_ids)
    for chat_id in chat_ids:  # each noted absent from now on
        assert await redis_client.get(keys().chat(chat_id, "absent-since")) is not None


async def test_a_chat_with_a_live_client_is_never_abandoned(runtime, watch):
    chat_id = await start(runtime)
    await runtime.slots.acquire(chat_id=chat_id)
    for minutes in (0, 10, 60):
        watch.clock.now = T0 + minutes * 60
        assert await watch.check([chat_id]) == []
    assert await status(runtime, chat_id) == ("active", "")


async def test_only_one_process_ends_an_abandoned_chat(runtime, watch, redis_client):
    chat_id = await start(runtime)
    ends: list[str] = []

    async def counted(chat_id: str) -> None:
        ends.append(chat_id)
        await watch.end(chat_id)

    # Two processes' watches on the same Redis, deciding at the same moment.
    processes = [
        AbandonWatch(redis_client, keys=keys(), after=300, end=counted, clock=watch.clock)
        for _ in range(2)
    ]
    await processes[0].check([chat_id])
    watch.clock.now = T0 + 300

    results = await asyncio.gather(*(p.check([chat_id]) for p in processes))

    assert sorted(results) == [[], [chat_id]]
    assert ends == [chat_id]
    # A later scan, here or there, leaves the ended chat alone.
    watch.clock.now = T0 + 900
    assert [await p.check([chat_id]) for p in processes] == [[], []]
    assert ends == [chat_id]


async def test_a_failed_end_is_tried_again_at_the_next_scan(runtime, watch, emulator):
    chat_id = await start(runtime)
    await watch.check([chat_id])
    watch.clock.now = T0 + 300
    emulator.fault("DisconnectParticipant", "error", count=10)

    assert await watch.check([chat_id]) == []
    assert await status(runtime, chat_id) == ("active", "")

    emulator.clear_faults()
    assert await watch.check([chat_id]) == [chat_id]
    assert await status(runtime, chat_id) == ("ended", "abandoned")


async def test_the_supervisors_scan_ends_the_abandoned_chats_it_holds(runtime, watch):
    chat_id = await start(runtime)
    await runtime.supervisor.scan()  # claims the chat's upstream, and notes nobody is there
    assert runtime.supervisor.holds(chat_id)
    watch.clock.now = T0 + 300

    await runtime.supervisor.scan()

    assert await status(runtime, chat_id) == ("ended", "abandoned")


async def test_a_window_of_zero_never_ends_a_chat(runtime, redis_client):
    await runtime.supervisor.stop()
    chat_id = await start(runtime)
    clock = Clock()
    off = AbandonWatch(
        redis_client, keys=keys(), after=0, end=runtime.supervisor.abandon.end, clock=clock
    )
    for days in (0, 1, 30):
        clock.now = T0 + days * 86400
        assert await off.check([chat_id]) == []
    assert await status(runtime, chat_id) == ("active", "")


async def test_a_websocket_keeps_the_chat_and_a_customer_who_comes_back_late_is_told_why(
    runtime, watch
):
    started = await runtime.service.start_chat(display_name="Ada")
    chat_id = started.session.chat_id
    client = await authenticated_client(started.session_token)
    for minutes in (0, 10):
        watch.clock.now = T0 + minutes * 60
        assert await watch.check([chat_id]) == []
    await client.close()

    watch.clock.now = T0 + 11 * 60
    await watch.check([chat_id])
    watch.clock.now = T0 + 16 * 60
    assert await watch.check([chat_id]) == [chat_id]

    back = await authenticated_client(started.session_token)
    assert back.frames[0]["status"] == "ended"
    assert back.frames[-1] == {"type": "ended", "reason": "abandoned"}
    await back.close()
