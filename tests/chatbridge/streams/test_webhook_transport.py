"""Webhook delivery connects only to addresses the target policy judged, never to others.

Names are resolved by a resolver of the test's own (the worker takes it as a dependency), so
that hooks.example.com can answer 10.0.0.5 or 169.254.169.254. Every answer that is not
loopback must be refused before anything connects; should the code be wrong, the loopback
guard refuses the connection before a packet leaves and fails the test. Receivers speak TLS
with a certificate for hooks.example.com from a test authority, and DEBUG stays off, as in
production.
"""

import logging
import socket
from dataclasses import replace
from ipaddress import ip_address

import httpcore
import pytest
from asgiref.sync import sync_to_async

from chatbridge.chats.feed import publish_chat
from chatbridge.dev.tls import LocalAuthority
from chatbridge.redis import RedisKeys
from chatbridge.streams.webhook_transport import CheckedBackend
from chatbridge.streams.webhooks import WebhookWorker
from tests.support.loopback import loopback_only
from tests.support.records import PREFIX, ended, session
from tests.support.webhook_receiver import Receiver
from webwidget.models import Widget
from webwidget.webhook_targets import TargetRefused, unwrap

pytestmark = pytest.mark.django_db(transaction=True)

STREAM = RedisKeys(PREFIX).feed
RETRIES = RedisKeys(PREFIX).webhook_retries
HOST = "hooks.example.com"


