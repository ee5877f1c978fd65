"""The supervisor holds one upstream per chat and gives it up when its lease is lost."""

import asyncio

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


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
