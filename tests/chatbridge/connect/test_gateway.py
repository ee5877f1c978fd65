"""A chat start's two Connect calls through the gateway, boto3 over HTTP to the emulator, the
budget in real Redis: what each call costs the budget, and what a throttle or a refusal leaves.

The budget's buckets refill one token per 100 s here, so that what a bucket holds after a
start is what the start took, not what this machine's speed let refill.
"""

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chatbridge.connect import ContinuationRefused, clients
from chatbridge.connect.budget import calling_for
from chatbridge.connect.gateway import ConnectGateway
from chatbridge.connect.types import PersistentChat
from chatbridge.errors import AtCapacity
from chatbridge.metrics import CONNECT_BUDGET_SLOWDOWNS, CONNECT_CALLS
from chatbridge.redis import keys
from tests.support.redis_waits import until_members

START = "StartChatContact"
CONNECTION = "CreateParticipantConnection"
GUARD = 30  # seconds: failure guard for a start to finish


@pytest.fixture
def slow_rates(settings):
    """Bursts of 10 (9 to spend: one is kept in reserve), a token per 100 s."""
    settings.CHATBRIDGE_CONNECT_RATES = f"{START}=0.01/10,{CONNECTION}=0.01/10"
    settings.CHATBRIDGE_CONNECT_MAX_WAIT = 3600
    settings.CHATBRIDGE_CONNECT_REGION_RATES = ""


@pytest.fixture
def gateway(slow_rates, redis_client, emulator) -> ConnectGateway:
    return ConnectGateway(starts=True)


async def tokens_of(redis_client, operation: str) -> int:
    return int(float(await redis_client.hget(keys().connect_budget(operation), "tokens")))


def calls(operation: str, outcome: str) -> float:
    return CONNECT_CALLS.labels(operation=operation, outcome=outcome)._value.get()


async def test_a_start_spends_one_token_of_each_call_and_answers_a_working_connection(
    gateway, redis_client, emulator
):
    started_before = calls("start_chat_contact", "ok")
    connected_before = calls("create_participant_connection", "ok")

    contact, connection = await gateway.start_and_connect(display_name="Ada")

    assert [c["contact_id"] for c in emulator.contacts()] == [contact.contact_id]
    assert await tokens_of(redis_client, START) == 8
    assert await tokens_of(redis_client, CONNECTION) == 8
    assert calls("start_chat_contact", "ok") == started_before + 1
    assert calls("create_participant_connection", "ok") == connected_before + 1
    sent = await gateway.send_message(
        connection.connection_token, content_type="text/plain", content="hi", client_token=None
    )
    assert sent.id


async def test_a_start_whose_connection_has_no_token_free_queues_for_it(
    gateway, redis_client, emulator
):
    await gateway.start_and_connect(display_name="First")  # the buckets exist from now on
    await redis_client.hset(keys().connect_budget(CONNECTION), "tokens", 0)

    start = asyncio.create_task(gateway.start_and_connect(display_name="Ada"))
    await until_members(redis_client, keys().connect_budget(CONNECTION, "queue"), 1)
    await redis_client.hset(keys().connect_budget(CONNECTION), "tokens", 1)
    contact, connection = await asyncio.wait_for(start, GUARD)

    assert connection.connection_token
    assert len(emulator.contacts()) == 2
    assert await tokens_of(redis_client, START) == 7


@pytest.mark.parametrize("token_free", [True, False], ids=["with its token", "without"])
async def test_a_first_connection_cancelled_before_its_release_is_not_made(
    gateway, redis_client, emulator, token_free
):
    await gateway.start_and_connect(display_name="First")  # the buckets exist from now on
    if not token_free:
        await redis_client.hset(keys().connect_budget(CONNECTION), "tokens", 0)
    contact, first = await gateway.start_contact(display_name="Ada")
    connecting = asyncio.ensure_future(first.connection())

    first.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(connecting, GUARD)
    assert emulator.calls(CONNECTION) == 1
    # A token taken for it goes back: 9 to spend, one spent by the first start.
    assert await tokens_of(redis_client, CONNECTION) == (8 if token_free else 0)


async def test_a_start_connect_throttles_gives_the_connections_token_back_and_queues_again(
    gateway, redis_client, emulator
):
    emulator.set_quotas(**{START: "0.01/1"})
    await gateway.start_and_connect(display_name="First")  # Connect's bucket is empty now
    throttled_before = calls("start_chat_contact", "throttled")
    slowdowns_before = CONNECT_BUDGET_SLOWDOWNS.labels(operation=START)._value.get()

    start = asyncio.create_task(gateway.start_and_connect(display_name="Ada"))
    # The throttle empties the start's bucket here too: the start queues for a token.
    await until_members(redis_client, keys().connect_budget(START, "queue"), 1)
    emulator.set_quotas(**{START: "100/100"})
    await redis_client.hset(keys().connect_budget(START), "tokens", 1)
    contact, connection = await asyncio.wait_for(start, GUARD)

    assert connection.connection_token
    assert len(emulator.contacts()) == 2
    assert calls("start_chat_contact", "throttled") == throttled_before + 1
    assert CONNECT_BUDGET_SLOWDOWNS.labels(operation=START)._value.get() == slowdowns_before + 1
    # 9 to spend, one per chat: the one taken with the throttled start was given back.
    assert await tokens_of(redis_client, CONNECTION) == 7


