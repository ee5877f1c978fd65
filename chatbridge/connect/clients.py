"""boto3 clients for Connect, built once per process from settings.

boto3 clients are thread-safe, so the executor's threads share them; botocore's HTTP pool is
sized to the executor so that no thread waits for a connection.
"""

import functools
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.session
from botocore.config import Config
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from chatbridge.connect.parsers import share_parsers


def _config() -> Config:
    return Config(
        region_name=settings.CONNECT_REGION,
        retries={
            "mode": settings.CONNECT_RETRY_MODE,
            "total_max_attempts": settings.CONNECT_MAX_ATTEMPTS,
        },
        max_pool_connections=settings.CONNECT_THREADS
        + settings.CONNECT_BACKGROUND_THREADS
        + settings.CONNECT_START_THREADS,
        connect_timeout=settings.CONNECT_CONNECT_TIMEOUT,
        read_timeout=settings.CONNECT_READ_TIMEOUT,
        user_agent_appid="chatbridge",
    )


def _session() -> boto3.session.Session:
    core = botocore.session.get_session()
    share_parsers(core)
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


@functools.cache
def start_executor() -> ThreadPoolExecutor:
    """A pool of its own for starting chats (StartChatContact and the new chat's first
    CreateParticipantConnection): a wave of new chats then waits behind itself, never in
    front of the sends, typing and receipts of the chats already live."""
    return ThreadPoolExecutor(
        max_workers=settings.CONNECT_START_THREADS, thread_name_prefix="connect-start"
    )


@receiver(setting_changed)
def _rebuild_on_setting_change(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("CONNECT_"):
        connect_client.cache_clear()
        participant_client.cache_clear()
