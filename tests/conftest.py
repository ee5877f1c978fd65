"""Real services behind fixtures: a private redis-server and the Connect emulator.

Both start once per test run as child processes. Django's settings are pointed at them with
override_settings, the way a deployment points them at its own Redis and at AWS.
"""

import os
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from django.conf import settings
from django.test import override_settings

from chatbridge.dev.services import EmulatorProcess, RedisServer
from chatbridge.redis import channel_layer_hosts
from tests.support.emulator import EmulatorControl
from tests.support.production import ProductionServer, serving_production

os.environ.setdefault("AWS_ACCESS_KEY_ID", "emulator")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "emulator")


def _private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from _private_redis()


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorProcess]:
    # Quotas off, so that tests of other behaviours are not paced by Connect's rates; the
    # Connect budget's tests turn them on (EmulatorControl.set_quotas).
    server = EmulatorProcess(agent="none", quotas=False).start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _point_settings_at_services(
    redis_server: RedisServer, emulator_server: EmulatorProcess
) -> Iterator[None]:
    layers = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {
                **settings.CHANNEL_LAYERS["default"]["CONFIG"],
                "hosts": channel_layer_hosts(redis_server.url),
            },
        }
    }
    with override_settings(
        REDIS_URL=redis_server.url,
        CHANNEL_LAYERS=layers,
        CONNECT_ENDPOINT_URL=emulator_server.url,
        CONNECT_PARTICIPANT_ENDPOINT_URL=emulator_server.url,
        CONNECT_MAX_ATTEMPTS=3,
    ):
        yield


@pytest.fixture(scope="session")
def server_redis() -> Iterator[RedisServer]:
    """A Redis for the servers that outlive a test (the live and the deployed daphnes). Their
    workers never rest (a blocking read every second): on the test Redis they would add to the
    commands other tests count, and lose their own keys to each test's FLUSHDB."""
    yield from _private_redis()


@pytest.fixture(scope="session")
def production_server(
    server_redis: RedisServer, emulator_server: EmulatorProcess, tmp_path_factory
) -> Iterator[ProductionServer]:
    """ChatBridge as deployed (DEBUG off, collected static files) in a daphne of its own."""
    workdir = tmp_path_factory.mktemp("production")
    with serving_production(workdir, server_redis.url, emulator_server.url) as server:
        yield server


@pytest.fixture
def emulator(emulator_server: EmulatorProcess) -> EmulatorControl:
    """The emulator, reset to its defaults (no agent, no faults, no contacts)."""
    control = EmulatorControl(emulator_server.url)
    control.reset()
    return control


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> aioredis.Redis:
    """A client on the test Redis, emptied before the test."""
    from chatbridge.connect.budget import forget_leases

    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushdb()
    forget_leases()
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
def _fresh_widget_lookups() -> Iterator[None]:
    """Each test's database starts over, and so must the widgets this process remembers."""
    from webwidget.lookup import forget

    forget()
    yield
    forget()
