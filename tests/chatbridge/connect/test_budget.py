"""The shared Connect budget against a real Redis: who gets the next token, and when nobody
may wait any longer.

The buckets here refill so slowly (one token per 100 s) that no token appears during a test
unless the test puts it there (`free`): the order in which waiters are served is then decided
by the budget alone, not by how fast this machine runs.
"""

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from chatbridge.actions import counted_with_the_call
from chatbridge.connect.budget import (
    MAX_ASKED_AGE_MS,
    ConnectBudget,
    Priority,
    calling_for,
    parse_rates,
    parse_region_rates,
)
from chatbridge.errors import Dropped, RateLimited, Throttled
from chatbridge.metrics import CONNECT_BUDGET_DROPS
from chatbridge.ratelimit import Window, chat_window
from chatbridge.redis import keys
from tests.support.redis_waits import until_members

ROOT = Path(__file__).resolve().parents[3]
SLOW = (0.01, 10)  # one token per 100 s, bursts of 10
GUARD = 30  # seconds: failure guard for a waiter to be served


def budget(max_wait: float = 3600) -> ConnectBudget:
    return ConnectBudget(
        {"SendEvent": SLOW, "SendMessage": SLOW}, max_wait=max_wait, max_queue=100, recovery=10
    )


async def free(redis_client, operation: str, tokens: int) -> None:
    """Puts `tokens` tokens into the operation's bucket, as a refill would."""
    await redis_client.hset(keys().connect_budget(operation), "tokens", tokens)


class Waiters:
    """Calls waiting for a token, each known by a name: when it queued, when it was served."""

    def __init__(self, budget: ConnectBudget, operation: str) -> None:
        self.budget = budget
        self.operation = operation
        self.served: asyncio.Queue[str] = asyncio.Queue()
        self.tasks: list[asyncio.Task] = []

    async def queue(
        self, name: str, *, chat_id: str, priority: Priority, asked_at: float | None = None
    ) -> int:
        """Starts a call and returns its place in the queue once it has queued."""
        queued: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_queued(position: int) -> None:
            queued.set_result(position)

        async def call() -> None:
            with calling_for(
                chat_id=chat_id, priority=priority, on_queued=on_queued, asked_at=asked_at
            ):
                await self.budget.acquire(self.operation)
            self.served.put_nowait(name)

        self.tasks.append(asyncio.create_task(call()))
        return await asyncio.wait_for(queued, GUARD)

    async def serve_one(self, redis_client) -> str:
        """Frees one token and returns who took it."""
        await free(redis_client, self.operation, 1)
        return await asyncio.wait_for(self.served.get(), GUARD)

    async def serve_all(self, redis_client) -> list[str]:
        """Frees tokens one at a time until every waiter is served, in the order served."""
        return [await self.serve_one(redis_client) for _ in self.tasks]


@pytest.fixture
async def empty(redis_client):
    """SendEvent's and SendMessage's buckets, every token spent."""
    shared = budget()
    for operation in ("SendEvent", "SendMessage"):
        grant = await shared.acquire(operation)
        assert grant is not None and not grant.queued
        await free(redis_client, operation, 0)
    return shared


async def test_a_call_within_the_burst_is_not_queued(redis_client):
    grant = await budget().acquire("SendMessage")
    assert grant is not None and grant.queued is False


async def test_a_burst_keeps_one_token_in_reserve_for_calls_that_reach_connect_late(
    redis_client,
):
    impatient = budget(max_wait=5)  # bursts of 10
    grants = [await impatient.acquire("SendMessage") for _ in range(9)]
    assert all(grant is not None and not grant.queued for grant in grants)
    with pytest.raises(Throttled):
        await impatient.acquire("SendMessage")


async def test_a_burst_of_one_is_spent_in_full(redis_client):
    single = ConnectBudget({"SendMessage": (0.01, 1)}, max_wait=5, max_queue=100, recovery=10)
    grant = await single.acquire("SendMessage")
    assert grant is not None and not grant.queued


async def test_a_calls_own_maximum_wait_replaces_its_prioritys(empty, redis_client):
    impatient = budget(max_wait=0)
    waiter = asyncio.create_task(_acquire_with_max_wait(impatient, 3600))
    await until_queued(redis_client, "SendMessage", 1)
    await free(redis_client, "SendMessage", 1)
    grant = await asyncio.wait_for(waiter, GUARD)
    assert grant is not None and grant.queued


