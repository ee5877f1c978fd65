"""/ws/staff/chats/<id>/: the live transcript, through the real ASGI app, session auth,
Redis channel layer and event log."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from chatbridge.archive.models import AuditEntry
from chatbridge.asgi import application
from chatbridge.realtime.eventlog import EventLog
from chatbridge.realtime.relay import Relay
from chatbridge.redis import get_redis
from tests.chatbridge.archive.factories import make_chat, viewer
from tests.support.closing import close
from tests.support.records import message

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://localhost"


@pytest.fixture
async def relay(redis_client):
    from channels.layers import get_channel_layer

    log = EventLog(get_redis(), prefix=settings.CHATBRIDGE_REDIS_PREFIX, ttl=3600)
    return Relay(log, get_channel_layer(), get_redis(), prefix=settings.CHATBRIDGE_REDIS_PREFIX)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def connect(chat_id: str, *, cookie: str = "", after: int = 0, origin: str = ORIGIN):
    headers = [(b"origin", origin.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(
        application, f"/ws/staff/chats/{chat_id}/?after={after}", headers=headers
    )
    connected, _ = await communicator.connect(timeout=10)
    return communicator, connected


async def frame(communicator) -> dict:
    return json.loads(await communicator.receive_from(timeout=10))


async def test_a_viewer_sees_missed_events_then_a_new_agent_message(relay):
    await sync_to_async(make_chat)("live-1", ended=False)
    cookie = await sync_to_async(session_cookie)(await sync_to_async(viewer)())
    # Two events logged; the page (rendered from the archive) showed the first.
    await relay.publish("live-1", message("m1", "first", second=1))
    await relay.publish("live-1", message("m2", "not archived yet", second=2))

    communicator, connected = await connect("live-1", cookie=cookie, after=1)
    assert connected
    missed = await frame(communicator)
    assert (missed["type"], missed["seq"], missed["item_id"]) == ("entry", 2, "m2")
    assert "not archived yet" in missed["html"]

    await relay.publish(
        "live-1", message("m3", "Hi Ada, <b>Alice</b> here", role="AGENT", name="Alice", second=3)
    )
    new = await frame(communicator)
    assert (new["type"], new["seq"]) == ("entry", 3)
    assert 'class="entry entry-message side-agent"' in new["html"]
    assert "Hi Ada, &lt;b&gt;Alice&lt;/b&gt; here" in new["html"]

    # Read-only: whatever the browser sends gets no answer; the next frame is the chat's end.
    await communicator.send_to(text_data='{"type":"send","content":"hi"}')
    await relay.ended("live-1", "agent_left")
    assert (await frame(communicator))["type"] == "ended"
    await close(communicator)
    assert await AuditEntry.objects.filter(action="live", chat_id="live-1").aexists()


async def test_a_superuser_watching_is_audited_once(relay):
    await sync_to_async(make_chat)("live-1", ended=False)
    user = await sync_to_async(get_user_model().objects.create_superuser)("root", password="x")
    cookie = await sync_to_async(session_cookie)(user)

    communicator, connected = await connect("live-1", cookie=cookie)
    assert connected
    await close(communicator)

    entries = [(e.username, e.action, e.chat_id) async for e in AuditEntry.objects.all()]
    assert entries == [("root", "live", "live-1")]


async def test_anonymous_users_are_refused(relay):
    await sync_to_async(make_chat)("live-1", ended=False)

    _, connected = await connect("live-1")

    assert not connected


async def test_staff_without_the_view_permission_are_refused(relay):
    await sync_to_async(make_chat)("live-1", ended=False)
    user = await sync_to_async(get_user_model().objects.create_user)(
        "intern", password="x", is_staff=True
    )
    cookie = await sync_to_async(session_cookie)(user)

    _, connected = await connect("live-1", cookie=cookie)

    assert not connected
    assert await AuditEntry.objects.acount() == 0


async def test_another_origin_is_refused_even_with_a_session(relay):
    await sync_to_async(make_chat)("live-1", ended=False)
    cookie = await sync_to_async(session_cookie)(await sync_to_async(viewer)())

    _, connected = await connect("live-1", cookie=cookie, origin="https://evil.example")

    assert not connected


async def test_an_unknown_chat_is_refused(relay):
    cookie = await sync_to_async(session_cookie)(await sync_to_async(viewer)())

    _, connected = await connect("no-such-chat", cookie=cookie)

    assert not connected
