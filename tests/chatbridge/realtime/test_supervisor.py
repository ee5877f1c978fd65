"""The supervisor holds one upstream per chat and gives it up when its lease is lost."""

import asyncio
import signal

import pytest
from prometheus_client import REGISTRY

from chatbridge import actions
from chatbridge.connect.budget import calling_for
from chatbridge.realtime.liveness import Liveness
from chatbridge.redis import keys
from tests.support.redis_waits import until_key, until_members

pytestmark = pytest.mark.django_db(transaction=True)

# Failure guard for a stopping supervisor's leases to be released.
RELEASE_GUARD = 1.0


def upstream_task(chat_id: str) -> asyncio.Task:
    (task,) = [task for task in asyncio.all_tasks() if task.get_name() == f"upstream-{chat_id}"]
    return task


async def test_an_upstream_whose_lease_was_taken_stops_and_leaves_the_lease(runtime):
    chat = await runtime.service.start_chat(display_name="Ada")
    chat_id = chat.session.chat_id
    await runtime.supervisor.ensure(chat_id)
    task = upstream_task(chat_id)
    lease = runtime.supervisor.lease(chat_id)
    await runtime.service.store.redis.set(lease.key, "another-process")

    await runtime.supervisor.renew()

    async with asyncio.timeout(10):
        await asyncio.gather(task, return_exceptions=True)
    assert not runtime.supervisor.holds(chat_id)
    assert await runtime.service.store.redis.get(lease.key) == b"another-process"


async def test_an_upstream_a_start_opens_does_not_make_its_calls_as_that_start(
    runtime, redis_client, settings
):
    """The upstream outlives its start: its Connect calls queue under names of their own, not
    under the start's (nor count from the start's arrival, nor hold its address's windows)."""
    settings.CHATBRIDGE_CONNECT_RATES = "GetTranscript=0.01/2"  # a token per 100 s
    await redis_client.hset(keys().connect_budget("GetTranscript"), "tokens", 0)

    with calling_for(waiter="the-start"):
        started = await actions.start_chat(runtime, display_name="Ada")

    assert runtime.supervisor.holds(started.session.chat_id)
    queue = keys().connect_budget("GetTranscript", "queue")
    await until_members(redis_client, queue, 1)  # the upstream's gap fill, waiting
    assert await redis_client.zrange(queue, 0, -1) != [b"the-start"]


async def test_renewal_keeps_the_leases_of_running_upstreams(runtime, settings):
    chat = await runtime.service.start_chat(display_name="Ada")
    chat_id = chat.session.chat_id
    await runtime.supervisor.ensure(chat_id)
    lease = runtime.supervisor.lease(chat_id)
    await runtime.service.store.redis.pexpire(lease.key, 50_000)

    await runtime.supervisor.renew()

    assert runtime.supervisor.holds(chat_id)
    assert await runtime.service.store.redis.get(lease.key) == runtime.supervisor.owner.encode()
    assert await runtime.service.store.redis.pttl(lease.key) <= settings.CHATBRIDGE_LEASE_TTL * 1000


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_scan_that_claims_an_unheld_chat_counts_one_takeover(runtime):
    await runtime.supervisor.stop()  # its own scans would race this test's
    chat = await runtime.service.start_chat(display_name="Ada")
    before = sample("chatbridge_lease_takeovers_total")

    await runtime.supervisor.scan()
    await runtime.supervisor.scan()

    assert runtime.supervisor.holds(chat.session.chat_id)
    assert sample("chatbridge_lease_takeovers_total") == before + 1


async def test_a_scan_counts_the_active_chats(runtime):
    await runtime.supervisor.stop()
    ended = await runtime.service.start_chat(display_name="Ada")
    await runtime.service.end(ended.session, "customer_disconnected")
    for name in ("Grace", "Alan"):
        await runtime.service.start_chat(display_name=name)

    await runtime.supervisor.scan()

    assert sample("chatbridge_active_chats") == 2


