"""net.js: the chat websocket kept alive. It authenticates with the last seq held, pings, and
reconnects after a backoff that doubles from half a second to ten, spread by ±30 %.

The page's clock, Math.random and WebSocket are the harness's fakes (harness/fakes.js): the
test plays the server and moves time, so nothing waits.
"""

from typing import Any

import pytest
from playwright.sync_api import Page

BACKOFF = """async ([attempt, random]) => {
  const { backoff } = await import("/static/webwidget/frame/net.js");
  return backoff(attempt, () => random);
}"""


def backoff(page: Page, attempt: int, random: float) -> float:
    return page.evaluate(BACKOFF, [attempt, random])


# ---- the backoff ---------------------------------------------------------------------------


def test_the_first_retry_waits_half_a_second(shared_js: Page) -> None:
    assert backoff(shared_js, 0, 0.5) == 500


def test_each_failed_attempt_doubles_the_wait(shared_js: Page) -> None:
    assert [backoff(shared_js, n, 0.5) for n in range(5)] == [500, 1000, 2000, 4000, 8000]


@pytest.mark.parametrize("attempt", [5, 6, 10, 50, 2000])
def test_the_wait_stops_growing_at_ten_seconds(shared_js: Page, attempt: int) -> None:
    assert backoff(shared_js, attempt, 0.5) == 10000


@pytest.mark.parametrize("attempt", [0, 3, 10])
def test_jitter_spreads_each_wait_from_seventy_to_a_hundred_and_thirty_percent(
    shared_js: Page, attempt: int
) -> None:
    middle = backoff(shared_js, attempt, 0.5)
    assert backoff(shared_js, attempt, 0) == pytest.approx(middle * 0.7)
    assert backoff(shared_js, attempt, 0.25) == pytest.approx(middle * 0.85)
    highest = backoff(shared_js, attempt, 1 - 2**-53)
    assert middle * 1.29 < highest < middle * 1.3


def test_jitter_never_takes_a_capped_wait_past_thirteen_seconds(shared_js: Page) -> None:
    assert backoff(shared_js, 40, 1 - 2**-53) < 13000


# ---- the link ------------------------------------------------------------------------------

START = """async () => {
  const { FakeClock, FakeWebSocket, fixedRandom } = await import("/harness/fakes.js");
  const { Link } = await import("/static/webwidget/frame/net.js");
  window.clock = new FakeClock().install();
  window.sockets = FakeWebSocket.install();
  fixedRandom(0.5);
  window.seen = { frames: [], statuses: [], after: 0 };
  window.link = new Link({
    token: "session-token",
    after: () => seen.after,
    onFrame: (frame) => seen.frames.push(frame),
    onStatus: (status) => seen.statuses.push(status),
  });
}"""


