"""The process's Redis clients.

redis-py's asyncio clients belong to the event loop that created them, so there is one per
loop (daphne runs one; tests run many). Each holds its own connection pool.
"""

import asyncio
import weakref

import redis.asyncio as aioredis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from chatbridge.redis_options import redis_options

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = (
    weakref.WeakKeyDictionary()
)


def get_redis() -> aioredis.Redis:
    """The shared client of the running event loop for settings.REDIS_URL."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(settings.REDIS_URL, **redis_options())
        _clients[loop] = client
    return client


def key(*parts: str) -> str:
    """A namespaced Redis key, so ChatBridge can share a Redis with other software."""
    return ":".join((settings.CHATBRIDGE_REDIS_PREFIX, *parts))


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: object) -> None:
    if setting == "REDIS_URL":
        _clients.clear()