async def _acquire_with_max_wait(shared: ConnectBudget, max_wait: float):
    with calling_for(chat_id="a", max_wait=max_wait):
        return await shared.acquire("SendMessage")


async def until_queued(redis_client, operation: str, count: int) -> None:
    await until_members(redis_client, keys().connect_budget(operation, "queue"), count)


async def test_operations_without_a_quota_are_not_budgeted(redis_client):
    assert await budget().acquire("GetAttachment") is None


async def test_a_higher_priority_is_served_before_earlier_lower_ones(empty, redis_client):
    waiters = Waiters(empty, "SendEvent")
    await waiters.queue("upstream", chat_id="a", priority=Priority.BACKGROUND)
    assert await waiters.queue("read receipt", chat_id="a", priority=Priority.RECEIPT) == 1
    assert await waiters.serve_all(redis_client) == ["read receipt", "upstream"]


async def test_a_chat_that_floods_does_not_starve_another(empty, redis_client):
    waiters = Waiters(empty, "SendMessage")
    for n in range(3):
        await waiters.queue(f"a{n}", chat_id="a", priority=Priority.MESSAGE)
    assert await waiters.queue("b0", chat_id="b", priority=Priority.MESSAGE) == 2
    assert await waiters.serve_all(redis_client) == ["a0", "b0", "a1", "a2"]


async def test_background_work_serves_the_longest_waiting_chat_first(empty, redis_client):
    waiters = Waiters(empty, "SendEvent")
    for chat in ("old", "middle", "new"):
        await waiters.queue(chat, chat_id=chat, priority=Priority.BACKGROUND)
    assert await waiters.serve_all(redis_client) == ["old", "middle", "new"]


async def test_a_call_asked_earlier_goes_first_though_it_queued_later(empty, redis_client):
    waiters = Waiters(empty, "SendMessage")
    await waiters.queue("quick on its way", chat_id="", priority=Priority.MESSAGE)
    slowed = time.monotonic() - 2  # its request reached ChatBridge 2 s ago
    place = await waiters.queue(
        "slowed on its way", chat_id="", priority=Priority.MESSAGE, asked_at=slowed
    )
    assert place == 1
    assert await waiters.serve_all(redis_client) == ["slowed on its way", "quick on its way"]


async def test_a_calls_way_to_the_queue_counts_for_its_place_only_so_long(empty, redis_client):
    waiters = Waiters(empty, "SendMessage")
    await waiters.queue("first", chat_id="", priority=Priority.MESSAGE)
    an_hour_ago = time.monotonic() - 3600
    place = await waiters.queue(
        "an hour", chat_id="", priority=Priority.MESSAGE, asked_at=an_hour_ago
    )
    queue = keys().connect_budget("SendMessage", "queue")
    (_, an_hour), (_, first) = await redis_client.zrange(queue, 0, -1, withscores=True)
    assert place == 1
    assert first - an_hour <= MAX_ASKED_AGE_MS + 1000  # seconds apart, not an hour


async def test_typing_is_dropped_not_queued_when_no_token_is_free(empty):
    before = CONNECT_BUDGET_DROPS.labels(operation="SendEvent")._value.get()
    with calling_for(chat_id="a", priority=Priority.TYPING), pytest.raises(Dropped):
        await empty.acquire("SendEvent")
    assert CONNECT_BUDGET_DROPS.labels(operation="SendEvent")._value.get() == before + 1
    assert await empty.queue_depth("SendEvent") == 0


async def test_typing_does_not_take_a_token_a_queued_receipt_waits_for(empty, redis_client):
    waiters = Waiters(empty, "SendEvent")
    await waiters.queue("receipt", chat_id="a", priority=Priority.RECEIPT)
    await free(redis_client, "SendEvent", 1)
    with calling_for(chat_id="b", priority=Priority.TYPING), pytest.raises(Dropped):
        await empty.acquire("SendEvent")
    assert await asyncio.wait_for(waiters.served.get(), GUARD) == "receipt"


async def test_a_wait_beyond_the_maximum_fails_at_once_with_retry_after(empty):
    impatient = budget(max_wait=5)
    with pytest.raises(Throttled) as caught:
        await impatient.acquire("SendMessage")
    assert caught.value.retry_after >= 90  # the next token is about 100 s away
    assert await impatient.queue_depth("SendMessage") == 0


