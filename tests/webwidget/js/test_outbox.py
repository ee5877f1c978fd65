"""outbox.js: the customer's messages not yet acknowledged, each sent (and sent again) with
the client_id it was given when written, so that ChatBridge can make every resend idempotent.

The page's clock is the harness's fake; the link is a function the test switches up and down.
"""

from typing import Any

import pytest
from playwright.sync_api import Page

START = """async () => {
  const { FakeClock } = await import("/harness/fakes.js");
  const { Outbox } = await import("/static/webwidget/frame/outbox.js");
  window.clock = new FakeClock().install();
  window.wire = { up: true, frames: [], retrying: [] };
  window.outbox = new Outbox({
    send: (frame) => wire.up && wire.frames.push(frame) > 0,
    onRetrying: (item) => wire.retrying.push(item.client_id),
  });
  window.message = (id) => ({ client_id: id, content: `text of ${id}`, content_type: "text/plain",
    at: "2026-01-01T10:00:00Z" });
}"""


class OutboxUnderTest:
    def __init__(self, page: Page) -> None:
        self.page = page
        page.evaluate(START)

    def run(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def write(self, *client_ids: str) -> None:
        """The customer writes messages: each goes in the outbox, which is flushed."""
        for client_id in client_ids:
            self.run("(id) => { outbox.push(message(id)); outbox.flush(); }", client_id)

    def sent(self) -> list[str]:
        """The client_id of each send frame, in the order sent."""
        return self.run("wire.frames.map((frame) => frame.client_id)")

    def link(self, up: bool) -> None:
        self.run("(up) => { wire.up = up; }", up)

    def tick(self, ms: float) -> None:
        self.run("(ms) => clock.tick(ms)", ms)

    def waiting(self) -> list[str]:
        return self.run("outbox.items.map((item) => item.client_id)")


@pytest.fixture
def outbox(js: Page) -> OutboxUnderTest:
    return OutboxUnderTest(js)


def test_a_message_goes_out_with_its_client_id_as_id_and_ref(outbox: OutboxUnderTest) -> None:
    outbox.write("c1")
    assert outbox.run("wire.frames") == [
        {
            "type": "send",
            "content": "text of c1",
            "content_type": "text/plain",
            "client_id": "c1",
            "ref": "c1",
        }
    ]


def test_messages_go_out_in_the_order_written(outbox: OutboxUnderTest) -> None:
    outbox.link(False)
    outbox.write("c1", "c2", "c3")
    outbox.link(True)
    outbox.run("outbox.flush()")
    assert outbox.sent() == ["c1", "c2", "c3"]


def test_a_message_awaiting_its_ack_is_not_sent_again_by_the_next_flush(
    outbox: OutboxUnderTest,
) -> None:
    outbox.write("c1")
    outbox.write("c2")
    assert outbox.sent() == ["c1", "c2"]


def test_a_message_written_while_the_link_is_down_waits_for_a_flush(
    outbox: OutboxUnderTest,
) -> None:
    outbox.link(False)
    outbox.write("c1")
    outbox.tick(60000)
    assert outbox.sent() == []
    outbox.link(True)
    outbox.run("outbox.flush()")
    assert outbox.sent() == ["c1"]


def test_a_message_unanswered_for_fifteen_seconds_goes_again_with_the_same_client_id(
    outbox: OutboxUnderTest,
) -> None:
    outbox.write("c1")
    outbox.tick(14999)
    assert outbox.run("wire.retrying") == []
    outbox.tick(1)
    assert outbox.run("wire.retrying") == ["c1"]
    outbox.tick(999)
    assert outbox.sent() == ["c1"]
    outbox.tick(1)
    assert outbox.sent() == ["c1", "c1"]


def test_it_keeps_trying_every_sixteen_seconds_while_no_ack_comes(
    outbox: OutboxUnderTest,
) -> None:
    outbox.write("c1")
    outbox.tick(16000 * 3)
    assert outbox.sent() == ["c1"] * 4


def test_an_ack_takes_the_message_out_and_stops_waiting_for_it(outbox: OutboxUnderTest) -> None:
    outbox.write("c1", "c2")
    taken = outbox.run("outbox.acknowledge('c1').client_id")
    assert taken == "c1"
    assert outbox.waiting() == ["c2"]
    outbox.run("outbox.acknowledge('c2')")
    assert outbox.run("clock.pending()") == []
    outbox.tick(60000)
    assert outbox.sent() == ["c1", "c2"]


def test_an_ack_for_something_else_takes_nothing_out(outbox: OutboxUnderTest) -> None:
    outbox.write("c1")
    assert outbox.run("outbox.acknowledge('typing')") is None
    assert outbox.waiting() == ["c1"]


def test_a_retry_waits_the_seconds_the_server_asked_for(outbox: OutboxUnderTest) -> None:
    outbox.write("c1")
    outbox.run("outbox.retryLater(outbox.find('c1'), 3)")
    assert outbox.run("wire.retrying") == ["c1"]
    outbox.tick(2999)
    assert outbox.sent() == ["c1"]
    outbox.tick(1)
    assert outbox.sent() == ["c1", "c1"]


@pytest.mark.parametrize("seconds", [0, 0.2, -5])
def test_a_retry_waits_at_least_a_second(outbox: OutboxUnderTest, seconds: float) -> None:
    outbox.write("c1")
    outbox.run("(s) => outbox.retryLater(outbox.find('c1'), s)", seconds)
    outbox.tick(999)
    assert outbox.sent() == ["c1"]
    outbox.tick(1)
    assert outbox.sent() == ["c1", "c1"]


def test_a_retry_replaces_the_wait_for_the_ack(outbox: OutboxUnderTest) -> None:
    outbox.write("c1")
    outbox.tick(10000)
    outbox.run("outbox.retryLater(outbox.find('c1'), 30)")
    outbox.tick(29999)
    assert outbox.sent() == ["c1"]


@pytest.mark.parametrize(
    "code", ["rate_limited", "throttled", "upstream_unavailable", "internal_error"]
)
def test_errors_that_mean_not_now_are_retried(shared_js: Page, code: str) -> None:
    assert shared_js.evaluate(
        "async (code) => (await import('/static/webwidget/frame/outbox.js')).retryable(code)", code
    )


@pytest.mark.parametrize(
    "code", ["invalid_frame", "too_long", "chat_ended", "unknown_chat", "forbidden", ""]
)
def test_errors_that_mean_never_are_not_retried(shared_js: Page, code: str) -> None:
    assert not shared_js.evaluate(
        "async (code) => (await import('/static/webwidget/frame/outbox.js')).retryable(code)", code
    )


def test_a_refused_message_is_discarded(outbox: OutboxUnderTest) -> None:
    outbox.write("c1", "c2")
    outbox.run("outbox.discard(outbox.find('c1'))")
    assert outbox.waiting() == ["c2"]


def test_what_a_reload_keeps_is_each_message_without_its_sending_state(
    outbox: OutboxUnderTest,
) -> None:
    assert outbox.run("outbox.stored()") is None
    outbox.write("c1")
    assert outbox.run("outbox.find('c1').inflight")
    assert outbox.run("outbox.stored()") == [
        {
            "client_id": "c1",
            "content": "text of c1",
            "content_type": "text/plain",
            "at": "2026-01-01T10:00:00Z",
        }
    ]


def test_after_a_reload_the_stored_messages_go_out_with_their_client_ids(
    outbox: OutboxUnderTest,
) -> None:
    outbox.write("c1", "c2")
    outbox.run(
        """() => {
          const stored = JSON.parse(JSON.stringify(outbox.stored()));
          wire.frames = [];
          outbox.reset(stored);
          outbox.flush();
        }"""
    )
    assert outbox.sent() == ["c1", "c2"]


def test_a_reset_forgets_the_messages(outbox: OutboxUnderTest) -> None:
    outbox.link(False)
    outbox.write("c1")
    outbox.run("outbox.reset()")
    outbox.link(True)
    outbox.run("outbox.flush()")
    assert outbox.sent() == []
    assert outbox.run("outbox.stored()") is None