async def test_a_start_connect_refuses_gives_the_connections_token_back(
    gateway, redis_client, emulator
):
    emulator.fault(START, "throttle", count=1)  # LimitExceeded: Connect's chats are all busy
    with pytest.raises(AtCapacity):
        await gateway.start_and_connect(display_name="Ada")
    assert await tokens_of(redis_client, START) == 8
    assert await tokens_of(redis_client, CONNECTION) == 9


async def test_a_connection_connect_throttles_is_made_again(gateway, redis_client, emulator):
    throttled_before = calls("create_participant_connection", "throttled")
    ok_before = calls("create_participant_connection", "ok")
    slowdowns_before = CONNECT_BUDGET_SLOWDOWNS.labels(operation=CONNECTION)._value.get()
    emulator.fault(CONNECTION, "throttle", count=1)
    start = asyncio.create_task(gateway.start_and_connect(display_name="Ada"))
    # The throttle empties the connection's bucket: it queues again, for its chat.
    await until_members(redis_client, keys().connect_budget(CONNECTION, "queue"), 1)
    await redis_client.hset(keys().connect_budget(CONNECTION), "tokens", 1)
    contact, connection = await asyncio.wait_for(start, GUARD)

    assert connection.connection_token
    assert len(emulator.contacts()) == 1
    assert calls("create_participant_connection", "throttled") == throttled_before + 1
    assert calls("create_participant_connection", "ok") == ok_before + 1
    slowdowns = CONNECT_BUDGET_SLOWDOWNS.labels(operation=CONNECTION)._value.get()
    assert slowdowns == slowdowns_before + 1
    chats = await redis_client.zrange(keys().connect_budget(CONNECTION, "chats"), 0, -1)
    assert chats == [contact.contact_id.encode()]


async def test_a_continuation_connect_refuses_starts_nothing_and_gives_the_token_back(
    gateway, redis_client, emulator
):
    with pytest.raises(ContinuationRefused) as refused:
        await gateway.start_and_connect(
            display_name="Ada", persistent_chat=PersistentChat("no-such-contact")
        )

    assert type(refused.value.error).__name__ in {"InvalidInput", "NotFound"}
    assert emulator.contacts() == []
    assert await tokens_of(redis_client, CONNECTION) == 9


async def test_a_fresh_start_connect_refuses_raises_its_own_error(gateway, emulator):
    with calling_for(chat_id="a"), pytest.raises(Exception) as caught:
        await gateway.start_and_connect(display_name="")
    assert not isinstance(caught.value, ContinuationRefused)
    assert emulator.contacts() == []


class HeldConnect:
    """An HTTP endpoint for Connect's APIs that holds each request until released, then starts
    a contact: a call is in flight for as long as a test needs it to be."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.received = threading.Event()
        self.release = threading.Event()
        held = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # StartChatContact
                self._answer()

            def do_POST(self) -> None:  # CreateParticipantConnection
                self._answer()

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                held.paths.append(self.path)
                held.received.set()
                held.release.wait(GUARD)
                body = json.dumps(
                    {"ContactId": "c-1", "ParticipantId": "p-1", "ParticipantToken": "t-1"}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def held(settings) -> Iterator[HeldConnect]:
    """Connect in a Region of its own, holding every call; one start thread, so that what runs
    on it runs in turn."""
    endpoint = HeldConnect()
    settings.CONNECT_REGION_ENDPOINT_URLS = {"eu-held-1": endpoint.url}
    settings.CONNECT_START_THREADS = 1
    clients.start_executor.cache_clear()
    yield endpoint
    endpoint.close()
    clients.start_executor().shutdown(wait=True)
    clients.start_executor.cache_clear()


async def test_a_start_whose_caller_stops_waiting_counts_cancelled_and_connects_nothing(
    slow_rates, redis_client, held
):
    gateway = ConnectGateway(starts=True, region="eu-held-1")
    cancelled_before = calls("start_chat_contact", "cancelled")
    ok_before = calls("start_chat_contact", "ok")
    start = asyncio.create_task(gateway.start_and_connect(display_name="Ada"))
    assert await asyncio.to_thread(held.received.wait, GUARD)

    start.cancel()
    with pytest.raises(asyncio.CancelledError):
        await start
    held.release.set()
    # The start thread is free again only once the start's call returned.
    await asyncio.get_running_loop().run_in_executor(clients.start_executor(), lambda: None)

    assert held.paths == ["/contact/chat"]
    assert calls("start_chat_contact", "cancelled") == cancelled_before + 1
    assert calls("start_chat_contact", "ok") == ok_before
