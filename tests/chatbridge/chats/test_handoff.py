"""A chat's start hands its websocket URL to the chat's upstream, once, while it is good."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from chatbridge.chats.handoff import WebsocketHandoff, share, take_shared
from chatbridge.connect.types import ParticipantConnection
from chatbridge.redis import keys
from tests.support.closing import close
from tests.support.ws_client import authenticated_client


def connection(valid_for: timedelta) -> ParticipantConnection:
    now = datetime.now(UTC)
    return ParticipantConnection(
        websocket_url="wss://connect.example/ws",
        websocket_expires_at=now + valid_for,
        connection_token="connection.token",
        connection_expires_at=now + timedelta(hours=1),
    )


async def test_a_start_connection_is_handed_over_once():
    handoff = WebsocketHandoff()
    started = connection(timedelta(seconds=100))
    handoff.offer("c", started)

    assert await handoff.take("c", valid_for=timedelta(seconds=20)) is started
    assert await handoff.take("c", valid_for=timedelta(seconds=20)) is None


async def test_a_websocket_url_about_to_expire_is_not_handed_over():
    handoff = WebsocketHandoff()
    handoff.offer("c", connection(timedelta(seconds=5)))

    assert await handoff.take("c", valid_for=timedelta(seconds=20)) is None


async def test_a_connection_still_on_its_way_is_waited_for():
    handoff = WebsocketHandoff()
    coming = asyncio.get_running_loop().create_future()
    handoff.offer("c", coming)
    taking = asyncio.ensure_future(handoff.take("c", valid_for=timedelta(seconds=20)))
    await asyncio.sleep(0)
    assert not taking.done()

    started = connection(timedelta(seconds=100))
    coming.set_result(started)

    assert await taking is started


async def test_a_connection_that_did_not_come_is_not_handed_over():
    handoff = WebsocketHandoff()
    coming = asyncio.get_running_loop().create_future()
    coming.set_result(None)
    handoff.offer("c", coming)

    assert await handoff.take("c", valid_for=timedelta(seconds=20)) is None


def participant_connections() -> float:
    return (
        REGISTRY.get_sample_value(
            "chatbridge_connect_calls_total",
            {"operation": "create_participant_connection", "outcome": "ok"},
        )
        or 0.0
    )


@pytest.mark.django_db(transaction=True)
async def test_a_chat_started_here_opens_its_upstream_on_the_starts_connection(runtime):
    before = participant_connections()
    chat = await runtime.service.start_chat(display_name="Ada")
    await runtime.supervisor.ensure(chat.session.chat_id)

    client = await authenticated_client(chat.session_token, connected=True)
    await close(client)

    assert participant_connections() == before + 1


async def test_a_connection_shared_between_processes_is_sealed_and_taken_once(redis_client):
    started = connection(timedelta(seconds=100))
    await share("contact-1", started, valid_for=timedelta(seconds=20))

    stored = await redis_client.get(keys().handoff("contact-1"))
    assert b"wss://" not in stored and b"connection.token" not in stored
    assert 0 < await redis_client.pttl(keys().handoff("contact-1")) <= 80_000
    assert await take_shared("contact-1", valid_for=timedelta(seconds=20)) == started
    assert await take_shared("contact-1", valid_for=timedelta(seconds=20)) is None


async def test_a_websocket_url_about_to_expire_is_not_shared(redis_client):
    await share("contact-1", connection(timedelta(seconds=5)), valid_for=timedelta(seconds=20))

    assert await redis_client.exists(keys().handoff("contact-1")) == 0


@pytest.mark.django_db(transaction=True)
async def test_a_chat_started_where_no_upstream_is_held_opens_its_upstream_on_the_starts_connection(
    runtime, settings
):
    before = participant_connections()
    settings.CHATBRIDGE_HOLD_UPSTREAMS = False
    chat = await runtime.service.start_chat(display_name="Ada")
    settings.CHATBRIDGE_HOLD_UPSTREAMS = True
    await runtime.supervisor.ensure(chat.session.chat_id)

    client = await authenticated_client(chat.session_token, connected=True)
    await close(client)

    assert participant_connections() == before + 1