async def test_background_work_keeps_its_place_beyond_a_customers_maximum_wait(empty, redis_client):
    patient = ConnectBudget(
        {"SendMessage": SLOW}, max_wait=5, max_queue=100, recovery=10, background_max_wait=3600
    )
    waiters = Waiters(patient, "SendMessage")
    assert await waiters.queue("takeover", chat_id="a", priority=Priority.BACKGROUND) == 1
    assert await waiters.serve_one(redis_client) == "takeover"


async def test_a_full_queue_refuses_more_waiters(empty):
    small = ConnectBudget({"SendMessage": SLOW}, max_wait=3600, max_queue=1, recovery=10)
    waiters = Waiters(small, "SendMessage")
    await waiters.queue("first", chat_id="a", priority=Priority.MESSAGE)
    with pytest.raises(Throttled):
        await small.acquire("SendMessage")
    for task in waiters.tasks:
        task.cancel()


async def test_a_waiter_that_gives_up_leaves_the_queue(empty):
    waiters = Waiters(empty, "SendMessage")
    await waiters.queue("impatient", chat_id="a", priority=Priority.MESSAGE)
    assert await empty.queue_depth("SendMessage") == 1
    waiters.tasks[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiters.tasks[0]
    assert await empty.queue_depth("SendMessage") == 0


async def tokens_of(redis_client, operation: str) -> int:
    """The bucket's whole tokens, as its last script left it (its refill is a token per 100 s)."""
    return int(float(await redis_client.hget(keys().connect_budget(operation), "tokens")))


# A chat start's two calls: StartChatContact, then its CreateParticipantConnection.


async def test_a_pair_takes_both_tokens_in_one_script_when_both_are_free(redis_client):
    shared = budget()
    grant, both = await shared.acquire_pair("SendMessage", "SendEvent")
    assert grant is not None and not grant.queued and both
    # Bursts of 10, one in reserve: 9 to spend, one of each gone.
    assert await tokens_of(redis_client, "SendMessage") == 8
    assert await tokens_of(redis_client, "SendEvent") == 8


async def test_a_pair_does_not_queue_for_its_second_token(empty, redis_client):
    await free(redis_client, "SendMessage", 1)
    grant, both = await empty.acquire_pair("SendMessage", "SendEvent")
    assert grant is not None and not both
    assert await empty.queue_depth("SendEvent") == 0
    assert await tokens_of(redis_client, "SendEvent") == 0


async def test_a_pairs_second_token_does_not_go_before_a_waiter_of_its_own(empty, redis_client):
    waiters = Waiters(empty, "SendEvent")
    await waiters.queue("receipt", chat_id="a", priority=Priority.RECEIPT)
    await free(redis_client, "SendEvent", 1)
    await free(redis_client, "SendMessage", 1)
    with calling_for(priority=Priority.BACKGROUND):
        _, both = await empty.acquire_pair("SendMessage", "SendEvent")
    assert not both
    assert await asyncio.wait_for(waiters.served.get(), GUARD) == "receipt"


async def test_a_pair_queues_for_its_first_token_in_turn_and_then_takes_the_second(
    empty, redis_client
):
    waiters = Waiters(empty, "SendMessage")
    await waiters.queue("message", chat_id="a", priority=Priority.MESSAGE)
    await free(redis_client, "SendEvent", 2)
    pair = asyncio.create_task(empty.acquire_pair("SendMessage", "SendEvent"))
    await until_queued(redis_client, "SendMessage", 2)
    assert await tokens_of(redis_client, "SendEvent") == 2  # not taken while queued
    assert await waiters.serve_one(redis_client) == "message"
    await free(redis_client, "SendMessage", 1)
    grant, both = await asyncio.wait_for(pair, GUARD)
    assert grant is not None and grant.queued and both
    assert await tokens_of(redis_client, "SendEvent") == 1


async def test_a_token_given_back_is_spent_again(empty, redis_client):
    await empty.give_back("SendMessage")
    assert await tokens_of(redis_client, "SendMessage") == 1
    grant = await budget(max_wait=0).acquire("SendMessage")
    assert grant is not None and not grant.queued


async def test_a_token_given_back_to_a_bucket_gone_leaves_it_full(redis_client):
    shared = budget()
    await shared.give_back("SendMessage")
    assert await redis_client.exists(keys().connect_budget("SendMessage")) == 0


async def test_a_lone_throttle_empties_the_bucket_and_keeps_the_rate(redis_client):
    shared = budget()
    await shared.acquire("SendMessage")
    await shared.slow_down("SendMessage")
    bucket = await redis_client.hgetall(keys().connect_budget("SendMessage"))
    assert float(bucket[b"tokens"]) == 0
    assert float(bucket[b"factor"]) == 1


async def test_a_throttle_soon_after_another_halves_the_rate(redis_client):
    shared = budget()  # recovery 10 s
    await shared.slow_down("SendMessage")
    await _throttled_seconds_ago(redis_client, "SendMessage", 2)
    await shared.slow_down("SendMessage")
    bucket = await redis_client.hgetall(keys().connect_budget("SendMessage"))
    assert float(bucket[b"factor"]) == 0.5


async def test_a_throttle_long_after_another_keeps_the_rate(redis_client):
    shared = budget()
    await shared.slow_down("SendMessage")
    await _throttled_seconds_ago(redis_client, "SendMessage", 60)
    await shared.slow_down("SendMessage")
    bucket = await redis_client.hgetall(keys().connect_budget("SendMessage"))
    assert float(bucket[b"factor"]) == 1


async def _throttled_seconds_ago(redis_client, operation: str, seconds: float) -> None:
    """Moves the bucket's last throttle back in Redis's time, as time passing would."""
    now_s, now_us = await redis_client.time()
    then = now_s * 1000 + now_us // 1000 - int(seconds * 1000)
    await redis_client.hset(keys().connect_budget(operation), "slowed", then)


async def test_two_processes_share_one_budget(redis_client, redis_server, settings):
    """Another process spends the whole burst (but the reserve): this one finds no token left."""
    settings.CHATBRIDGE_CONNECT_RATES = "SendMessage=0.01/3"
    spend = (
        "import asyncio, django; django.setup()\n"
        "from chatbridge.connect.budget import ConnectBudget\n"
        "async def main():\n"
        "    budget = ConnectBudget.from_settings()\n"
        "    for _ in range(2):\n"
        "        assert not (await budget.acquire('SendMessage')).queued\n"
        "asyncio.run(main())\n"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatbridge.settings",
        "REDIS_URL": redis_server.url,
        "CHATBRIDGE_CONNECT_RATES": "SendMessage=0.01/3",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", spend, cwd=ROOT, env=environment
    )
    assert await asyncio.wait_for(process.wait(), GUARD) == 0
    settings.CHATBRIDGE_CONNECT_MAX_WAIT = 5
    with pytest.raises(Throttled):
        await ConnectBudget.from_settings().acquire("SendMessage")


def test_rates_default_to_connects_quotas_and_take_overrides():
    rates = parse_rates("SendMessage=2/3, StartChatContact=1/1")
    assert rates["SendMessage"] == (2.0, 3)
    assert rates["StartChatContact"] == (1.0, 1)
    assert rates["SendEvent"] == (10.0, 15)
    assert rates["CreateParticipantConnection"] == (6.0, 9)


@pytest.mark.parametrize("text", ["SendMessage=2", "Nope=1/1", "SendMessage=0/1", "SendMessage"])
def test_bad_rates_are_refused_naming_the_entry(text):
    with pytest.raises(ValueError, match="CHATBRIDGE_CONNECT_RATES"):
        parse_rates(text)


async def test_two_regions_do_not_share_a_bucket(redis_client, settings):
    """Connect's quotas are per Region: the default Region's empty bucket leaves another's."""
    settings.CHATBRIDGE_CONNECT_RATES = "SendMessage=0.01/1"
    settings.CHATBRIDGE_CONNECT_MAX_WAIT = 5
    await ConnectBudget.from_settings().acquire("SendMessage")

    grant = await ConnectBudget.from_settings("eu-west-2").acquire("SendMessage")

    assert not grant.queued
    with pytest.raises(Throttled):
        await ConnectBudget.from_settings().acquire("SendMessage")


async def test_the_default_region_keeps_the_budgets_key_names(redis_client, settings):
    await ConnectBudget.from_settings(settings.CONNECT_REGION).acquire("SendMessage")

    assert await redis_client.exists(keys().connect_budget("SendMessage"))


def test_a_region_listed_in_region_rates_gets_its_own_rates(settings):
    settings.CHATBRIDGE_CONNECT_RATES = "SendMessage=2/3"
    settings.CHATBRIDGE_CONNECT_REGION_RATES = "eu-west-2: SendMessage=5/8, GetTranscript=4/6"

    far = ConnectBudget.from_settings("eu-west-2").rates
    other = ConnectBudget.from_settings("ap-southeast-2").rates

    assert (far["SendMessage"], far["GetTranscript"], far["SendEvent"]) == (
        (5, 8),
        (4, 6),
        (10, 15),
    )
    assert other["SendMessage"] == (2, 3)


@pytest.mark.parametrize("text", ["eu-west-2 SendMessage=1/1", "eu-west-2: Nope=1/1"])
def test_bad_region_rates_are_refused_naming_the_setting(text):
    with pytest.raises(ValueError, match="CHATBRIDGE_CONNECT_REGION_RATES"):
        parse_region_rates(text)


async def scripts_run(redis_client) -> int:
    """Lua scripts Redis has run (EVAL and EVALSHA) since it started."""
    stats = await redis_client.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("eval", "evalsha"))


