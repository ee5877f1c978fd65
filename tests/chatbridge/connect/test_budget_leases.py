"""A process's lease of the shared Connect budget, and its share of a chat's message window,
against a real Redis: spent without a round trip, never more than the bucket or the window holds.

The raised quota here refills a token per 100 s, so no token appears during a test: what the
bucket holds is what the leases and the test left in it.
"""

import asyncio
import os
import sys
from pathlib import Path

import pytest

from chatbridge.actions import counted_with_the_call
from chatbridge.connect.budget import ConnectBudget, Priority, calling_for, forget_leases
from chatbridge.errors import Dropped, RateLimited, Throttled
from chatbridge.metrics import CONNECT_BUDGET_LEASE_SPENT, CONNECT_BUDGET_LEASED
from chatbridge.ratelimit import chat_window, window_share
from chatbridge.redis import keys

ROOT = Path(__file__).resolve().parents[3]
RAISED = (0.01, 101)  # a raised quota: bursts of 100 after the reserve, a token per 100 s
LEASE = 8
GUARD = 30


def budget(
    rate: tuple[float, int] = RAISED, *, lease: int = LEASE, lease_seconds: float = 60
) -> ConnectBudget:
    return ConnectBudget(
        {"SendMessage": rate, "SendEvent": rate},
        max_wait=0,
        max_queue=100,
        recovery=10,
        lease=lease,
        lease_seconds=lease_seconds,
    )


async def scripts_run(redis_client) -> int:
    """Lua scripts Redis has run (EVAL and EVALSHA) since it started."""
    stats = await redis_client.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("eval", "evalsha"))


async def tokens_of(redis_client, operation: str = "SendMessage") -> int:
    """The bucket's whole tokens, as its last script left it."""
    return int(float(await redis_client.hget(keys().connect_budget(operation), "tokens")))


@pytest.fixture(autouse=True)
async def scripts_known(redis_client):
    """Redis knows both scripts (a first EVALSHA goes round again as EVAL), and this process
    holds no lease or share from it."""
    warm = chat_window("warm", "send", limit=60)
    with calling_for(chat_id="warm", limits=counted_with_the_call([warm], share=6)):
        await budget().acquire("SendEvent")
    forget_leases()
    await budget().acquire("SendEvent")
    forget_leases()


async def scripts_for(redis_client, calls: int, shared: ConnectBudget, **context) -> int:
    """Scripts run by `calls` acquires of SendMessage in `context`."""
    before = await scripts_run(redis_client)
    for _ in range(calls):
        with calling_for(**context):
            grant = await shared.acquire("SendMessage")
        assert grant is not None and not grant.queued
    return await scripts_run(redis_client) - before


async def test_a_message_leases_tokens_that_the_next_ones_spend_without_a_round_trip(
    redis_client,
):
    shared = budget()
    assert await scripts_for(redis_client, 1, shared) == 1
    assert await tokens_of(redis_client) == 100 - 1 - LEASE

    assert await scripts_for(redis_client, LEASE, shared) == 0
    assert await scripts_for(redis_client, 1, shared) == 1


async def test_awss_default_quotas_never_lease(redis_client, settings):
    settings.CHATBRIDGE_CONNECT_RATES = ""
    assert await scripts_for(redis_client, 3, ConnectBudget.from_settings()) == 3


async def test_a_burst_of_fewer_than_four_leases_never_leases(redis_client):
    """SendMessage's default burst, 14 after the reserve: not four leases of three and their calls."""
    assert await scripts_for(redis_client, 3, budget((10, 15), lease=3)) == 3


async def test_no_lease_while_a_call_waits_in_the_queue(redis_client):
    queue = keys().connect_budget("SendMessage", "queue")
    leases = keys().connect_budget("SendMessage", "leases")
    await redis_client.zadd(queue, {"waiter": 0})  # a message that queued earlier
    await redis_client.zadd(leases, {"waiter": 2**52})

    assert await scripts_for(redis_client, 2, budget()) == 2


async def test_no_lease_once_the_bucket_is_half_spent(redis_client):
    await budget(lease=0).acquire("SendMessage")
    await redis_client.hset(keys().connect_budget("SendMessage"), "tokens", 55)

    assert await scripts_for(redis_client, 2, budget()) == 2


