"""app.js with its link: the chat frame, loaded in a harness page with a stored session, its
websocket and clock faked. What the widget asks for on a reconnect (the events after the
highest seq it holds) and how its unsent messages go out again (with their first client_id).

The whole chat against a live server is tests/browser's; these pin the protocol details a
real network would make slow or flaky to reach.
"""

import json
from typing import Any

import pytest
from playwright.sync_api import Page

CONFIG = {
    "widget_id": "w1",
    "locale": "en",
    "title": "Chat",
    "greeting": "",
    "primary_color": "#1f6feb",
    "text_color": "#ffffff",
    "prechat_fields": [],
    "attachment_types": [],
    "allowed_origins": [],
    "position": "right",
}
SESSION = {
    "token": "session-token",
    "chat_id": "chat-1",
    "participant_id": "me",
    "display_name": "Ada",
}
OUTBOX_KEY = "chatbridge:w1:outbox:chat-1"

LOAD = """async ({ config, session, outbox }) => {
  const { FakeClock, FakeWebSocket, fixedRandom } = await import("/harness/fakes.js");
  window.clock = new FakeClock().install();
  window.sockets = FakeWebSocket.install();
  fixedRandom(0.5);
  localStorage.setItem("chatbridge:w1:session", JSON.stringify(session));
  if (outbox) localStorage.setItem(`chatbridge:w1:outbox:${session.chat_id}`,
    JSON.stringify(outbox));
  document.documentElement.dataset.config = JSON.stringify(config);
  await import("/static/webwidget/frame/app.js");
}"""


def agent_message(seq: int) -> dict[str, Any]:
    return {
        "type": "event",
        "seq": seq,
        "event": {
            "id": f"m{seq}",
            "type": "message",
            "content_type": "text/plain",
            "content": f"message {seq}",
            "participant_role": "AGENT",
            "participant_id": "agent",
            "display_name": "Sam",
            "absolute_time": f"2026-01-01T10:00:{seq:02d}Z",
            "attachments": [],
            "receipts": [],
        },
    }


