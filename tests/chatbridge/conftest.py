"""Fixtures for tests that run ChatBridge's relay machinery in the test's event loop."""

import pytest

from chatbridge.runtime import get_runtime, stop_runtime


@pytest.fixture
def fast_relay(settings):
    """Short backoffs, leases and batching, so faults heal within a test's patience."""
    settings.CHATBRIDGE_UPSTREAM_BACKOFF_INITIAL = 0.05
    settings.CHATBRIDGE_UPSTREAM_BACKOFF_MAX = 0.5
    settings.CHATBRIDGE_LEASE_TTL = 1.0
    settings.CHATBRIDGE_SUPERVISOR_INTERVAL = 0.1
    settings.CHATBRIDGE_RECEIPT_DELAY = 0.05


@pytest.fixture
async def runtime(fast_relay, redis_client, emulator):
    """This event loop's runtime (supervisor, relay, archiver), stopped after the test."""
    runtime = get_runtime()
    yield runtime
    await stop_runtime()