async def test_leased_tokens_lower_the_buckets_ceiling_until_the_lease_ends(redis_client):
    await budget().acquire("SendMessage")
    await redis_client.hset(keys().connect_budget("SendMessage"), "tokens", 100)  # refilled

    await budget(lease=0).acquire("SendMessage")  # another process, not leasing

    assert await tokens_of(redis_client) == 100 - LEASE - 1


async def test_leased_tokens_lapse_unspent_at_the_end_of_the_lease(redis_client):
    shared = budget(lease_seconds=0)
    assert await scripts_for(redis_client, 3, shared) == 3


@pytest.mark.parametrize("priority", [Priority.END, Priority.RECEIPT, Priority.BACKGROUND])
async def test_only_customers_messages_spend_or_take_leases(redis_client, priority):
    await budget().acquire("SendMessage")

    assert await scripts_for(redis_client, 2, budget(), priority=priority) == 2
    assert await tokens_of(redis_client) == 100 - 1 - LEASE - 2


async def test_typing_does_not_spend_a_leased_token(redis_client):
    await budget().acquire("SendMessage")
    await redis_client.hset(keys().connect_budget("SendMessage"), "tokens", 0)

    with calling_for(priority=Priority.TYPING), pytest.raises(Dropped):
        await budget().acquire("SendMessage")


async def test_a_throttle_drops_the_processs_leased_tokens(redis_client):
    shared = budget()
    await shared.acquire("SendMessage")

    await shared.slow_down("SendMessage")  # Connect's bucket was emptier than this copy

    with pytest.raises(Throttled):
        await shared.acquire("SendMessage")


def send_limits(chat_id: str, limit: int):
    window = chat_window(chat_id, "send", limit=limit)
    return window, counted_with_the_call([window], share=window_share(limit))


async def test_a_leasing_message_counts_a_share_of_its_chats_window_ahead(redis_client):
    shared = budget()
    window, limits = send_limits("chat-1", 60)
    assert await scripts_for(redis_client, 1, shared, chat_id="chat-1", limits=limits) == 1
    assert int(await redis_client.get(window.key)) == 1 + window_share(60)

    for _ in range(window_share(60)):
        _, limits = send_limits("chat-1", 60)
        assert await scripts_for(redis_client, 1, shared, chat_id="chat-1", limits=limits) == 0
    assert int(await redis_client.get(window.key)) == 1 + window_share(60)

    _, limits = send_limits("chat-1", 60)
    assert await scripts_for(redis_client, 1, shared, chat_id="chat-1", limits=limits) == 1


async def test_a_chats_share_is_its_own(redis_client):
    shared = budget()
    _, limits = send_limits("chat-1", 60)
    await scripts_for(redis_client, 1, shared, chat_id="chat-1", limits=limits)

    other, limits = send_limits("chat-2", 60)
    assert await scripts_for(redis_client, 1, shared, chat_id="chat-2", limits=limits) == 1
    assert int(await redis_client.get(other.key)) == 1 + window_share(60)


async def admitted(shared: ConnectBudget, chat_id: str, limit: int) -> int:
    """Messages of the chat this process lets through before its window refuses one."""
    count = 0
    while True:
        _, limits = send_limits(chat_id, limit)
        try:
            with calling_for(chat_id=chat_id, limits=limits):
                await shared.acquire("SendMessage")
        except RateLimited:
            return count
        count += 1


async def test_a_chats_shares_never_let_it_past_its_window(redis_client, redis_server, settings):
    """Another process sends one message of the chat and keeps its share: this one is refused
    that share early, and the two together stay within the window."""
    limit = 20
    other = (
        "import asyncio, django; django.setup()\n"
        "from chatbridge.actions import counted_with_the_call\n"
        "from chatbridge.connect.budget import ConnectBudget, calling_for\n"
        "from chatbridge.ratelimit import chat_window, window_share\n"
        "async def main():\n"
        f"    window = chat_window('chat-1', 'send', limit={limit})\n"
        f"    limits = counted_with_the_call([window], share=window_share({limit}))\n"
        "    with calling_for(chat_id='chat-1', limits=limits):\n"
        "        await ConnectBudget.from_settings().acquire('SendMessage')\n"
        "asyncio.run(main())\n"
    )
    rates = f"SendMessage={RAISED[0]}/{RAISED[1]}"
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatbridge.settings",
        "REDIS_URL": redis_server.url,
        "CHATBRIDGE_CONNECT_RATES": rates,
        "CHATBRIDGE_CONNECT_LEASE": str(LEASE),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", other, cwd=ROOT, env=environment
    )
    assert await asyncio.wait_for(process.wait(), GUARD) == 0

    share = window_share(limit)
    assert await admitted(budget(), "chat-1", limit) == limit - 1 - share


