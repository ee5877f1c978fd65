"""Liveness (/healthz) and readiness (/readyz) for load balancers, orchestrators and `make run`.

/healthz says the process is up and its event loop answers: it checks no dependency, so an
outage of Redis or the database never gets every process restarted at once (a restart cures
neither). /readyz says the process should be sent traffic: Redis and the database answer, and
the process is not shutting down (see `begin_shutdown`). Until this split, /healthz also pinged
Redis; a probe that must keep that meaning points at /readyz.
"""

import asyncio

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

# Seconds each dependency has to answer a readiness check.
READY_TIMEOUT = 2.0

_shutting_down = False


def begin_shutdown() -> None:
    """From now on /readyz answers 503, so that load balancers stop sending new work here
    while the connections already open finish."""
    global _shutting_down
    _shutting_down = True


def shutting_down() -> bool:
    return _shutting_down


async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


async def redis_answers() -> bool:
    """Whether Redis answers a PING now: on a connection of its own, without the shared
    client's retries, which would wait out an outage for longer than a probe's patience."""
    client = aioredis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=READY_TIMEOUT, socket_timeout=READY_TIMEOUT
    )
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


async def database_answers() -> bool:
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            return await sync_to_async(_database_answers, thread_sensitive=True)()
    except TimeoutError:
        return False


async def readyz(request: HttpRequest) -> JsonResponse:
    checks = {
        "redis": "up" if await redis_answers() else "down",
        "database": "up" if await database_answers() else "down",
        "process": "stopping" if shutting_down() else "serving",
    }
    ready = checks["redis"] == "up" and checks["database"] == "up" and not shutting_down()
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", **checks}, status=200 if ready else 503
    )
