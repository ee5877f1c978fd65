"""A chat's start hands its websocket URL to the chat's upstream, once, while it is good."""

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from chatbridge.chats.handoff import WebsocketHandoff
from chatbridge.connect.types import ParticipantConnection
from tests.support.closing import close
from tests.support.ws_client import authenticated_client


def connection(valid_for: timedelta) -> ParticipantConnection:
    now = datetime.now(UTC)
    return ParticipantConnection(
        websocket_url="wss://connect.example/ws",
        websocket_expires_at=now + valid_for,
        connection_token="token",
        connection_expires_at=now + timedelta(hours=1),
    )


def test_a_start_connection_is_handed_over_once():
    handoff = WebsocketHandoff()
    started = connection(timedelta(seconds=100))
    handoff.offer("c", started)

    assert handoff.take("c", valid_for=timedelta(seconds=20)) is started
    assert handoff.take("c", valid_for=timedelta(seconds=20)) is None


def test_a_websocket_url_about_to_expire_is_not_handed_over():
    handoff = WebsocketHandoff()
    handoff.offer("c", connection(timedelta(seconds=5)))

    assert handoff.take("c", valid_for=timedelta(seconds=20)) is None


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