async def test_a_window_shares_out_no_more_than_the_room_it_has_left(redis_client):
    window, _ = send_limits("chat-1", 60)
    await redis_client.set(window.key, 57, px=60_000)

    assert await admitted(budget(), "chat-1", 60) == 3
    assert int(await redis_client.get(window.key)) == 61  # the refused one counted, as before


async def test_forgetting_the_leases_sends_the_next_message_to_redis(redis_client):
    shared = budget()
    await shared.acquire("SendMessage")
    forget_leases()
    assert await scripts_for(redis_client, 1, shared) == 1


async def test_leases_taken_under_a_larger_burst_leave_a_smaller_one_half_its_ceiling(
    redis_client,
):
    for _ in range(4):
        forget_leases()
        await budget().acquire("SendMessage")  # four leases out: 32 tokens
    await redis_client.hset(keys().connect_budget("SendMessage"), "tokens", 100)

    await budget((10, 15), lease=0).acquire("SendMessage")  # the quota configured lower

    assert await tokens_of(redis_client) == 7 - 1


async def scripts_for_pairs(redis_client, calls: int, shared: ConnectBudget, **context) -> int:
    """Scripts run by `calls` acquires of the pair SendMessage, SendEvent in `context`."""
    before = await scripts_run(redis_client)
    for _ in range(calls):
        with calling_for(**context):
            grant, both = await shared.acquire_pair("SendMessage", "SendEvent")
        assert grant is not None and not grant.queued and both
    return await scripts_run(redis_client) - before


async def test_a_pair_leases_both_operations_for_the_next_pairs(redis_client):
    shared = budget()
    await scripts_for_pairs(redis_client, 1, shared)  # Redis now knows the script
    forget_leases()

    assert await scripts_for_pairs(redis_client, 1, shared) == 1
    assert await scripts_for_pairs(redis_client, LEASE, shared) == 0
    assert await scripts_for_pairs(redis_client, 1, shared) == 1


async def test_a_pair_leases_nothing_unless_both_operations_may(redis_client):
    shared = ConnectBudget(
        {"SendMessage": RAISED, "SendEvent": (10, 15)},
        max_wait=0,
        max_queue=100,
        recovery=10,
        lease=LEASE,
        lease_seconds=60,
    )
    assert await scripts_for_pairs(redis_client, 3, shared) >= 3
    assert await tokens_of(redis_client) == 100 - 3


async def test_a_pair_shares_out_its_windows_with_its_leases(redis_client):
    shared = budget()
    window = chat_window("address", "starts", limit=60)

    def limits():
        return counted_with_the_call([window], share=window_share(60))

    await scripts_for_pairs(redis_client, 1, shared, limits=limits())
    assert int(await redis_client.get(window.key)) == 1 + window_share(60)

    forget_leases()
    await redis_client.delete(window.key)
    assert await scripts_for_pairs(redis_client, 1, shared, limits=limits()) == 1
    assert await scripts_for_pairs(redis_client, window_share(60), shared, limits=limits()) == 0
    assert int(await redis_client.get(window.key)) == 1 + window_share(60)


def counted(metric, operation: str = "SendMessage") -> float:
    return metric.labels(operation=operation)._value.get()


async def test_the_tokens_leased_and_those_spent_are_counted(redis_client):
    leased, spent = counted(CONNECT_BUDGET_LEASED), counted(CONNECT_BUDGET_LEASE_SPENT)
    shared = budget()
    await scripts_for(redis_client, 4, shared)

    assert counted(CONNECT_BUDGET_LEASED) - leased == LEASE
    assert counted(CONNECT_BUDGET_LEASE_SPENT) - spent == 3


async def test_a_call_whose_limits_have_no_share_leases_nothing(redis_client):
    """A start without an Idempotency-Key counts its address's windows with its tokens: it
    could never spend a lease, so it takes none."""
    await redis_client.delete(keys().connect_budget("SendEvent"))  # full again
    window = chat_window("address", "starts", limit=60)
    for _ in range(2):
        with calling_for(limits=counted_with_the_call([window])):
            await budget().acquire_pair("SendMessage", "SendEvent")

    assert await tokens_of(redis_client) == 100 - 2
    assert await tokens_of(redis_client, "SendEvent") == 100 - 2
