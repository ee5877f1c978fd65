"""Counting a channel layer group's members through channels_redis's own group key, on the
real layer and Redis: these fail when a channels_redis upgrade moves what the count relies on."""

import logging

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer

from chatbridge.realtime import layer_groups
from chatbridge.realtime.eventlog import EventLog
from chatbridge.realtime.layer_groups import LayerGroups, layer_shares_redis
from tests.support.records import message


@pytest.fixture
def fresh_warnings():
    layer_groups._fell_back.cache_clear()
    yield
    layer_groups._fell_back.cache_clear()


async def test_the_key_named_is_the_one_the_layer_writes_its_members_to(redis_client):
    layer = get_channel_layer()
    groups = LayerGroups(layer)
    channel = await layer.new_channel()
    await layer.group_add("chat.g1", channel)
    assert await redis_client.zcard(groups.key("chat.g1")) == 1
    assert await groups.count(["chat.g1"]) == {"chat.g1": 1}
    await layer.group_discard("chat.g1", channel)
    assert await groups.count(["chat.g1"]) == {"chat.g1": 0}


async def test_many_groups_are_counted_at_once(redis_client):
    layer = get_channel_layer()
    for group, members in (("chat.one", 1), ("chat.two", 2)):
        for _ in range(members):
            await layer.group_add(group, await layer.new_channel())
    counted = await LayerGroups(layer).count(["chat.none", "chat.one", "chat.two"])
    assert counted == {"chat.none": 0, "chat.one": 1, "chat.two": 2}


async def test_the_event_log_counts_the_group_as_it_appends(redis_client):
    layer = get_channel_layer()
    await layer.group_add("chat.g2", await layer.new_channel())
    groups = LayerGroups(layer, on_log_redis=True)
    log = EventLog(redis_client, prefix="test", ttl=600)
    event = message("m1")
    _, members = await log.append_many(
        "g2", [(event, event.to_json())], group_key=groups.key_on_log_redis("chat.g2")
    )
    assert members == 1


def test_the_log_counts_only_a_layer_in_its_own_redis():
    assert LayerGroups(get_channel_layer()).key_on_log_redis("chat.g3") is None


async def test_a_layer_without_group_keys_counts_nothing_and_says_so_once(fresh_warnings, caplog):
    with caplog.at_level(logging.WARNING, logger=layer_groups.__name__):
        groups = LayerGroups(InMemoryChannelLayer(), on_log_redis=True)
        LayerGroups(InMemoryChannelLayer())
    assert await groups.count(["chat.g4"]) == {}
    assert groups.key("chat.g4") is None and groups.key_on_log_redis("chat.g4") is None
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    assert "InMemoryChannelLayer" in caplog.records[0].getMessage()


def test_the_group_is_counted_on_append_only_when_the_layer_shares_the_redis(settings):
    assert layer_shares_redis()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": "redis://elsewhere:6379/0"}]},
        }
    }
    assert not layer_shares_redis()
