"""Fixtures for the stream workers: a real event log and archiver on the test Redis."""

from collections.abc import Iterator

import pytest

from chatbridge.realtime.eventlog import EventLog
from chatbridge.streams.archiver import Archiver
from tests.support.loopback import loopback_only
from tests.support.records import PREFIX


@pytest.fixture
def log(redis_client) -> EventLog:
    return EventLog(redis_client, prefix=PREFIX, ttl=3600)


@pytest.fixture
def archiver(redis_client) -> Archiver:
    return Archiver(redis_client, prefix=PREFIX, consumer_name="archiver-1", batch_size=50)


@pytest.fixture
def loopback_guard() -> Iterator[list[str]]:
    """Every connection and name lookup of the test stays on loopback: any other attempt is
    refused before a packet leaves, and fails the test even if the code swallowed the error."""
    with loopback_only() as refused:
        yield refused
    assert not refused, f"Traffic beyond loopback was attempted: {refused}"
