"""ChatBridge on a Redis it reaches through a unix socket, as on a host that runs both."""

import shutil
import tempfile
from pathlib import Path

import pytest
from channels_redis.core import RedisChannelLayer

from chatbridge.dev.services import RedisServer
from chatbridge.redis import channel_layer_hosts, new_redis


@pytest.fixture
def unix_url():
    # A short directory: a unix socket's path is limited to about a hundred bytes.
    directory = Path(tempfile.mkdtemp(prefix="cb-"))
    socket = directory / "redis.sock"
    server = RedisServer(extra_args=("--unixsocket", str(socket))).start()
    yield f"unix://{socket}?db=0"
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


async def test_the_client_talks_to_redis_through_a_unix_socket(unix_url):
    client = new_redis(unix_url)
    try:
        assert await client.set("reached", "yes")
        assert await client.get("reached") == b"yes"
    finally:
        await client.aclose()


async def test_the_channel_layer_talks_to_redis_through_a_unix_socket(unix_url):
    layer = RedisChannelLayer(hosts=channel_layer_hosts(unix_url))
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "chat.ping"})
    assert await layer.receive(channel) == {"type": "chat.ping"}
    await layer.flush()
