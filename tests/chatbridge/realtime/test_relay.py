"""The relay rings local followers directly and other processes through the channel layer."""

import asyncio

import pytest
import redis.asyncio as aioredis
from channels.layers import InMemoryChannelLayer, get_channel_layer
from redis.exceptions import RedisError

from chatbridge.chats.events import MESSAGE, TYPING, ChatEvent
from chatbridge.connect.types import ContentType
from chatbridge.dev.services import free_port
from chatbridge.realtime import relay as relay_module
from chatbridge.realtime.eventlog import EventLog
from chatbridge.realtime.fanout import LocalFanout
from chatbridge.realtime.relay import Relay, chat_group
from tests.support.redis_waits import until_members


def event(
    item_id: str, kind: str = MESSAGE, content_type: str = "text/plain", role: str = "AGENT"
) -> ChatEvent:
    return ChatEvent(
        id=item_id,
        type=kind,
        content_type=content_type,
        content="hi",
        participant_role=role,
        participant_id=role.lower(),
        display_name="Sam",
        absolute_time="2026-01-01T10:00:00.000Z",
    )


class Recorder:
    def __init__(self) -> None:
        self.messages: list[dict] = []
        self._arrived: asyncio.Queue[dict] = asyncio.Queue()

    async def ring(self, message: dict) -> None:
        self.messages.append(message)
        self._arrived.put_nowait(message)

    async def next(self) -> dict:
        return await self._arrived.get()


async def commands_run(redis_client) -> dict[str, int]:
    """How many times Redis ran each command, INFO itself left out."""
    stats = await redis_client.info("commandstats")
    return {name: stat["calls"] for name, stat in stats.items() if name != "cmdstat_info"}


