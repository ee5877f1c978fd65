"""net.js with closes.js: the two closes that are the server's word rather than a failure.

4012, the server restarting: the link comes back after a short wait spread by Math.random,
reports "restarting" rather than down, and its backoff does not grow; closed with 4012 again
before the chat was ready, it waits twice as long each time, up to eight times. 4029, too many
connections: it waits at least the retry_after of the refusal that came before the close,
reports "crowded", and its backoff does not grow either. The page's clock, Math.random and
WebSocket are the harness's fakes, as in test_net.py.
"""

import pytest
from playwright.sync_api import Page

from tests.webwidget.js.test_net import LinkUnderTest

CLOSER_TO_ONE = 1 - 2**-53


@pytest.fixture
def link(js: Page) -> LinkUnderTest:
    return LinkUnderTest(js)


def close(link: LinkUnderTest, code: int) -> None:
    link.run("(code) => sockets.last.drop(code)", code)


def refuse(link: LinkUnderTest, retry_after: float) -> None:
    """The server's answer to an auth over the chat's cap: the error, then the close."""
    link.receive(
        {
            "type": "error",
            "code": "too_many_connections",
            "message": "Too many live connections for this chat; close one and retry.",
            "retry_after": retry_after,
            "ref": "auth",
        }
    )
    close(link, 4029)


# ---- 4012: the server restarts ---------------------------------------------------------------


def test_a_server_restart_is_reported_restarting_not_down(link: LinkUnderTest) -> None:
    link.ready()
    close(link, 4012)
    assert link.statuses == ["up", "restarting"]


def test_a_server_restart_reconnects_after_a_quarter_second_at_the_soonest(
    link: LinkUnderTest,
) -> None:
    link.run("Math.random = () => 0")
    link.ready()
    close(link, 4012)
    assert link.reopens_after() == 250


def test_a_server_restart_reconnects_within_two_seconds_spread_by_math_random(
    link: LinkUnderTest,
) -> None:
    link.run("(r) => { Math.random = () => r; }", CLOSER_TO_ONE)
    link.ready()
    close(link, 4012)
    assert 1999 < link.reopens_after() <= 2000


def test_a_server_restart_does_not_count_as_a_failed_attempt(link: LinkUnderTest) -> None:
    link.ready()
    close(link, 4012)
    link.reopens_after()
    assert link.retry_in() == 500


def test_a_server_that_keeps_restarting_is_waited_for_twice_as_long_each_time(
    link: LinkUnderTest,
) -> None:
    link.run("Math.random = () => 0")
    link.ready()
    waits = []
    for _ in range(5):
        close(link, 4012)
        waits.append(link.reopens_after())
        link.accept()
    assert waits == [250, 500, 1000, 2000, 2000]


def test_a_chat_ready_again_comes_back_soon_after_the_next_restart(link: LinkUnderTest) -> None:
    link.run("Math.random = () => 0")
    link.ready()
    for _ in range(3):
        close(link, 4012)
        link.reopens_after()
        link.accept()
    link.receive({"type": "ready", "status": "active", "participant_id": "p1"})
    close(link, 4012)
    assert link.reopens_after() == 250


# ---- 4029: too many connections ---------------------------------------------------------------


def test_too_many_connections_is_reported_crowded(link: LinkUnderTest) -> None:
    link.accept()
    refuse(link, 30)
    assert link.statuses == ["crowded"]


def test_too_many_connections_waits_the_refusals_retry_after_at_the_soonest(
    link: LinkUnderTest,
) -> None:
    link.run("Math.random = () => 0")
    link.accept()
    refuse(link, 30)
    assert link.reopens_after() == 30000


def test_the_wait_after_too_many_connections_is_spread_up_to_half_as_long_again(
    link: LinkUnderTest,
) -> None:
    link.run("(r) => { Math.random = () => r; }", CLOSER_TO_ONE)
    link.accept()
    refuse(link, 30)
    assert 44999 < link.reopens_after() <= 45000


def test_too_many_connections_does_not_count_as_a_failed_attempt(link: LinkUnderTest) -> None:
    link.accept()
    refuse(link, 2)
    link.reopens_after()
    assert link.retry_in() == 500
