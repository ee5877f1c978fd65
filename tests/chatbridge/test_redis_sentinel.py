"""With Redis Sentinel configured, every Redis client ChatBridge builds reaches the primary the
sentinels name, and the primary they name after a failover.

A real sentinel group (a primary, a replica, three sentinels) runs for each test, and REDIS_URL
points at a port where nothing listens: only the sentinels can lead a client to Redis.
"""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from channels.layers import get_channel_layer

from chatbridge.dev.services import SentinelGroup
from chatbridge.redis import SentinelConfig, channel_layer_hosts, get_redis, parse_sentinels
from tests.support.production import inherited_environment
from tests.support.sentinels import (
    crash_primary,
    fail_over,
    replicated,
    sentinel_environment,
    sentinel_settings,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def group() -> Iterator[SentinelGroup]:
    group = SentinelGroup().start()
    yield group
    group.stop()


@pytest.fixture
def on_sentinel(group: SentinelGroup) -> Iterator[SentinelGroup]:
    with sentinel_settings(group):
        yield group


def primary_client(group: SentinelGroup) -> redis.Redis:
    return redis.Redis(port=group.primary_port(), decode_responses=True)


def test_a_process_started_with_the_sentinel_environment_writes_to_the_primary(group):
    script = (
        "import asyncio, django; django.setup()\n"
        "from channels.layers import get_channel_layer\n"
        "from chatbridge.redis import get_redis\n"
        "async def main():\n"
        "    await get_redis().set('written-through', 'sentinel')\n"
        "    layer = get_channel_layer()\n"
        "    await layer.send('probe', {'type': 'probe'})\n"
        "    print((await layer.receive('probe'))['type'])\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **inherited_environment(),
            "DJANGO_SETTINGS_MODULE": "chatbridge.settings",
            **sentinel_environment(group),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "probe"
    assert primary_client(group).get("written-through") == "sentinel"


async def test_the_shared_client_writes_to_the_primary_after_a_failover(on_sentinel):
    await get_redis().set("before", "1")
    await replicated(on_sentinel)
    new_primary = await fail_over(on_sentinel)
    await get_redis().set("after", "2")
    promoted = redis.Redis(port=new_primary, decode_responses=True)
    assert promoted.mget("before", "after") == ["1", "2"]


async def test_the_shared_client_reaches_the_promoted_replica_after_the_primary_crashed(
    on_sentinel,
):
    await get_redis().set("before", "1")
    await replicated(on_sentinel)
    new_primary = await crash_primary(on_sentinel)
    await get_redis().set("after", "2")
    promoted = redis.Redis(port=new_primary, decode_responses=True)
    assert promoted.mget("before", "after") == ["1", "2"]


async def test_the_channel_layer_carries_messages_after_a_failover(on_sentinel):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "before"})
    assert (await layer.receive(channel))["type"] == "before"
    await fail_over(on_sentinel)
    await layer.send(channel, {"type": "after"})
    assert (await layer.receive(channel))["type"] == "after"


def test_sentinels_are_host_port_pairs_with_the_default_port_when_left_out():
    assert parse_sentinels(["10.0.0.1:26380", "sentinel-b", "[::1]:26381", "::1"]) == (
        ("10.0.0.1", 26380),
        ("sentinel-b", 26379),
        ("::1", 26381),
        ("::1", 26379),
    )


@pytest.mark.parametrize("entry", ["host:port", ":26379", "host:0", "host:70000"])
def test_a_malformed_sentinel_is_refused(entry):
    with pytest.raises(ValueError, match="sentinel"):
        parse_sentinels([entry])


def test_the_channel_layer_asks_the_sentinels_with_the_credentials_and_db_of_the_url():
    config = SentinelConfig((("127.0.0.1", 26379),), "chatbridge", password="s3")
    (host,) = channel_layer_hosts("rediss://user:pw@ignored:1/4", config)
    assert "address" not in host
    assert host["master_name"] == "chatbridge"
    assert host["sentinels"] == [("127.0.0.1", 26379)]
    assert (host["username"], host["password"], host["db"], host["ssl"]) == ("user", "pw", 4, True)
    assert host["sentinel_kwargs"]["password"] == "s3"
    assert host["sentinel_kwargs"]["ssl"] is True