def commands_between(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The commands run between two readings of commands_run, and how often. Other clients
    of the test Redis (another test's process shutting down) may add their own: a test
    looks at the commands it expects only."""
    return {
        name: after[name] - before.get(name, 0)
        for name in after
        if after[name] != before.get(name, 0)
    }


def process_relay(redis_client, *, layer_shares_redis: bool = False) -> Relay:
    """The relay of one ChatBridge process, on the test Redis."""
    return Relay(
        EventLog(redis_client, prefix="test", ttl=600),
        get_channel_layer(),
        redis_client,
        prefix="test",
        fanout=LocalFanout(),
        layer_shares_redis=layer_shares_redis,
    )


@pytest.fixture(params=[False, True], ids=["group-counted-apart", "group-counted-on-append"])
async def relay(request, redis_client):
    relay = process_relay(redis_client, layer_shares_redis=request.param)
    yield relay
    await relay.close()


async def test_a_follower_in_this_process_is_rung_before_publish_returns(relay):
    local = Recorder()
    relay.fanout.follow("chat-1", local)
    seq = await relay.publish("chat-1", event("a"))
    assert [(m["type"], m["seq"]) for m in local.messages] == [("chat.event", seq)]


async def test_a_follower_in_another_process_gets_the_doorbell_through_the_layer(relay):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(chat_group("chat-2"), channel)
    seq = await relay.publish("chat-2", event("b"))
    async with asyncio.timeout(10):
        message = await layer.receive(channel)
    assert (message["type"], message["seq"]) == ("chat.event", seq)


async def test_close_delivers_the_doorbells_still_waiting(relay):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(chat_group("chat-3"), channel)
    await relay.publish("chat-3", event("c"))
    await relay.close()
    async with asyncio.timeout(10):
        assert (await layer.receive(channel))["type"] == "chat.event"


async def test_the_layer_is_skipped_when_only_this_process_follows(relay):
    await relay.follow("chat-4", Recorder())
    await relay.follow("chat-4", Recorder())
    assert await relay._followed_elsewhere({"chat-4"}) == set()


async def test_a_chat_followed_elsewhere_too_is_rung_through_the_layer(relay):
    layer = get_channel_layer()
    await relay.follow("chat-4b", Recorder())
    await layer.group_add(chat_group("chat-4b"), await layer.new_channel())
    assert await relay._followed_elsewhere({"chat-4b"}) == {"chat-4b"}


async def test_a_follower_in_another_process_is_rung_through_its_inbox(relay, redis_client):
    elsewhere = process_relay(redis_client)
    there = Recorder()
    await elsewhere.follow("chat-4c", there)
    try:
        seq = await relay.publish("chat-4c", event("c"))
        async with asyncio.timeout(10):
            message = await there.next()
        assert (message["type"], message["seq"], message["origin"]) == (
            "chat.event",
            seq,
            relay.origin,
        )
    finally:
        await elsewhere.close()


async def test_a_process_is_in_a_chats_group_once_while_any_of_its_clients_follow(
    relay, redis_client
):
    group = relay.groups.key(chat_group("chat-4d"))
    first, second = Recorder(), Recorder()
    await relay.follow("chat-4d", first)
    await relay.follow("chat-4d", second)
    assert await redis_client.zcard(group) == 1
    await relay.unfollow("chat-4d", first)
    assert await redis_client.zcard(group) == 1
    await relay.unfollow("chat-4d", second)
    assert await redis_client.zcard(group) == 0


async def test_a_chat_followed_again_while_lingering_costs_no_round_trip(relay, redis_client):
    group = relay.groups.key(chat_group("chat-4e"))
    first, second = Recorder(), Recorder()
    before = await commands_run(redis_client)
    await relay.follow("chat-4e", first)
    following = commands_between(before, await commands_run(redis_client))
    await relay.unfollow("chat-4e", first, linger=True)
    assert await redis_client.zcard(group) == 1
    before = await commands_run(redis_client)

    await relay.follow("chat-4e", second)

    again = commands_between(before, await commands_run(redis_client))
    assert following
    assert {name: again.get(name, 0) for name in following} == dict.fromkeys(following, 0)
    await relay.unfollow("chat-4e", second)
    assert await redis_client.zcard(group) == 0


async def test_a_lingering_chat_leaves_its_group_once_nobody_followed_it_for_linger(
    relay, redis_client, monkeypatch
):
    monkeypatch.setattr(relay_module, "LINGER", 0.0)
    group = relay.groups.key(chat_group("chat-4f"))
    follower = Recorder()
    await relay.follow("chat-4f", follower)
    await relay.unfollow("chat-4f", follower, linger=True)
    await until_members(redis_client, group, 0)
    await relay.follow("chat-4f", follower)
    assert await redis_client.zcard(group) == 1


async def test_a_closing_relay_leaves_the_groups_of_its_lingering_chats(relay, redis_client):
    group = relay.groups.key(chat_group("chat-4g"))
    follower = Recorder()
    await relay.follow("chat-4g", follower)
    await relay.unfollow("chat-4g", follower, linger=True)

    await relay.close()

    assert await redis_client.zcard(group) == 0


async def test_every_message_names_the_relay_that_rang_it(relay):
    local = Recorder()
    relay.fanout.follow("chat-5", local)
    await relay.publish("chat-5", event("e"))
    assert [m["origin"] for m in local.messages] == [relay.origin]


async def test_typing_right_after_a_logged_event_reaches_other_processes(relay):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(chat_group("chat-6"), channel)
    await relay.publish("chat-6", event("f"))
    await relay.publish("chat-6", event("t", TYPING, ContentType.TYPING))
    async with asyncio.timeout(10):
        kinds = [(await layer.receive(channel))["type"] for _ in range(2)]
    assert kinds == ["chat.event", "chat.ephemeral"]


async def test_events_that_arrive_together_are_rung_in_their_order(relay):
    local = Recorder()
    relay.fanout.follow("chat-7", local)
    seqs = await relay.publish_many(
        "chat-7", [event("m1"), event("t", TYPING, ContentType.TYPING), event("m2")]
    )
    assert seqs == [1, None, 2]
    assert [(m["type"], m.get("seq")) for m in local.messages] == [
        ("chat.event", 1),
        ("chat.ephemeral", None),
        ("chat.event", 2),
    ]


async def test_a_customers_item_published_again_here_gets_its_seq_and_rings_once(relay):
    local = Recorder()
    relay.fanout.follow("chat-8", local)
    mine = event("sent", role="CUSTOMER")
    first = await relay.publish("chat-8", mine)
    again = await relay.publish("chat-8", mine, from_connect=False)
    assert first == again == 1
    assert [m["seq"] for m in local.messages] == [1]


async def test_the_upstream_waits_for_the_item_the_send_path_is_logging(relay):
    local = Recorder()
    relay.fanout.follow("chat-9", local)
    mine = event("sent", role="CUSTOMER")
    send_path = asyncio.create_task(relay.publish("chat-9", mine, from_connect=False))
    upstream = asyncio.create_task(relay.publish_many("chat-9", [mine, event("answer")]))
    assert await send_path == 1
    assert await upstream == [1, 2]
    assert [m["seq"] for m in local.messages] == [1, 2]


async def evalsha_calls(redis_client) -> int:
    return (await commands_run(redis_client)).get("cmdstat_evalsha", 0)


async def send_path_waiting(relay: Relay, chat_id: str, item: ChatEvent) -> asyncio.Task:
    """The send path's publish of `item`, run up to its first wait."""
    task = asyncio.create_task(relay.publish_sent(chat_id, item))
    await asyncio.sleep(0)  # one turn of the loop: the task runs up to its first await
    return task


async def test_a_sent_item_is_logged_by_the_connected_upstream_with_its_answer_in_one_append(
    relay, redis_client
):
    local = Recorder()
    relay.fanout.follow("chat-20", local)
    relay.upstream_live("chat-20", True)
    mine = event("sent", role="CUSTOMER")
    before = await evalsha_calls(redis_client)
    send_path = await send_path_waiting(relay, "chat-20", mine)
    assert await relay.publish_many("chat-20", [mine, event("answer")]) == [1, 2]
    assert await send_path == 1
    assert await evalsha_calls(redis_client) - before == 1
    assert [m["seq"] for m in local.messages] == [1, 2]


async def test_a_sent_item_logged_by_the_upstream_moves_the_gap_fill_cursor(relay):
    relay.upstream_live("chat-21", True)
    mine = event("sent", role="CUSTOMER")
    send_path = await send_path_waiting(relay, "chat-21", mine)
    await relay.publish("chat-21", mine)
    assert await send_path == 1
    assert (await relay.log.cursor("chat-21")).last_item_id == "sent"


async def test_without_a_connected_upstream_the_send_path_logs_its_item_at_once(relay, monkeypatch):
    monkeypatch.setattr(relay_module, "LEFT_TO_UPSTREAM", 3600.0)
    local = Recorder()
    relay.fanout.follow("chat-22", local)
    async with asyncio.timeout(30):  # failure guard: waiting would take an hour
        assert await relay.publish_sent("chat-22", event("sent", role="CUSTOMER")) == 1
    assert [m["seq"] for m in local.messages] == [1]


async def test_the_send_path_logs_its_item_itself_once_the_upstream_disconnects(relay, monkeypatch):
    monkeypatch.setattr(relay_module, "LEFT_TO_UPSTREAM", 3600.0)
    relay.upstream_live("chat-23", True)
    send_path = await send_path_waiting(relay, "chat-23", event("sent", role="CUSTOMER"))
    relay.upstream_live("chat-23", False)
    async with asyncio.timeout(30):  # failure guard: waiting would take an hour
        assert await send_path == 1


async def test_the_send_path_logs_its_item_itself_when_the_upstream_is_slow(relay, monkeypatch):
    monkeypatch.setattr(relay_module, "LEFT_TO_UPSTREAM", 0.0)
    relay.upstream_live("chat-24", True)
    mine = event("sent", role="CUSTOMER")
    assert await relay.publish_sent("chat-24", mine) == 1
    assert await relay.publish_many("chat-24", [mine, event("answer")]) == [1, 2]


async def test_an_item_the_upstream_logged_first_gives_the_send_path_its_seq(relay, redis_client):
    relay.upstream_live("chat-25", True)
    mine = event("sent", role="CUSTOMER")
    assert await relay.publish_many("chat-25", [mine, event("answer")]) == [1, 2]
    before = await evalsha_calls(redis_client)
    assert await relay.publish_sent("chat-25", mine) == 1
    assert await evalsha_calls(redis_client) == before


async def test_an_item_whose_first_logging_failed_is_logged_by_the_next_caller(relay):
    mine = event("retried", role="CUSTOMER")
    working = relay.log
    unreachable = aioredis.Redis(port=free_port(), socket_connect_timeout=1)
    relay.log = EventLog(unreachable, prefix="test", ttl=600)
    with pytest.raises(RedisError):
        await relay.publish("chat-10", mine, from_connect=False)
    relay.log = working
    assert await relay.publish("chat-10", mine) == 1
    await unreachable.aclose()


async def test_a_group_joined_long_ago_is_joined_again(relay, redis_client, monkeypatch):
    group = relay.groups.key(chat_group("chat-11"))
    await relay.follow("chat-11", Recorder())
    inbox = await relay._inbox_channel()
    joined = await redis_client.zscore(group, inbox)
    assert await relay.refresh_memberships() == 0
    monkeypatch.setattr(relay_module, "MEMBERSHIP_REFRESH", 0.0)
    assert await relay.refresh_memberships() == 1
    assert await redis_client.zscore(group, inbox) > joined


async def test_a_layer_whose_groups_cannot_be_counted_is_rung_for_every_event(redis_client):
    layer = InMemoryChannelLayer()
    relay = Relay(
        EventLog(redis_client, prefix="test", ttl=600), layer, redis_client, prefix="test"
    )
    channel = await layer.new_channel()
    await layer.group_add(chat_group("chat-12"), channel)
    try:
        assert await relay._followed_elsewhere({"chat-12"}) == {"chat-12"}
        seq = await relay.publish("chat-12", event("g"))
        async with asyncio.timeout(10):
            assert (await layer.receive(channel))["seq"] == seq
    finally:
        await relay.close()


class HeldJoins:
    """The channel layer, with its group joins held until `release` is set."""

    def __init__(self, layer) -> None:
        self._layer = layer
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    def __getattr__(self, name: str):
        return getattr(self._layer, name)

    async def group_add(self, group: str, channel: str) -> None:
        self.holding.set()
        await self.release.wait()
        await self._layer.group_add(group, channel)


async def test_a_second_follower_of_a_chat_being_joined_waits_for_the_join(redis_client):
    """A follower that reads the chat's state once follow() returns (a websocket's upstream
    status) relies on rings from other processes from then on: follow() must not return
    before the process is in the chat's group, even while another follower's join is on its
    way."""
    layer = HeldJoins(get_channel_layer())
    relay = Relay(
        EventLog(redis_client, prefix="test", ttl=600), layer, redis_client, prefix="test"
    )
    group = relay.groups.key(chat_group("chat-13"))
    try:
        first = asyncio.create_task(relay.follow("chat-13", Recorder()))
        await layer.holding.wait()
        second = asyncio.create_task(relay.follow("chat-13", Recorder()))
        await asyncio.sleep(0)  # one turn: the second follow() runs as far as it can

        assert not second.done()
        layer.release.set()
        await asyncio.gather(first, second)
        assert await redis_client.zcard(group) == 1
    finally:
        await relay.close()


class FailingJoin(HeldJoins):
    """The channel layer, whose first group join fails (Redis away for a moment)."""

    def __init__(self, layer) -> None:
        super().__init__(layer)
        self.release.set()
        self.failures = 1

    async def group_add(self, group: str, channel: str) -> None:
        if self.failures:
            self.failures -= 1
            raise RedisError("the channel layer's Redis went away")
        await super().group_add(group, channel)


async def test_a_chat_whose_join_failed_is_joined_by_its_next_follower(redis_client):
    layer = FailingJoin(get_channel_layer())
    relay = Relay(
        EventLog(redis_client, prefix="test", ttl=600), layer, redis_client, prefix="test"
    )
    group = relay.groups.key(chat_group("chat-14"))
    try:
        with pytest.raises(RedisError):
            await relay.follow("chat-14", Recorder())

        await relay.follow("chat-14", Recorder())

        assert await redis_client.zcard(group) == 1
    finally:
        await relay.close()


class EarlyRecorder(Recorder):
    """A follower that also takes events before they are logged, as the websocket does."""

    def __init__(self) -> None:
        super().__init__()
        self.early_messages: list[dict] = []

    async def early(self, message: dict) -> None:
        self.early_messages.append(message)
        self._arrived.put_nowait(message)


async def test_early_followers_get_events_before_they_are_logged_then_their_doorbells(relay):
    follower, plain = EarlyRecorder(), Recorder()
    await relay.follow("c1", follower)
    await relay.follow("c1", plain)

    await relay.publish_many("c1", [event("m1"), event("t1", kind=TYPING)], early=True)

    assert [(m["type"], m["id"]) for m in follower.early_messages] == [("chat.early", "m1")]
    assert follower.early_messages[0]["receipted"] is True
    assert [m["type"] for m in follower.messages] == ["chat.event", "chat.ephemeral"]
    assert [m["type"] for m in plain.messages] == ["chat.event", "chat.ephemeral"]


async def test_only_what_comes_live_from_connect_is_rung_early(relay):
    follower = EarlyRecorder()
    await relay.follow("c1", follower)

    await relay.publish_many("c1", [event("m1")])
    await relay.publish_many("c1", [event("m2", kind="event")], early=True)

    assert [(m["id"], m["receipted"]) for m in follower.early_messages] == [("m2", False)]
