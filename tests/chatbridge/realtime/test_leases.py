"""Leases: one holder per chat, renewed together, lost to nobody silently."""

import pytest

from chatbridge.realtime.leases import Lease, LeaseRenewer


@pytest.fixture
def renewer(redis_client):
    return LeaseRenewer(redis_client)


def lease(redis_client, name: str, owner: str = "me") -> Lease:
    return Lease(redis_client, f"test:lease:{name}", owner, ttl_ms=10_000)


async def test_every_lease_still_held_is_renewed_in_one_call(redis_client, renewer):
    leases = [lease(redis_client, f"held-{i}") for i in range(3)]
    for held in leases:
        assert await held.acquire()
        await redis_client.pexpire(held.key, 1_000)

    assert await renewer.renew(leases, owner="me", ttl_ms=60_000) == [True, True, True]
    for held in leases:
        assert await redis_client.pttl(held.key) > 1_000


async def test_a_lease_taken_by_another_owner_is_reported_lost_and_left_alone(
    redis_client, renewer
):
    mine, taken = lease(redis_client, "mine"), lease(redis_client, "taken")
    assert await mine.acquire()
    assert await lease(redis_client, "taken", owner="other").acquire()

    assert await renewer.renew([mine, taken], owner="me", ttl_ms=60_000) == [True, False]
    assert await redis_client.get(taken.key) == b"other"


async def test_a_lapsed_lease_is_reported_lost(redis_client, renewer):
    assert await renewer.renew([lease(redis_client, "gone")], owner="me", ttl_ms=60_000) == [False]


async def test_many_leases_are_renewed_in_batches(redis_client, renewer):
    leases = [lease(redis_client, f"many-{i}") for i in range(LeaseRenewer.BATCH + 5)]
    for held in leases[::2]:
        assert await held.acquire()

    renewed = await renewer.renew(leases, owner="me", ttl_ms=60_000)
    assert renewed == [i % 2 == 0 for i in range(len(leases))]


async def test_a_lease_is_taken_over_from_the_holder_judged_dead(redis_client):
    assert await lease(redis_client, "chat", owner="dead").acquire()

    assert await lease(redis_client, "chat").take_over("dead")
    assert await redis_client.get("test:lease:chat") == b"me"
    assert await redis_client.pttl("test:lease:chat") > 0


async def test_a_lease_that_moved_on_is_not_taken_from_its_new_holder(redis_client):
    assert await lease(redis_client, "chat", owner="quicker").acquire()

    assert not await lease(redis_client, "chat").take_over("dead")
    assert await redis_client.get("test:lease:chat") == b"quicker"
