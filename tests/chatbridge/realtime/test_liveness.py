"""Process liveness: a heartbeat and a presence, both needed to be judged alive; a process
cut off from Redis judges nobody until the others had time to show themselves again."""

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from chatbridge.realtime.liveness import Liveness
from chatbridge.redis import RedisKeys
from tests.support.redis_waits import until_key

KEYS = RedisKeys("test")


@pytest.fixture
async def start(redis_client) -> AsyncIterator[Callable[[str], Awaitable[Liveness]]]:
    """Starts a process's liveness, returned once it shows: heartbeat and presence."""
    started: list[Liveness] = []

    async def start(owner: str) -> Liveness:
        process = Liveness(redis_client, keys=KEYS, owner=owner, ttl=30.0)
        process.start()
        started.append(process)

        async def beating() -> bool:
            return bool(await redis_client.exists(KEYS.process(owner)))

        await until_key(redis_client, KEYS.process(owner), beating)  # subscribed by then
        return process

    yield start
    for process in started:
        await process.stop()


async def test_a_running_process_is_alive(start):
    judge = await start("judge")
    await start("running")

    assert await judge.dead(["running"]) == set()


async def test_a_stopped_process_is_dead_at_once(start):
    judge = await start("judge")
    running = await start("running")

    await running.stop()

    assert await judge.dead(["running"]) == {"running"}


async def test_a_heartbeat_without_a_presence_is_a_dead_process(redis_client, start):
    """A process killed on a living host: Redis dropped its subscription with its socket, and
    its heartbeat has not lapsed yet."""
    judge = await start("judge")
    await redis_client.set(KEYS.process("killed"), b"1", px=30_000)

    assert await judge.dead(["killed"]) == {"killed"}


async def test_a_process_without_its_own_presence_judges_nobody(redis_client):
    judge = Liveness(redis_client, keys=KEYS, owner="judge", ttl=30.0)

    assert await judge.dead(["gone"]) == set()


async def test_a_process_whose_heartbeat_lapsed_judges_nobody_for_a_ttl(redis_client, start):
    judge = await start("judge")
    await redis_client.delete(KEYS.process("judge"))

    await judge.beat()

    assert await judge.dead(["gone"]) == set()