def send_window(limit: int) -> Window:
    return chat_window("chat-1", "send", limit=limit)


async def test_a_calls_own_limit_is_counted_in_the_script_that_takes_its_token(redis_client):
    await free(redis_client, "SendMessage", 2)
    other_chat = chat_window("chat-2", "send", limit=5)
    with calling_for(chat_id="chat-2", limits=counted_with_the_call([other_chat])):
        await budget().acquire("SendMessage")  # Redis now knows the script
    before = await scripts_run(redis_client)

    with calling_for(chat_id="chat-1", limits=counted_with_the_call([send_window(5)])):
        grant = await budget().acquire("SendMessage")

    assert grant is not None and not grant.queued
    assert await scripts_run(redis_client) - before == 1
    assert int(await redis_client.get(send_window(5).key)) == 1


async def test_a_call_over_its_own_limit_is_refused_and_takes_no_token(redis_client):
    await free(redis_client, "SendMessage", 1)
    await redis_client.set(send_window(1).key, 1, px=60_000)

    limits = counted_with_the_call([send_window(1)])
    with calling_for(chat_id="chat-1", limits=limits), pytest.raises(RateLimited) as refused:
        await budget().acquire("SendMessage")

    assert 0 < refused.value.retry_after <= 60
    tokens = await redis_client.hget(keys().connect_budget("SendMessage"), "tokens")
    assert float(tokens) == 1


