"""The upstream's reconnect backoff: 1 s doubling to 30 s, each delay jittered by ±30 %; and
the proxy its websockets go through."""

import pytest

from chatbridge.realtime.upstream import Backoff, UpstreamConfig, _proxy_for, proxy_for


def delays(backoff: Backoff, count: int) -> list[float]:
    return [backoff.next_delay() for _ in range(count)]


@pytest.mark.parametrize("attempt", range(8))
def test_each_delay_is_within_thirty_percent_of_its_base(attempt):
    base = min(30.0, 2.0**attempt)
    for _ in range(50):
        backoff = Backoff(UpstreamConfig())
        delay = delays(backoff, attempt + 1)[-1]
        assert base * 0.7 <= delay <= base * 1.3


def test_delays_are_capped():
    assert max(delays(Backoff(UpstreamConfig()), 20)) <= 30 * 1.3


def test_reset_starts_again_from_the_initial_delay():
    backoff = Backoff(UpstreamConfig())
    delays(backoff, 6)
    backoff.reset()
    assert backoff.next_delay() <= 1.3


@pytest.fixture
def proxy_lookups():
    _proxy_for.cache_clear()
    yield
    _proxy_for.cache_clear()


def test_connects_websockets_through_the_proxy_the_environment_names(monkeypatch, proxy_lookups):
    monkeypatch.setenv("wss_proxy", "http://127.0.0.1:3128")

    assert proxy_for("wss://connect.example/connect?token=1") == "http://127.0.0.1:3128"
    assert proxy_for("ws://connect.example/connect") is None


def test_looks_a_hosts_proxy_up_once_not_on_every_connection(monkeypatch, proxy_lookups):
    monkeypatch.setenv("wss_proxy", "http://127.0.0.1:3128")
    proxy_for("wss://connect.example/connect?token=1")

    monkeypatch.setenv("wss_proxy", "http://127.0.0.1:8080")

    assert proxy_for("wss://connect.example/connect?token=2") == "http://127.0.0.1:3128"