class Widget:
    """The chat frame in the page; the test plays ChatBridge's side of its websocket."""

    def __init__(self, page: Page, outbox: list[dict[str, Any]] | None = None) -> None:
        self.page = page
        page.evaluate(LOAD, {"config": CONFIG, "session": SESSION, "outbox": outbox})

    def run(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    @property
    def sockets(self) -> int:
        return self.run("sockets.instances.length")

    def receive(self, *frames: dict[str, Any]) -> None:
        for frame in frames:
            self.run("(frame) => sockets.last.receive(frame)", frame)

    def connect(self, *events: dict[str, Any]) -> None:
        """The current socket opens, is ready, replays these events and says Connect is up."""
        self.run("sockets.last.accept()")
        self.receive({"type": "ready", "status": "active", "participant_id": "me"}, *events)
        self.receive({"type": "upstream", "status": "connected"})

    def auth(self, socket: int = -1) -> dict[str, Any]:
        return self.run("(i) => sockets.instances.at(i).sent[0]", socket)

    def sends(self, socket: int = -1) -> list[dict[str, Any]]:
        return self.run(
            "(i) => sockets.instances.at(i).sent.filter((frame) => frame.type === 'send')",
            socket,
        )

    def drop(self) -> None:
        self.run("sockets.last.drop()")

    def reconnect(self) -> None:
        """Waits out the backoff until the next socket opens."""
        count = self.sockets
        self.run("clock.tick(10000 * 1.3)")
        assert self.sockets == count + 1

    def write(self, text: str) -> None:
        self.run(
            """(text) => {
              document.querySelector("#cb-input").value = text;
              document.querySelector(".cb-composer").requestSubmit();
            }""",
            text,
        )

    def stored_outbox(self) -> list[dict[str, Any]] | None:
        stored = self.run("(key) => localStorage.getItem(key)", OUTBOX_KEY)
        return json.loads(stored) if stored else None


@pytest.fixture
def widget(js: Page) -> Widget:
    return Widget(js)


def test_the_first_connection_asks_for_every_event(widget: Widget) -> None:
    widget.connect()
    assert widget.auth() == {
        "type": "auth",
        "token": "session-token",
        "after": 0,
        "early_events": True,
        "ref": "auth",
    }


def test_a_reconnect_asks_only_for_the_events_after_the_highest_seq_received(
    widget: Widget,
) -> None:
    widget.connect(agent_message(1), agent_message(2))
    widget.receive(agent_message(5), agent_message(4))
    widget.drop()
    widget.reconnect()
    widget.connect()
    assert widget.auth()["after"] == 5
    assert widget.run("document.querySelectorAll('.cb-log .cb-msg').length") == 4


def early(seq: int) -> dict[str, Any]:
    """An agent's message as an early frame: its event, without its seq."""
    return {"type": "early", "event": agent_message(seq)["event"]}


def bubbles(widget: Widget) -> list[str]:
    return widget.run(
        "[...document.querySelectorAll('.cb-log .cb-bubble')].map((b) => b.textContent)"
    )


def test_an_early_event_is_shown_at_once(widget: Widget) -> None:
    widget.connect(agent_message(1))
    widget.receive(early(2))
    assert bubbles(widget) == ["message 1", "message 2"]


def test_a_reconnect_asks_after_the_highest_seq_logged_not_after_early_events(
    widget: Widget,
) -> None:
    widget.connect(agent_message(1))
    widget.receive(early(2), early(3), {"type": "logged", "id": "m2", "seq": 2})
    widget.drop()
    widget.reconnect()
    widget.connect()
    assert widget.auth()["after"] == 2


def test_an_early_event_that_comes_again_as_an_event_is_shown_once(widget: Widget) -> None:
    widget.connect(agent_message(1))
    widget.receive(early(2), agent_message(2))
    assert bubbles(widget) == ["message 1", "message 2"]
    widget.drop()
    widget.reconnect()
    widget.connect()
    assert widget.auth()["after"] == 2


def test_the_events_replayed_on_a_reconnect_are_shown_once(widget: Widget) -> None:
    widget.connect(agent_message(1), agent_message(2))
    widget.drop()
    widget.reconnect()
    widget.connect(agent_message(2), agent_message(3))
    bubbles = widget.run(
        "[...document.querySelectorAll('.cb-log .cb-bubble')].map((b) => b.textContent)"
    )
    assert bubbles == ["message 1", "message 2", "message 3"]


def test_a_message_left_unsent_by_an_earlier_page_goes_with_its_client_id_after_the_replay(
    js: Page,
) -> None:
    stored = {
        "client_id": "c-1",
        "content": "still there?",
        "content_type": "text/plain",
        "at": "2026-01-01T10:00:00Z",
    }
    widget = Widget(js, outbox=[stored])
    assert widget.run("document.querySelector('.cb-pending').textContent") == "still there?"
    widget.run("sockets.last.accept()")
    widget.receive({"type": "ready", "status": "active", "participant_id": "me"})
    assert widget.sends() == []
    widget.receive({"type": "upstream", "status": "connected"})
    assert widget.sends() == [
        {
            "type": "send",
            "content": "still there?",
            "content_type": "text/plain",
            "client_id": "c-1",
            "ref": "c-1",
        }
    ]


def test_a_message_written_while_disconnected_goes_after_the_reconnect_with_its_client_id(
    widget: Widget,
) -> None:
    widget.connect()
    widget.drop()
    widget.write("are you there?")
    [stored] = widget.stored_outbox() or []
    assert widget.sends() == []
    widget.reconnect()
    widget.connect()
    [sent] = widget.sends()
    assert (sent["client_id"], sent["content"]) == (stored["client_id"], "are you there?")


def test_a_message_written_during_the_replay_waits_for_its_end(widget: Widget) -> None:
    widget.run("sockets.last.accept()")
    widget.receive({"type": "ready", "status": "active", "participant_id": "me"})
    widget.receive(agent_message(1))
    widget.write("quick")
    assert widget.sends() == []
    widget.receive({"type": "upstream", "status": "connected"})
    assert [sent["content"] for sent in widget.sends()] == ["quick"]


def test_a_message_unacknowledged_when_the_link_dropped_goes_again_with_the_same_client_id(
    widget: Widget,
) -> None:
    widget.connect()
    widget.write("hello")
    [first] = widget.sends()
    widget.drop()
    widget.reconnect()
    widget.connect()
    assert [sent["client_id"] for sent in widget.sends()] == [first["client_id"]]


def test_an_ack_forgets_the_message_for_good(widget: Widget) -> None:
    widget.connect()
    widget.write("hello")
    [sent] = widget.sends()
    widget.receive({"type": "ack", "ref": sent["client_id"], "id": "m9", "seq": 9})
    assert widget.stored_outbox() is None
    widget.run("clock.tick(60000)")
    assert len(widget.sends(0)) == 1


def test_a_message_unanswered_for_fifteen_seconds_offers_a_retry_that_reconnects_at_once(
    widget: Widget,
) -> None:
    widget.connect()
    widget.write("anyone?")
    [first] = widget.sends()
    retry = ".cb-pending .cb-retry"
    assert widget.run(f"document.querySelector('{retry}')") is None
    widget.run("clock.tick(15000)")
    assert widget.run(f"document.querySelector('{retry}').textContent") == (
        "Not sent. Tap to retry"
    )
    widget.run(f"document.querySelector('{retry}').click()")
    assert widget.sockets == 2
    assert widget.run(f"document.querySelector('{retry}')") is None
    widget.connect()
    assert [sent["client_id"] for sent in widget.sends()] == [first["client_id"]]


def test_an_unanswered_message_checks_the_connection_and_a_silent_one_reconnects(
    widget: Widget,
) -> None:
    widget.connect()
    widget.write("anyone?")
    widget.run("clock.tick(15000)")
    assert widget.run("sockets.last.sent.at(-1)") == {"type": "ping"}
    widget.run("clock.tick(10000)")
    assert widget.run("document.querySelector('.cb-banner').textContent") == "Reconnecting…"


def test_a_message_written_while_offline_says_it_is_not_sent(widget: Widget) -> None:
    widget.connect()
    widget.run("dispatchEvent(new Event('offline'))")
    widget.write("offline words")
    assert widget.run("document.querySelector('.cb-pending .cb-retry').textContent") == (
        "Not sent. Tap to retry"
    )
    widget.run("dispatchEvent(new Event('online'))")
    widget.connect()
    assert [sent["content"] for sent in widget.sends()] == ["offline words"]
