"""boto3 clients for Connect, built once per process from settings.

boto3 clients are thread-safe, so the executor's threads share them; botocore's HTTP pool is
sized to the executor so that no thread waits for a connection.
"""

import functools
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.session
from botocore.config import Config
from botocore.parsers import ResponseParserFactory
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


def _config() -> Config:
    return Config(
        region_name=settings.CONNECT_REGION,
        retries={
            "mode": settings.CONNECT_RETRY_MODE,
            "total_max_attempts": settings.CONNECT_MAX_ATTEMPTS,
        },
        max_pool_connections=settings.CONNECT_THREADS + settings.CONNECT_BACKGROUND_THREADS,
        connect_timeout=settings.CONNECT_CONNECT_TIMEOUT,
        read_timeout=settings.CONNECT_READ_TIMEOUT,
        user_agent_appid="chatbridge",
    )


class SharedParserFactory(ResponseParserFactory):
    """One response parser per protocol, shared by every call.

    botocore's own factory builds a new parser (two, for REST JSON) for every response, and
    each holds bound methods of itself: a reference cycle that only the cyclic garbage
    collector frees. At a hundred calls a second that garbage is what triggers its slow full
    collections. Parsers keep no state between calls, so one per protocol serves them all.
    """

    def __init__(self) -> None:
        super().__init__()
        self._parsers: dict[str, object] = {}

    def create_parser(self, protocol_name: str):
        parser = self._parsers.get(protocol_name)
        if parser is None:
            parser = self._parsers[protocol_name] = super().create_parser(protocol_name)
        return parser


def _session() -> boto3.session.Session:
    core = botocore.session.get_session()
    core.register_component("response_parser_factory", SharedParserFactory())
    return boto3.session.Session(botocore_session=core)


@functools.cache
def connect_client():
    """The `connect` client (StartChatContact, StopContact)."""
    return _session().client(
        "connect", endpoint_url=settings.CONNECT_ENDPOINT_URL, config=_config()
    )


@functools.cache
def participant_client():
    """The `connectparticipant` client (everything a chat participant does)."""
    return _session().client(
        "connectparticipant",
        endpoint_url=settings.CONNECT_PARTICIPANT_ENDPOINT_URL,
        config=_config(),
    )


@functools.cache
def executor() -> ThreadPoolExecutor:
    """The bounded pool that runs every boto3 call, off the event loop."""
    return ThreadPoolExecutor(max_workers=settings.CONNECT_THREADS, thread_name_prefix="connect")


@functools.cache
def background_executor() -> ThreadPoolExecutor:
    """A pool of its own for the upstreams' calls (new connections, transcript gap fills),
    so that a wave of chats reconnecting never queues ahead of customers' sends."""
    return ThreadPoolExecutor(
        max_workers=settings.CONNECT_BACKGROUND_THREADS, thread_name_prefix="connect-bg"
    )


@receiver(setting_changed)
def _rebuild_on_setting_change(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("CONNECT_"):
        connect_client.cache_clear()
        participant_client.cache_clear()
