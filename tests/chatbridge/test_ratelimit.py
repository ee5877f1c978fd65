"""Rate limits: a connection's token bucket and a chat's window shared through Redis."""

import uuid

import pytest

from chatbridge.errors import RateLimited
from chatbridge.ratelimit import RedisWindow, TokenBucket, Window, hit_all, hit_chat_window
from chatbridge.redis import keys


def test_a_per_minute_bucket_gives_its_count_at_once_then_says_when_the_next_comes():
    bucket = TokenBucket.per_minute(3)
    for _ in range(3):
        bucket.take()
    with pytest.raises(RateLimited) as refused:
        bucket.take()
    assert 0 < refused.value.retry_after <= 20


def test_a_per_minute_bucket_of_nothing_still_gives_one():
    bucket = TokenBucket.per_minute(0)
    bucket.take()
    with pytest.raises(RateLimited):
        bucket.take()


async def test_a_chats_window_is_shared_by_every_process_and_says_when_it_reopens(
    redis_client,
):
    """Another process counts with a client of its own, against the same key."""
    chat_id = uuid.uuid4().hex
    elsewhere = RedisWindow(redis_client, limit=2, window=60)
    await hit_chat_window(chat_id, "receipt", limit=2)
    await elsewhere.hit(keys().chat(chat_id, "receipt-rate"))
    with pytest.raises(RateLimited) as refused:
        await hit_chat_window(chat_id, "receipt", limit=2)
    assert 0 < refused.value.retry_after <= 60


async def test_a_chats_windows_count_apart_by_name_and_by_chat(redis_client):
    chat_id, other = uuid.uuid4().hex, uuid.uuid4().hex
    await hit_chat_window(chat_id, "receipt", limit=1)
    await hit_chat_window(chat_id, "sync", limit=1)
    await hit_chat_window(other, "receipt", limit=1)
    with pytest.raises(RateLimited):
        await hit_chat_window(chat_id, "receipt", limit=1)


async def test_windows_hit_together_stop_counting_at_the_first_that_refuses(redis_client):
    first, second = (Window(uuid.uuid4().hex, limit=1, window=60) for _ in range(2))
    await hit_all(redis_client, [first])
    with pytest.raises(RateLimited) as refused:
        await hit_all(redis_client, [first, second])
    assert 0 < refused.value.retry_after <= 60
    await RedisWindow(redis_client, limit=1, window=60).hit(second.key)