class ScriptedResolver:
    """Answers each question with the next answer of its script (the last one repeats), and
    remembers the questions."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.questions: list[str] = []

    async def __call__(self, host: str, port: int) -> list:
        self.questions.append(host)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [ip_address(address) for address in answer]


@pytest.fixture(autouse=True)
def production_policy(settings, loopback_guard):
    settings.DEBUG = False
    settings.CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS = []
    settings.CHATBRIDGE_WEBHOOK_BACKOFF_INITIAL = 60


@pytest.fixture
def loopback_allowed(settings):
    settings.CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS = ["127.0.0.0/8"]


@pytest.fixture(scope="module")
def authority() -> LocalAuthority:
    return LocalAuthority()


@pytest.fixture
def tls(authority, tmp_path):
    """A server context for hooks.example.com."""
    return authority.server_context(HOST, tmp_path)


async def deliver_end_of_chat(
    widget: Widget, url: str, resolver: ScriptedResolver, authority: LocalAuthority, redis_client
) -> None:
    """Points the widget at `url` (bypassing the model's validation, as stale or hand-edited
    data would) and lets a worker deliver one chat.ended webhook."""
    await sync_to_async(Widget.objects.filter(pk=widget.pk).update)(webhook_url=url)
    worker = WebhookWorker(
        redis_client,
        prefix=PREFIX,
        consumer_name="live",
        resolver=resolver,
        ssl_context=authority.client_context(),
    )
    await worker.ensure_group()
    chat = replace(ended(session()), widget_id=widget.widget_id)
    await publish_chat(redis_client, chat, feed=STREAM)
    await worker.drain_once()
    await worker.close()


@pytest.mark.parametrize(
    "answer", ["10.0.0.5", "169.254.169.254", "100.64.0.1", "fd00::1", "::ffff:10.0.0.5", "::1"]
)
async def test_a_name_resolving_to_a_non_public_address_is_refused_before_connecting(
    widget, redis_client, authority, caplog, answer
):
    resolver = ScriptedResolver([answer])
    caplog.set_level(logging.INFO, logger="chatbridge.streams.webhooks")

    await deliver_end_of_chat(
        widget, f"https://{HOST}/hooks?token=s3cret", resolver, authority, redis_client
    )

    assert resolver.questions == [HOST]
    assert await redis_client.zcard(RETRIES) == 0  # refused for good: not retried
    [record] = [r for r in caplog.records if "refused" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert f"{HOST} ({unwrap(ip_address(answer))}) is a" in record.getMessage()
    assert "s3cret" not in caplog.text and "/hooks" not in caplog.text


async def test_one_non_public_address_in_an_answer_refuses_the_target(
    widget, redis_client, authority, tls, loopback_allowed
):
    resolver = ScriptedResolver(["127.0.0.1", "10.0.0.5"])
    async with Receiver(tls=tls, host=HOST) as receiver:
        await deliver_end_of_chat(widget, receiver.url, resolver, authority, redis_client)

    assert receiver.calls == []
    assert await redis_client.zcard(RETRIES) == 0


async def test_the_connection_goes_to_the_checked_address_for_the_urls_host_name(
    widget, redis_client, authority, tls, loopback_allowed
):
    resolver = ScriptedResolver(["127.0.0.1"])
    async with Receiver(tls=tls, host=HOST) as receiver:
        await deliver_end_of_chat(widget, receiver.url, resolver, authority, redis_client)

    [call] = receiver.calls
    assert call["headers"]["host"] == f"{HOST}:{receiver.port}"
    assert receiver.server_names == [HOST]  # TLS's SNI, and the certificate checked, for the name
    assert resolver.questions == [HOST]


async def test_a_certificate_for_another_name_fails_the_delivery(
    widget, redis_client, authority, tmp_path, loopback_allowed
):
    resolver = ScriptedResolver(["127.0.0.1"])
    other = authority.server_context("other.example.com", tmp_path)
    async with Receiver(tls=other, host=HOST) as receiver:
        await deliver_end_of_chat(widget, receiver.url, resolver, authority, redis_client)

    assert receiver.calls == []
    assert await redis_client.zcard(RETRIES) == 1  # a network failure: tried again later


async def test_dns_rebinding_cannot_swap_the_checked_address(
    widget, redis_client, authority, tls, loopback_allowed
):
    # The name answers an allowed address once, then the metadata service's: the connection
    # must go to the first answer, the one that was judged.
    resolver = ScriptedResolver(["127.0.0.1"], ["169.254.169.254"])
    async with Receiver(tls=tls, host=HOST) as receiver:
        await deliver_end_of_chat(widget, receiver.url, resolver, authority, redis_client)

    assert len(receiver.calls) == 1
    assert resolver.questions == [HOST]


async def test_a_redirect_is_a_failed_delivery_and_is_not_followed(
    widget, redis_client, authority, tls, loopback_allowed
):
    resolver = ScriptedResolver(["127.0.0.1"])
    async with (
        Receiver(tls=tls, host=HOST) as elsewhere,
        Receiver(tls=tls, host=HOST, redirect_to=elsewhere.url) as receiver,
    ):
        await deliver_end_of_chat(widget, receiver.url, resolver, authority, redis_client)

    assert len(receiver.calls) == 1
    assert elsewhere.calls == []
    assert await redis_client.zcard(RETRIES) == 1


async def test_plain_http_is_refused_at_delivery_with_debug_off(
    widget, redis_client, authority, loopback_allowed
):
    resolver = ScriptedResolver(["127.0.0.1"])
    async with Receiver() as receiver:
        await deliver_end_of_chat(widget, receiver.url, resolver, authority, redis_client)

    assert receiver.calls == []
    assert await redis_client.zcard(RETRIES) == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:169.254.169.254]/latest/meta-data/",
        "https://10.0.0.5/hooks",
        "https://0.0.0.0/hooks",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://redis:6379/",
        "https://127.1/hooks",
        "https://2130706433/hooks",
    ],
)
async def test_a_non_public_target_in_the_url_is_refused_without_resolving(
    widget, redis_client, authority, url
):
    resolver = ScriptedResolver(["127.0.0.1"])
    await deliver_end_of_chat(widget, url, resolver, authority, redis_client)

    assert resolver.questions == []
    assert await redis_client.zcard(RETRIES) == 0


async def test_an_allow_listed_host_name_may_resolve_to_a_non_public_address(
    widget, redis_client, authority, tls, settings
):
    settings.CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS = [HOST]
    resolver = ScriptedResolver(["127.0.0.1"])
    async with Receiver(tls=tls, host=HOST) as receiver:
        await deliver_end_of_chat(widget, receiver.url, resolver, authority, redis_client)

    assert len(receiver.calls) == 1


async def test_a_failed_lookup_is_a_network_failure_worth_a_retry():
    async def failing(host: str, port: int) -> list:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    with pytest.raises(httpcore.ConnectError):
        await CheckedBackend(failing).checked_addresses(HOST, 443)


async def test_an_empty_answer_is_a_network_failure():
    with pytest.raises(httpcore.ConnectError):
        await CheckedBackend(ScriptedResolver([])).checked_addresses(HOST, 443)


async def test_unix_sockets_are_refused():
    with pytest.raises(TargetRefused):
        await CheckedBackend().connect_unix_socket("/run/docker.sock")


def test_the_loopback_guard_refuses_before_the_socket_is_touched(monkeypatch):
    # Stand-ins for the real calls, so that even a broken guard sends nothing.
    reached: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: reached.append(address))
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *args, **kw: reached.append(host))

    with loopback_only() as refused, socket.socket() as sock:
        with pytest.raises(PermissionError):
            sock.connect(("192.0.2.1", 443))
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("hooks.example.com", 443)
        sock.connect(("127.0.0.1", 9))
        socket.getaddrinfo("::1", 9)

    assert reached == [("127.0.0.1", 9), "::1"]
    assert refused == ["connect to ('192.0.2.1', 443)", "lookup of 'hooks.example.com'"]