async def test_the_limits_are_counted_once_however_many_calls_follow(redis_client):
    await free(redis_client, "SendMessage", 2)

    with calling_for(chat_id="chat-1", limits=counted_with_the_call([send_window(5)])):
        await budget().acquire("SendMessage")
        await budget().acquire("SendMessage")

    assert int(await redis_client.get(send_window(5).key)) == 1


async def test_a_call_without_a_quota_still_counts_the_limits(redis_client):
    await redis_client.set(send_window(1).key, 1, px=60_000)

    limits = counted_with_the_call([send_window(1)])
    with calling_for(chat_id="chat-1", limits=limits), pytest.raises(RateLimited):
        await budget().acquire("GetTranscript")


async def test_a_pairs_limits_are_counted_in_the_script_that_takes_both_tokens(redis_client):
    await free(redis_client, "SendMessage", 2)
    await free(redis_client, "SendEvent", 2)
    with calling_for(limits=counted_with_the_call([send_window(5)])):
        await budget().acquire_pair("SendMessage", "SendEvent")  # Redis now knows the script
    before = await scripts_run(redis_client)

    with calling_for(limits=counted_with_the_call([send_window(5)])):
        grant, both = await budget().acquire_pair("SendMessage", "SendEvent")

    assert grant is not None and both
    assert await scripts_run(redis_client) - before == 1
    assert int(await redis_client.get(send_window(5).key)) == 2
    assert await tokens_of(redis_client, "SendMessage") == 0
    assert await tokens_of(redis_client, "SendEvent") == 0


async def test_a_pair_over_its_limits_is_refused_and_takes_neither_token(redis_client):
    await free(redis_client, "SendMessage", 1)
    await free(redis_client, "SendEvent", 1)
    await redis_client.set(send_window(1).key, 1, px=60_000)

    limits = counted_with_the_call([send_window(1)])
    with calling_for(limits=limits), pytest.raises(RateLimited) as refused:
        await budget().acquire_pair("SendMessage", "SendEvent")

    assert 0 < refused.value.retry_after <= 60
    assert await tokens_of(redis_client, "SendMessage") == 1
    assert await tokens_of(redis_client, "SendEvent") == 1
