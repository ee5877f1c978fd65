"""The stream workers of these tests are driven by the tests themselves, one drain at a time:
the runtime runs none of its own, so that what the archive holds at each step is known."""

from collections.abc import Iterator

import pytest

from chatbridge.redis import keys
from chatbridge.streams.archiver import Archiver
from chatbridge.streams.mailer import TranscriptMailer
from chatbridge.streams.webhooks import WebhookWorker
from tests.support.loopback import loopback_only


@pytest.fixture(autouse=True)
def no_background_workers(settings):
    settings.CHATBRIDGE_RUN_ARCHIVER = False
    settings.CHATBRIDGE_RUN_WEBHOOKS = False
    settings.CHATBRIDGE_RUN_MAILER = False


@pytest.fixture
async def archiver(redis_client) -> Archiver:
    worker = Archiver(redis_client, prefix=keys().prefix, consumer_name="test-archiver")
    await worker.ensure_group()
    return worker


@pytest.fixture
async def mailer(redis_client, settings) -> TranscriptMailer:
    """A mailer whose every wait for the archive is over at once (the test says when to look
    again)."""
    settings.CHATBRIDGE_TRANSCRIPT_MAIL_BACKOFF_INITIAL = 0
    worker = TranscriptMailer(redis_client, prefix=keys().prefix, consumer_name="test-mailer")
    await worker.ensure_group()
    return worker


@pytest.fixture
async def webhooks(redis_client) -> WebhookWorker:
    worker = WebhookWorker(redis_client, prefix=keys().prefix, consumer_name="test-webhooks")
    await worker.ensure_group()
    yield worker
    await worker.close()


@pytest.fixture
def loopback_guard() -> Iterator[list[str]]:
    """Webhook receivers are on loopback, and nothing else is reached."""
    with loopback_only() as refused:
        yield refused
    assert not refused, f"Traffic beyond loopback was attempted: {refused}"