class LinkUnderTest:
    """A Link in the page, its sockets served by the test."""

    def __init__(self, page: Page) -> None:
        self.page = page
        page.evaluate(START)

    def run(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    @property
    def sockets(self) -> int:
        return self.run("sockets.instances.length")

    def url(self) -> str:
        return self.run("sockets.last.url")

    def sent(self, socket: int = -1) -> list[dict[str, Any]]:
        return self.run("(i) => sockets.instances.at(i).sent", socket)

    def accept(self) -> None:
        self.run("sockets.last.accept()")

    def receive(self, frame: Any) -> None:
        self.run("(frame) => sockets.last.receive(frame)", frame)

    def ready(self) -> None:
        """The server accepts the connection and answers its auth."""
        self.accept()
        self.receive({"type": "ready", "status": "active", "participant_id": "p1"})

    def drop(self, socket: int = -1) -> None:
        self.run("(i) => sockets.instances.at(i).drop()", socket)

    def tick(self, ms: float) -> None:
        self.run("(ms) => clock.tick(ms)", ms)

    def pending(self) -> list[float]:
        """Delays of the page's timers waiting, soonest first."""
        return self.run("clock.pending()")

    def send(self, frame: dict[str, Any]) -> bool:
        return self.run("(frame) => link.send(frame)", frame)

    @property
    def statuses(self) -> list[str]:
        return self.run("seen.statuses")

    @property
    def frames(self) -> list[dict[str, Any]]:
        return self.run("seen.frames")

    def set_after(self, seq: int) -> None:
        self.run("(seq) => { seen.after = seq; }", seq)

    def retry_in(self) -> float:
        """Drops the current socket and returns the wait before the next one opens, checking
        that nothing opens a moment before it."""
        self.drop()
        return self.reopens_after()

    def reopens_after(self) -> float:
        """The wait before the next socket opens, checking that none opens a moment before it."""
        count = self.sockets
        delay = min(self.pending())
        self.tick(delay - 1)
        assert self.sockets == count
        self.tick(1)
        assert self.sockets == count + 1
        return delay


@pytest.fixture
def link(js: Page) -> LinkUnderTest:
    return LinkUnderTest(js)


def test_it_opens_the_chat_websocket_of_the_pages_host(link: LinkUnderTest) -> None:
    assert link.sockets == 1
    host = link.run("location.host")
    assert link.url() == f"ws://{host}/ws/chat/"


def test_it_authenticates_first_with_the_token_and_the_last_seq_held(
    link: LinkUnderTest,
) -> None:
    link.set_after(7)
    link.accept()
    assert link.sent() == [
        {"type": "auth", "token": "session-token", "after": 7, "early_events": True, "ref": "auth"}
    ]


def test_nothing_is_sent_before_the_server_is_ready(link: LinkUnderTest) -> None:
    assert not link.send({"type": "typing"})
    link.accept()
    assert not link.send({"type": "typing"})
    link.receive({"type": "ready"})
    assert link.send({"type": "typing"})
    assert [frame["type"] for frame in link.sent()] == ["auth", "typing"]


def test_ready_reports_the_link_up_and_a_drop_reports_it_down(link: LinkUnderTest) -> None:
    link.ready()
    link.drop()
    assert link.statuses == ["up", "down"]
    assert not link.send({"type": "typing"})


def test_every_frame_reaches_the_page_and_garbage_is_ignored(link: LinkUnderTest) -> None:
    link.ready()
    link.receive("not json {")
    link.receive({"type": "event", "seq": 1})
    assert [frame["type"] for frame in link.frames] == ["ready", "event"]


def test_it_pings_every_twenty_five_seconds_while_open(link: LinkUnderTest) -> None:
    link.ready()
    link.tick(24999)
    assert link.sent()[-1]["type"] == "auth"
    link.tick(1)
    link.receive({"type": "pong"})
    link.tick(25000)
    assert [frame["type"] for frame in link.sent()] == ["auth", "ping", "ping"]


def test_a_ping_unanswered_for_ten_seconds_gives_the_socket_up_and_reconnects(
    link: LinkUnderTest,
) -> None:
    link.ready()
    link.tick(25000)
    link.tick(9999)
    assert link.statuses == ["up"]
    link.tick(1)
    assert link.statuses == ["up", "down"]
    assert link.run("sockets.instances[0].readyState") == 3
    assert not link.send({"type": "typing"})
    link.tick(500)
    assert link.sockets == 2


def test_any_frame_answers_a_ping(link: LinkUnderTest) -> None:
    link.ready()
    link.tick(25000)
    link.receive({"type": "event", "seq": 1})
    link.tick(10000)
    assert link.statuses == ["up"]
    assert link.sockets == 1


def test_a_check_pings_at_once(link: LinkUnderTest) -> None:
    link.ready()
    link.run("link.check()")
    assert link.sent()[-1] == {"type": "ping"}
    link.tick(10000)
    assert link.statuses == ["up", "down"]


def test_going_offline_reports_the_link_down_at_once(link: LinkUnderTest) -> None:
    link.ready()
    link.run("dispatchEvent(new Event('offline'))")
    assert link.statuses == ["up", "down"]
    assert not link.send({"type": "typing"})
    link.run("dispatchEvent(new Event('online'))")
    assert link.sockets == 2


def test_a_dropped_link_stops_pinging(link: LinkUnderTest) -> None:
    link.ready()
    link.drop()
    link.run("clock.timers.clear()")  # the reconnect, not under test here
    link.tick(100000)
    assert [frame["type"] for frame in link.sent(0)] == ["auth"]


def test_reconnects_wait_longer_each_failure_up_to_ten_seconds(link: LinkUnderTest) -> None:
    link.ready()
    waits = [link.retry_in() for _ in range(8)]
    assert waits == [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]


def test_a_connection_that_never_gets_ready_does_not_reset_the_backoff(
    link: LinkUnderTest,
) -> None:
    link.retry_in()
    link.accept()
    assert link.retry_in() == 1000


def test_a_ready_connection_starts_the_backoff_over(link: LinkUnderTest) -> None:
    for _ in range(4):
        link.retry_in()
    link.ready()
    assert link.retry_in() == 500


def test_the_reconnect_wait_is_spread_by_math_random(link: LinkUnderTest) -> None:
    link.run("Math.random = () => 0")
    assert link.retry_in() == 350
    link.run("Math.random = () => 0.75")
    assert link.retry_in() == 1000 * 1.15


def test_a_reconnect_asks_for_the_events_after_the_last_seq_held_then(
    link: LinkUnderTest,
) -> None:
    link.ready()
    link.set_after(41)
    link.retry_in()
    link.accept()
    assert link.sent()[0] == {
        "type": "auth",
        "token": "session-token",
        "after": 41,
        "early_events": True,
        "ref": "auth",
    }


def test_close_stops_for_good(link: LinkUnderTest) -> None:
    link.ready()
    link.run("link.close()")
    assert link.run("sockets.last.closedWith") == 1000
    assert link.pending() == []
    assert link.statuses == ["up"]
    assert not link.send({"type": "typing"})
    link.run("dispatchEvent(new Event('online'))")
    assert link.sockets == 1


def test_coming_back_online_reconnects_at_once_and_starts_the_backoff_over(
    link: LinkUnderTest,
) -> None:
    for _ in range(3):
        link.retry_in()
    link.drop()
    assert link.pending() == [4000]
    link.run("dispatchEvent(new Event('online'))")
    assert link.sockets == 5
    assert link.pending() == []
    assert link.retry_in() == 500


def test_coming_back_online_while_connected_changes_nothing(link: LinkUnderTest) -> None:
    link.ready()
    link.run("dispatchEvent(new Event('online'))")
    assert link.sockets == 1


def test_a_replaced_socket_closing_later_is_ignored(link: LinkUnderTest) -> None:
    link.ready()
    link.run("link.retryNow()")
    link.ready()
    link.drop(0)
    link.tick(10000)
    assert link.statuses == ["up", "up"]
    assert link.sockets == 2
    assert link.send({"type": "typing"})


def test_a_replaced_socket_closing_later_leaves_the_current_ones_pings(
    link: LinkUnderTest,
) -> None:
    link.ready()
    link.run("link.retryNow()")
    link.ready()
    link.drop(0)
    link.tick(25000)
    assert [frame["type"] for frame in link.sent()] == ["auth", "ping"]


def test_a_retry_now_closes_the_socket_it_replaces(link: LinkUnderTest) -> None:
    link.ready()
    link.run("link.retryNow()")
    assert link.run("sockets.instances[0].closedWith") == 1000
