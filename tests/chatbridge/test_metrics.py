"""Prometheus metrics: /metrics through the ASGI app, and what a real chat shows there.

The registry is the process's own and outlives each test, so every test reads what changed
while it ran (a delta), never an absolute count.
"""

import ipaddress
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from chatbridge import metrics
from chatbridge.asgi import application
from chatbridge.errors import Throttled
from tests.support.closing import close
from tests.support.ws_client import ChatClient, authenticated_client, is_agent_message

# Channels closes stale database connections around every consumer event.
pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-scraper-token-0123456789"
BASE = "http://testserver"

Scrape = Callable[[], Awaitable[str]]


def value(exposition: str, name: str, **labels: str) -> float:
    """The sample's value in a scrape's text; 0 for a series not exported yet."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def grew(before: str, after: str, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def http(peer: str = "198.51.100.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30)


@pytest.fixture
def metrics_settings(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.CHATBRIDGE_METRICS_TOKEN = TOKEN
    settings.CHATBRIDGE_METRICS_ALLOWED_NETWORKS = []
    return settings


@pytest.fixture
async def scrape(metrics_settings) -> AsyncIterator[Scrape]:
    """Scrapes /metrics with the token, as Prometheus would."""
    async with http() as client:

        async def scrape() -> str:
            response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 200
            return response.text

        yield scrape


# Who may scrape.


async def test_metrics_answer_the_bearer_of_the_token(metrics_settings):
    async with http() as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "chatbridge_websocket_clients" in response.text


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}],
    ids=["no token", "a wrong token", "the token without its scheme"],
)
async def test_metrics_are_not_found_without_the_token(metrics_settings, headers):
    async with http() as client:
        response = await client.get("/metrics", headers=headers)

    assert response.status_code == 404
    assert "chatbridge_" not in response.text


async def test_metrics_are_off_while_neither_a_token_nor_networks_are_set(metrics_settings):
    metrics_settings.CHATBRIDGE_METRICS_TOKEN = ""

    async with http(peer="127.0.0.1") as client:
        response = await client.get("/metrics", headers={"Authorization": "Bearer "})

    assert response.status_code == 404


async def test_metrics_answer_a_peer_in_an_allowed_network(metrics_settings):
    metrics_settings.CHATBRIDGE_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]

    async with http(peer="10.1.2.3") as inside, http(peer="198.51.100.7") as outside:
        allowed = await inside.get("/metrics")
        refused = await outside.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"})

    assert allowed.status_code == 200
    assert refused.status_code == 404


# What a chat shows.


async def test_a_chat_counts_its_connect_calls_by_operation_with_outcome_ok(
    emulator, runtime, scrape
):
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0)
    before = await scrape()

    chat = await runtime.service.start_chat(display_name="Ada")
    client = await authenticated_client(chat.session_token, connected=True)
    await client.request({"type": "send", "content": "hello", "client_id": "m1"})
    await client.wait_for(is_agent_message("Echo: hello"))
    after = await scrape()
    await close(client)

    calls = "chatbridge_connect_calls_total"
    assert grew(before, after, calls, operation="start_chat_contact", outcome="ok") == 1
    assert grew(before, after, calls, operation="send_message", outcome="ok") == 1
    # The upstream opens on the start's own connection (chatbridge.chats.handoff).
    assert grew(before, after, calls, operation="create_participant_connection", outcome="ok") == 1
    seconds = "chatbridge_connect_call_duration_seconds_count"
    assert grew(before, after, seconds, operation="send_message") == 1


async def test_the_connected_clients_gauge_goes_up_and_back_down(runtime, scrape):
    before = value(await scrape(), "chatbridge_websocket_clients")

    client = ChatClient()
    assert await client.connect()
    during = value(await scrape(), "chatbridge_websocket_clients")
    await client.close()
    after = value(await scrape(), "chatbridge_websocket_clients")

    assert (during, after) == (before + 1, before)


async def test_a_connected_upstream_is_counted_connected(runtime, scrape):
    before = await scrape()

    chat = await runtime.service.start_chat(display_name="Ada")
    client = await authenticated_client(chat.session_token, connected=True)
    after = await scrape()
    await close(client)

    assert grew(before, after, "chatbridge_upstreams", state="connected") == 1
    assert grew(before, after, "chatbridge_upstreams", state="connecting") == 0
    # It opened on the start's own connection (chatbridge.chats.handoff): nothing refreshed.
    refreshes = "chatbridge_connection_refreshes_total"
    assert grew(before, after, refreshes, reason="upstream") == 0


async def test_an_upstream_that_reconnects_counts_a_connection_refresh(runtime, emulator, scrape):
    chat = await runtime.service.start_chat(display_name="Ada")
    client = await authenticated_client(chat.session_token, connected=True)
    before = await scrape()

    emulator.drop_websockets(chat.session.contact_id)
    await client.receive_until(lambda f: f["type"] == "upstream" and f["status"] == "reconnecting")
    await client.receive_until(lambda f: f["type"] == "upstream" and f["status"] == "connected")
    after = await scrape()
    await close(client)

    refreshes = "chatbridge_connection_refreshes_total"
    assert grew(before, after, refreshes, reason="upstream") == 1


async def test_an_upstream_that_stops_leaves_no_count_behind(runtime, scrape):
    chat = await runtime.service.start_chat(display_name="Ada")
    client = await authenticated_client(chat.session_token, connected=True)
    await close(client)
    during = await scrape()

    await runtime.supervisor.stop()
    after = await scrape()

    assert grew(during, after, "chatbridge_upstreams", state="connected") == -1


async def test_an_event_delivered_live_records_its_lag_from_the_log(emulator, runtime, scrape):
    chat = await runtime.service.start_chat(display_name="Ada")
    client = await authenticated_client(chat.session_token, connected=True)
    before = await scrape()

    emulator.agent_join(chat.session.contact_id)
    emulator.agent_message(chat.session.contact_id, "hello from the agent")
    await client.wait_for(is_agent_message("hello from the agent"))
    after = await scrape()
    await close(client)

    assert grew(before, after, "chatbridge_event_delivery_lag_seconds_count") >= 1


async def test_a_call_throttled_until_the_wait_runs_out_counts_each_throttle(
    emulator, runtime, scrape, settings
):
    settings.CHATBRIDGE_CONNECT_MAX_WAIT = 0.5
    chat = await runtime.service.start_chat(display_name="Ada")
    before = await scrape()

    emulator.fault("SendMessage", "throttle", count=100)
    with pytest.raises(Throttled):
        await runtime.service.send_message(chat.session, content="hello")
    after = await scrape()

    calls = "chatbridge_connect_calls_total"
    assert grew(before, after, calls, operation="send_message", outcome="throttled") >= 1
    assert grew(before, after, calls, operation="send_message", outcome="ok") == 0
    # botocore does not retry a throttle: the budget does.
    assert grew(before, after, "chatbridge_connect_retries_total", operation="send_message") == 0
    slowdowns = "chatbridge_connect_budget_slowdowns_total"
    assert grew(before, after, slowdowns, operation="SendMessage") == 1


async def test_a_call_that_succeeds_after_a_throttle_counts_both_and_one_slowdown(
    emulator, runtime, scrape
):
    chat = await runtime.service.start_chat(display_name="Ada")
    before = await scrape()

    emulator.fault("SendMessage", "throttle", count=1)
    await runtime.service.send_message(chat.session, content="hello")
    after = await scrape()

    calls = "chatbridge_connect_calls_total"
    assert grew(before, after, calls, operation="send_message", outcome="throttled") == 1
    assert grew(before, after, calls, operation="send_message", outcome="ok") == 1
    assert grew(before, after, "chatbridge_connect_retries_total", operation="send_message") == 0
    queued = "chatbridge_connect_budget_queued_total"
    assert grew(before, after, queued, operation="SendMessage") == 1


async def test_a_rate_limited_frame_is_counted_by_its_kind(runtime, scrape, settings):
    settings.CHATBRIDGE_WS_TYPING_PER_MINUTE = 1
    chat = await runtime.service.start_chat(display_name="Ada")
    client = await authenticated_client(chat.session_token)
    before = await scrape()

    await client.request({"type": "typing"})
    refused = await client.request({"type": "typing"})
    after = await scrape()
    await close(client)

    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    assert grew(before, after, "chatbridge_rate_limited_total", kind="ws_typing") == 1


# The documentation and the dashboard.

ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}


def exported() -> dict[str, set[str]]:
    """Each ChatBridge metric's exposed name (a counter's with _total) and its sample names."""
    names = {}
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            [family] = metric.describe()
            suffixes = SUFFIXES[family.type]
            names[family.name + ("_total" if family.type == "counter" else "")] = {
                family.name + suffix for suffix in suffixes
            }
    return names


def test_every_metric_is_listed_in_the_deployment_guide():
    guide = (ROOT / "docs" / "deployment.md").read_text()

    assert [name for name in exported() if f"`{name}`" not in guide] == []


def test_the_dashboard_queries_only_metrics_that_exist():
    dashboard = (ROOT / "docs" / "grafana-dashboard.json").read_text()
    json.loads(dashboard)
    samples = set().union(*exported().values())

    assert sorted(set(re.findall(r"chatbridge_\w+", dashboard)) - samples) == []