async def test_a_lease_found_taken_on_renewal_counts_as_lost(runtime):
    chat = await runtime.service.start_chat(display_name="Ada")
    await runtime.supervisor.ensure(chat.session.chat_id)
    lease = runtime.supervisor.lease(chat.session.chat_id)
    before = sample("chatbridge_leases_lost_total")
    await runtime.service.store.redis.set(lease.key, "another-process")

    # The upstream's next fenced write may find the loss first; either way it counts once.
    await runtime.supervisor.renew()

    assert sample("chatbridge_leases_lost_total") == before + 1


async def test_a_chat_whose_holder_is_dead_is_taken_over_without_waiting_for_its_lease(runtime):
    chat = await runtime.service.start_chat(display_name="Ada")
    lease = runtime.supervisor.lease(chat.session.chat_id)
    redis = runtime.service.store.redis
    # A holder that shows neither heartbeat nor presence, with a lease far from lapsing.
    await redis.set(lease.key, "dead-process", px=600_000)

    async def taken_over() -> bool:
        return await redis.get(lease.key) == runtime.supervisor.owner.encode()

    await until_key(redis, lease.key, taken_over)
    assert runtime.supervisor.holds(chat.session.chat_id)


async def test_a_chat_whose_holder_lives_is_left_to_it(runtime, redis_client):
    other = Liveness(redis_client, keys=keys(), owner="other-process", ttl=30.0)
    other.start()

    async def beating() -> bool:
        return bool(await redis_client.exists(keys().process("other-process")))

    await until_key(redis_client, keys().process("other-process"), beating)
    try:
        chat = await runtime.service.start_chat(display_name="Ada")
        lease = runtime.supervisor.lease(chat.session.chat_id)
        await redis_client.set(lease.key, "other-process", px=600_000)

        await runtime.supervisor.scan()
        await runtime.supervisor.ensure(chat.session.chat_id)

        assert await redis_client.get(lease.key) == b"other-process"
        assert not runtime.supervisor.holds(chat.session.chat_id)
    finally:
        await other.stop()


async def test_stopping_releases_every_lease_without_waiting_for_connect_to_answer(
    runtime, emulator_server, redis_client
):
    """Each upstream's Connect websocket waits for Connect's answer to its close; while
    Connect does not answer (the emulator is stopped), the leases are released all the same,
    so that the other processes take the chats over at once."""
    chats = [await runtime.service.start_chat(display_name=f"Ada {n}") for n in range(3)]
    for chat in chats:
        await runtime.supervisor.ensure(chat.session.chat_id)
    leases = [runtime.supervisor.lease(chat.session.chat_id) for chat in chats]
    for chat in chats:
        status = runtime.relay._status_key(chat.session.chat_id)

        async def connected(status: str = status) -> bool:
            return (await redis_client.get(status) or b"").startswith(b"connected|")

        await until_key(redis_client, status, connected)

    emulator_server.process.send_signal(signal.SIGSTOP)
    stopping = asyncio.create_task(runtime.supervisor.stop())
    try:
        for lease in leases:

            async def released(key: str = lease.key) -> bool:
                return await redis_client.get(key) is None

            # Released at once, in a few milliseconds: released after each upstream's close,
            # they took 1.8 s here, and their Connect websockets' close timeout (10 s) at most.
            await until_key(redis_client, lease.key, released, guard=RELEASE_GUARD)
    finally:
        emulator_server.process.send_signal(signal.SIGCONT)
        await stopping


@pytest.fixture
def starts_only(settings):
    """A process that only starts chats, as behind deploy/nginx's `chatbridge_starts`."""
    settings.CHATBRIDGE_HOLD_UPSTREAMS = False


async def test_a_process_that_only_starts_chats_claims_none(starts_only, runtime):
    chat = await actions.start_chat(runtime, display_name="Ada")
    chat_id = chat.session.chat_id

    assert not await runtime.supervisor.ensure(chat_id)
    await runtime.supervisor.scan()

    assert not runtime.supervisor.holds(chat_id)
    assert await runtime.service.store.redis.get(runtime.supervisor.lease(chat_id).key) is None
