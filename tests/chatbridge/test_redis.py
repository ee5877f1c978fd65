"""The process's Redis client: a pooled connection is checked before each command without a
turn of the event loop, and a connection left holding a reply is still never reused."""

import pytest

from chatbridge.redis import new_redis


@pytest.fixture
async def client(redis_server):
    client = new_redis(redis_server.url)
    await client.flushdb()
    yield client
    await client.aclose()


async def test_a_pooled_connection_is_checked_without_waiting(client):
    await client.ping()
    connection = await client.connection_pool.get_connection()
    try:
        check = connection.can_read_destructive()
        # Done at its first step: it never suspended, so the command that follows it does
        # not wait for the rest of the event loop's ready work.
        with pytest.raises(StopIteration) as done:
            check.send(None)
        assert done.value.value is False
    finally:
        await client.connection_pool.release(connection)


async def test_a_connection_holding_an_unread_reply_is_not_used_for_the_next_command(client):
    await client.set("greeting", "hello")
    connection = await client.connection_pool.get_connection()
    # Two commands in one write: Redis answers both in one, so the second's reply is received
    # with the first's and left unread when the connection goes back to the pool.
    await connection.send_packed_command(
        connection.pack_commands([("ECHO", "first"), ("ECHO", "left unread")])
    )
    assert await connection.read_response() == b"first"
    await client.connection_pool.release(connection)

    assert await client.get("greeting") == b"hello"
