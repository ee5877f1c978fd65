"""boto3 clients for Connect, built once per process and region from settings.

boto3 clients are thread-safe, so the executor's threads share them; botocore's HTTP pool is
sized to the executor so that no thread waits for a connection.

botocore retries server errors and broken connections, but not throttles (429): a throttled
call goes back through the shared Connect budget (chatbridge.connect.gateway), which slows
down for every process, instead of each thread retrying on its own behind the budget's back.

A chat lives in the region of its Connect instance (a widget may name its own), and every
participant call of the chat goes to that region's endpoint. CONNECT_REGION's clients use
CONNECT_ENDPOINT_URL and CONNECT_PARTICIPANT_ENDPOINT_URL; another region's use its entry of
CONNECT_REGION_ENDPOINT_URLS, else AWS's own endpoints of that region.
"""

import functools
import platform
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from chatbridge.connect.parsers import share_parsers


def _config(region: str, *, signed: bool = True) -> Config:
    return Config(
        region_name=region,
        signature_version=None if signed else UNSIGNED,
        user_agent=_user_agent(),
        retries={
            "mode": settings.CONNECT_RETRY_MODE,
            "total_max_attempts": settings.CONNECT_MAX_ATTEMPTS,
        },
        max_pool_connections=settings.CONNECT_THREADS
        + settings.CONNECT_BACKGROUND_THREADS
        + settings.CONNECT_START_THREADS,
        connect_timeout=settings.CONNECT_CONNECT_TIMEOUT,
        read_timeout=settings.CONNECT_READ_TIMEOUT,
    )


@functools.cache
def _user_agent() -> str:
    """One User-Agent for every call. botocore otherwise builds its own twice per call, to list
    the features that call used, which only AWS's usage statistics read: about a quarter of a
    millisecond of CPU, on a thread that takes the GIL from the event loop."""
    return (
        f"Boto3/{boto3.__version__} Python/{platform.python_version()} "
        f"{platform.system()}/{platform.release()} app/chatbridge"
    )


def _no_retry_of_throttles(response=None, **kwargs: object) -> bool | None:
    """A `needs-retry` handler registered first, so its answer wins: False (do not retry)
    for a 429, None (let botocore's retry mode decide) for anything else."""
    if response is None:
        return None
    status = response[0].status_code if response[0] is not None else None
    return False if status == 429 else None


def _without_throttle_retries(client):
    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register_first(f"needs-retry.{service}", _no_retry_of_throttles)
    return client


def _session() -> boto3.session.Session:
    core = botocore.session.get_session()
    share_parsers(core)
    return boto3.session.Session(botocore_session=core)


def _endpoint(region: str, default: str | None) -> str | None:
    if region == settings.CONNECT_REGION:
        return default
    return settings.CONNECT_REGION_ENDPOINT_URLS.get(region)


def connect_client(region: str | None = None):
    """The `connect` client (StartChatContact, StopContact) of a region (CONNECT_REGION's
    by default)."""
    return _connect_client(region or settings.CONNECT_REGION)


def participant_client(region: str | None = None):
    """The `connectparticipant` client (everything a chat participant does) of a region
    (CONNECT_REGION's by default)."""
    return _participant_client(region or settings.CONNECT_REGION)


@functools.cache
def _connect_client(region: str):
    return _without_throttle_retries(
        _session().client(
            "connect",
            endpoint_url=_endpoint(region, settings.CONNECT_ENDPOINT_URL),
            config=_config(region),
        )
    )


@functools.cache
def _participant_client(region: str):
    """Unsigned: the Participant Service authenticates each call by the participant's token
    (X-Amz-Bearer) and does not use SigV4, as its API reference says of every operation, so
    signing only costs CPU (about a quarter of a millisecond a call) and needs no AWS
    credentials."""
    return _without_throttle_retries(
        _session().client(
            "connectparticipant",
            endpoint_url=_endpoint(region, settings.CONNECT_PARTICIPANT_ENDPOINT_URL),
            config=_config(region, signed=False),
        )
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
        _connect_client.cache_clear()
        _participant_client.cache_clear()
