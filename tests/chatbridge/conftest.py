"""Fixtures for tests that run ChatBridge's relay machinery in the test's event loop, and its
REST API through the real ASGI app."""

from collections.abc import AsyncIterator

import httpx
import pytest
from asgiref.sync import sync_to_async

from chatbridge.asgi import application
from chatbridge.runtime import get_runtime, stop_runtime
from tests.support.rest import BASE, ORIGIN
from webwidget.models import Widget


@pytest.fixture
def fast_relay(settings):
    """Short backoffs, leases and batching, so faults heal within a test's patience."""
    settings.CHATBRIDGE_UPSTREAM_BACKOFF_INITIAL = 0.05
    settings.CHATBRIDGE_UPSTREAM_BACKOFF_MAX = 0.5
    settings.CHATBRIDGE_LEASE_TTL = 2.0
    settings.CHATBRIDGE_SUPERVISOR_INTERVAL = 0.1
    settings.CHATBRIDGE_RECEIPT_DELAY = 0.05


@pytest.fixture
async def runtime(fast_relay, redis_client, emulator):
    """This event loop's runtime (supervisor, relay, stream workers), stopped after the test."""
    runtime = get_runtime()
    yield runtime
    await stop_runtime()


@pytest.fixture
async def widget(db) -> Widget:
    """A widget that ORIGIN may embed."""
    return await sync_to_async(Widget.objects.create)(
        widget_id="shop", name="Shop", allowed_origins=ORIGIN, attachment_types="png txt pdf"
    )


@pytest.fixture
async def api(runtime, settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the REST API, served by the ASGI application in this event loop."""
    settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
    transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30) as client:
        yield client
