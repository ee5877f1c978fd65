"""Fixtures for the stream workers: a real event log and archiver on the test Redis."""

import pytest

from chatbridge.realtime.eventlog import EventLog
from chatbridge.streams.archiver import Archiver
from tests.support.records import PREFIX


@pytest.fixture
def log(redis_client) -> EventLog:
    return EventLog(redis_client, prefix=PREFIX, ttl=3600)


@pytest.fixture
def archiver(redis_client) -> Archiver:
    return Archiver(redis_client, prefix=PREFIX, consumer_name="archiver-1", batch_size=50)
