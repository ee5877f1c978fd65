"""ChatBridge's boto3 clients, as built from settings."""

import gc
import sys

import pytest
from django.conf import settings

from chatbridge.connect import clients
from chatbridge.runtime import prepare_for_serving


def connection_token() -> str:
    contact = clients.connect_client().start_chat_contact(
        InstanceId=settings.CONNECT_INSTANCE_ID,
        ContactFlowId=settings.CONNECT_CONTACT_FLOW_ID,
        ParticipantDetails={"DisplayName": "Ada"},
    )
    connection = clients.participant_client().create_participant_connection(
        Type=["CONNECTION_CREDENTIALS"], ParticipantToken=contact["ParticipantToken"]
    )
    return connection["ConnectionCredentials"]["ConnectionToken"]


def test_a_participant_call_leaves_no_garbage_for_the_cycle_collector(emulator):
    chat = connection_token()
    client = clients.participant_client()
    client.send_message(ConnectionToken=chat, ContentType="text/plain", Content="warm up")
    gc.collect()
    gc.disable()
    try:
        client.send_message(ConnectionToken=chat, ContentType="text/plain", Content="hello")
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.fixture
def serving_state():
    """What prepare_for_serving changes in this process, put back afterwards."""
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    sys.setswitchinterval(interval)


def test_a_serving_process_freezes_what_it_loaded_at_start_up(settings, serving_state):
    settings.CHATBRIDGE_GC_THRESHOLDS = (40_000, 15, 12)

    prepare_for_serving()

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (40_000, 15, 12)


def test_a_serving_process_shortens_the_gil_s_switch_interval(settings, serving_state):
    settings.CHATBRIDGE_SWITCH_INTERVAL = 0.0025

    prepare_for_serving()

    assert sys.getswitchinterval() == pytest.approx(0.0025)


def headers_sent(client, call) -> dict[str, str]:
    """The headers of the HTTP request that `call` makes through `client`."""
    sent: dict[str, str] = {}

    def keep(request, **kwargs):
        for name, value in request.headers.items():
            sent[name] = value.decode() if isinstance(value, bytes) else value

    client.meta.events.register("before-send", keep)
    try:
        call()
    finally:
        client.meta.events.unregister("before-send", keep)
    return sent


def headers_of_a_message(chat: str) -> dict[str, str]:
    client = clients.participant_client()
    return headers_sent(
        client,
        lambda: client.send_message(ConnectionToken=chat, ContentType="text/plain", Content="hi"),
    )


def test_participant_calls_are_not_signed(emulator):
    chat = connection_token()

    sent = headers_of_a_message(chat)

    assert "Authorization" not in sent
    assert sent["X-Amz-Bearer"] == chat


def test_connect_calls_are_signed(emulator):
    client = clients.connect_client()

    sent = headers_sent(
        client,
        lambda: client.start_chat_contact(
            InstanceId=settings.CONNECT_INSTANCE_ID,
            ContactFlowId=settings.CONNECT_CONTACT_FLOW_ID,
            ParticipantDetails={"DisplayName": "Ada"},
        ),
    )

    assert sent["Authorization"].startswith("AWS4-HMAC-SHA256 ")


def test_every_call_carries_the_user_agent_built_once(emulator):
    sent = headers_of_a_message(connection_token())

    assert sent["User-Agent"].startswith(clients._user_agent())
