"""Sharing botocore's response parsers, with real boto3 calls to the Connect emulator: these
fail when a botocore upgrade moves what sharing relies on."""

import gc
import logging

import boto3
import botocore.session
import pytest
from django.conf import settings

from chatbridge.connect import parsers


def connect_client(core: botocore.session.Session):
    return boto3.session.Session(botocore_session=core).client(
        "connect", endpoint_url=settings.CONNECT_ENDPOINT_URL, region_name=settings.CONNECT_REGION
    )


def start_chat(client) -> None:
    client.start_chat_contact(
        InstanceId=settings.CONNECT_INSTANCE_ID,
        ContactFlowId=settings.CONNECT_CONTACT_FLOW_ID,
        ParticipantDetails={"DisplayName": "Ada"},
    )


def test_the_factory_hands_out_one_parser_per_protocol():
    factory = parsers.SharedParserFactory()
    assert factory.create_parser("rest-json") is factory.create_parser("rest-json")
    assert factory.create_parser("json") is not factory.create_parser("rest-json")


def test_new_parser_defaults_reach_the_parsers_handed_out_after_them():
    factory = parsers.SharedParserFactory()
    before = factory.create_parser("rest-json")
    factory.set_parser_defaults(timestamp_parser=str)
    assert factory.create_parser("rest-json") is not before


def test_a_call_is_parsed_by_the_one_shared_parser_of_its_protocol(emulator):
    core = botocore.session.get_session()
    factory = parsers.share_parsers(core)
    assert factory is not None
    client = connect_client(core)
    assert factory.handed_out() == {}
    start_chat(client)
    handed_out = factory.handed_out()
    assert list(handed_out) == [client.meta.service_model.resolved_protocol]
    gc.collect()
    gc.disable()
    try:
        start_chat(client)
        # botocore's own factory leaves a new parser's reference cycles behind for each call.
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert factory.handed_out() == handed_out


@pytest.fixture
def fresh_warnings():
    parsers._fell_back.cache_clear()
    yield
    parsers._fell_back.cache_clear()


def test_a_session_without_botocores_factory_is_left_alone_and_says_so_once(fresh_warnings, caplog):
    sessions = [botocore.session.get_session() for _ in range(2)]
    with caplog.at_level(logging.WARNING, logger=parsers.__name__):
        for session in sessions:
            session.register_component(parsers.COMPONENT, "something else")
            assert parsers.share_parsers(session) is None
            assert session.get_component(parsers.COMPONENT) == "something else"
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
