"""ChatBridge's boto3 clients, as built from settings."""

import gc

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


def test_a_serving_process_freezes_what_it_loaded_at_start_up(settings):
    settings.CHATBRIDGE_GC_THRESHOLDS = (40_000, 15, 12)
    thresholds = gc.get_threshold()
    try:
        prepare_for_serving()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (40_000, 15, 12)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
