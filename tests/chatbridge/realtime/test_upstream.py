"""The upstream's reconnect backoff: 1 s doubling to 30 s, each delay jittered by ±30 %."""

import pytest

from chatbridge.realtime.upstream import Backoff, UpstreamConfig


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
