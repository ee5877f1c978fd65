"""/healthz (liveness) and /readyz (readiness), through the ASGI app.

Liveness checks nothing outside the process, so that an outage of Redis restarts no process;
readiness checks Redis and the database, and says no while the process shuts down.
"""

from collections.abc import AsyncIterator

import httpx
import pytest
from django.http import HttpResponse
from django.middleware.security import SecurityMiddleware

from chatbridge import health
from chatbridge.asgi import application
from chatbridge.dev.services import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def client(settings) -> AsyncIterator[httpx.AsyncClient]:
    settings.ALLOWED_HOSTS = ["testserver"]
    transport = httpx.ASGITransport(app=application, client=("10.0.0.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def redis_unreachable(settings) -> None:
    """REDIS_URL pointed at a loopback port where nothing listens."""
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def stopping(monkeypatch) -> None:
    monkeypatch.setattr(health, "_shutting_down", False)
    health.begin_shutdown()


async def test_readyz_answers_200_while_redis_and_the_database_answer(client):
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "redis": "up",
        "database": "up",
        "process": "serving",
    }


async def test_readyz_answers_503_when_redis_is_unreachable(client, redis_unreachable):
    response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["redis"] == "down"


async def test_healthz_answers_200_when_redis_is_unreachable(client, redis_unreachable):
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_503_once_the_process_is_shutting_down(client, stopping):
    response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["process"] == "stopping"


async def test_healthz_answers_200_while_the_process_is_shutting_down(client, stopping):
    assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_and_metrics_stay_reachable_over_plain_http(settings, rf, path):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.SECURE_SSL_REDIRECT = True
    middleware = SecurityMiddleware(lambda request: HttpResponse())

    assert middleware.process_request(rf.get(path)) is None


def test_other_pages_are_redirected_to_https(settings, rf):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.SECURE_SSL_REDIRECT = True
    middleware = SecurityMiddleware(lambda request: HttpResponse())

    assert middleware.process_request(rf.get("/api/v1/openapi.json")).status_code == 301
