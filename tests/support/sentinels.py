"""ChatBridge on Redis Sentinel in a test: a sentinel group of real redis-server processes,
settings pointed at it as a deployment's environment would point them, and failovers waited
for by sentinel's own announcement (+switch-master), not by time."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import redis.asyncio as aioredis
from django.conf import settings
from django.test import override_settings

from chatbridge.dev.services import SentinelGroup
from chatbridge.redis import SentinelConfig, channel_layer_hosts

# Failure guard only: with the group's timings a failover takes a second or two.
GUARD = 60.0
# REDIS_URL in sentinel mode: how to talk to the primary, not where it is. Nothing listens on
# this port, so a client that used the URL's address instead of the sentinels' would fail.
UNUSED_URL = "redis://127.0.0.1:9/0"


def sentinel_environment(group: SentinelGroup) -> dict[str, str]:
    """The environment a deployment on this group sets."""
    return {
        "REDIS_URL": UNUSED_URL,
        "REDIS_SENTINELS": ",".join(f"{host}:{port}" for host, port in group.sentinel_addresses),
        "REDIS_SENTINEL_MASTER": group.master,
    }


@contextlib.contextmanager
def sentinel_settings(group: SentinelGroup) -> Iterator[None]:
    """Settings as chatbridge.settings derives them from sentinel_environment(group)."""
    config = SentinelConfig(tuple(group.sentinel_addresses), group.master)
    layer = settings.CHANNEL_LAYERS["default"]
    layers = {
        "default": {
            **layer,
            "CONFIG": {**layer["CONFIG"], "hosts": channel_layer_hosts(UNUSED_URL, config)},
        }
    }
    with override_settings(
        REDIS_URL=UNUSED_URL,
        REDIS_SENTINELS=[f"{host}:{port}" for host, port in group.sentinel_addresses],
        REDIS_SENTINEL_MASTER=group.master,
        CHANNEL_LAYERS=layers,
    ):
        yield


async def replicated(group: SentinelGroup) -> None:
    """Returns once every write the primary has taken is on all its replicas."""
    primary = aioredis.Redis(port=group.primary_port())
    try:
        acked = await primary.execute_command("WAIT", len(group.replica_servers), 0)
        assert acked == len(group.replica_servers)
    finally:
        await primary.aclose()


@contextlib.asynccontextmanager
async def failing_over(
    group: SentinelGroup, *, demoted: int | None = None
) -> AsyncIterator[list[int]]:
    """Listens to a sentinel's announcements, runs the body (which causes the failover), then
    waits for the switch of primary and, with `demoted`, until the server on that port is a
    replica (looked at after each announcement). The list yielded receives the new primary's
    port."""
    sentinel = aioredis.Redis(port=group.sentinel_addresses[0][1], decode_responses=True)
    switched: list[int] = []
    try:
        async with sentinel.pubsub() as pubsub:
            await pubsub.psubscribe("*")
            yield switched
            async with asyncio.timeout(GUARD):
                while not switched or (demoted is not None and not await is_replica(demoted)):
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                    if message is None or message["channel"] != "+switch-master":
                        continue
                    name, _old_host, _old_port, _host, port = message["data"].split()
                    if name == group.master:
                        switched.append(int(port))
    finally:
        await sentinel.aclose()


async def is_replica(port: int) -> bool:
    server = aioredis.Redis(port=port, decode_responses=True)
    try:
        return (await server.info("replication"))["role"] == "slave"
    finally:
        await server.aclose()


async def fail_over(group: SentinelGroup) -> int:
    """Has the sentinels promote a replica (SENTINEL FAILOVER); the new primary's port, once
    the old primary is a replica too.

    Until then the old primary still takes writes from connections it already had, and loses
    them when it becomes a replica: Sentinel's replication is asynchronous (see
    docs/deployment.md). A deployment lives with that window; a test waits it out."""
    async with failing_over(group, demoted=group.primary_port()) as switched:
        sentinel = aioredis.Redis(port=group.sentinel_addresses[0][1])
        try:
            await sentinel.execute_command("SENTINEL", "FAILOVER", group.master)
        finally:
            await sentinel.aclose()
    return switched[0]


async def crash_primary(group: SentinelGroup) -> int:
    """Kills the primary outright; the port of the replica the sentinels promote."""
    async with failing_over(group) as switched:
        await asyncio.to_thread(group.server_on(group.primary_port()).kill)
    return switched[0]
