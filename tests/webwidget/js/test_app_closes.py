"""app.js when the server closes its websocket on purpose, with the harness's fakes as in
test_app_link.py. Too many connections (4029): the customer reads why and what to do, keeps
the conversation, and may try again at once. A server restart (4012): nothing alarming is
shown, and messages wait quietly for the next process.
"""

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.webwidget.js.test_app_link import CONFIG, LOAD, SESSION, Widget, agent_message

NOTICE = ".cb-crowded"
RETRY = ".cb-pending .cb-retry"


def refuse(widget: Widget) -> None:
    """The server's answer to an auth over the chat's cap: the error, then the close."""
    widget.receive(
        {
            "type": "error",
            "code": "too_many_connections",
            "message": "Too many live connections for this chat; close one and retry.",
            "retry_after": 30,
            "ref": "auth",
        }
    )
    widget.run("sockets.last.drop(4029)")


def reconnecting(widget: Widget) -> Any:
    """The banner's words while the frame shows it (its stylesheet is not loaded here)."""
    return widget.run(
        "document.querySelector('.cb-root').classList.contains('cb-reconnecting')"
        " ? document.querySelector('.cb-banner').textContent : null"
    )


def shown(widget: Widget, selector: str) -> Any:
    return widget.run(
        "(selector) => { const node = document.querySelector(selector);"
        " return node && node.checkVisibility() ? node.textContent : null; }",
        selector,
    )


@pytest.fixture
def widget(js: Page) -> Widget:
    return Widget(js)


# ---- 4029: too many connections ---------------------------------------------------------------


def test_too_many_connections_tells_the_customer_to_close_another_tab(widget: Widget) -> None:
    widget.connect(agent_message(1))
    widget.drop()
    widget.reconnect()
    widget.run("sockets.last.accept()")
    refuse(widget)
    assert shown(widget, NOTICE) == (
        "This chat is open in too many tabs or windows. Close one to continue here.Continue here"
    )


def test_too_many_connections_keeps_the_conversation_on_screen(widget: Widget) -> None:
    widget.connect(agent_message(1), agent_message(2))
    widget.drop()
    widget.reconnect()
    widget.run("sockets.last.accept()")
    refuse(widget)
    assert widget.run("document.querySelectorAll('.cb-log .cb-msg').length") == 2


def test_too_many_connections_shows_its_notice_instead_of_reconnecting(widget: Widget) -> None:
    widget.connect()
    widget.drop()
    assert reconnecting(widget) == "Reconnecting…"
    widget.reconnect()
    widget.run("sockets.last.accept()")
    refuse(widget)
    assert reconnecting(widget) is None


class FrenchWidget(Widget):
    """The chat frame of a widget whose locale is French."""

    def __init__(self, page: Page) -> None:
        self.page = page
        page.evaluate(
            LOAD, {"config": {**CONFIG, "locale": "fr"}, "session": SESSION, "outbox": None}
        )


def test_the_too_many_connections_notice_speaks_the_widgets_language(js: Page) -> None:
    widget = FrenchWidget(js)
    widget.run("sockets.last.accept()")
    refuse(widget)
    assert shown(widget, f"{NOTICE} p") == (
        "Ce chat est ouvert dans trop d'onglets ou de fenêtres. Fermez-en un pour continuer ici."
    )


def test_continue_here_reconnects_at_once_and_the_notice_goes_once_connected(
    widget: Widget,
) -> None:
    widget.run("sockets.last.accept()")
    refuse(widget)
    widget.run(f"document.querySelector('{NOTICE} button').click()")
    assert widget.sockets == 2
    widget.connect()
    assert shown(widget, NOTICE) is None


def test_the_tab_coming_back_into_view_reconnects_at_once(widget: Widget) -> None:
    widget.run("sockets.last.accept()")
    refuse(widget)
    assert widget.run("document.visibilityState") == "visible"
    widget.run("document.dispatchEvent(new Event('visibilitychange'))")
    assert widget.sockets == 2


# ---- 4012: the server restarts --------------------------------------------------------------


def test_a_server_restart_shows_no_reconnecting_banner(widget: Widget) -> None:
    widget.connect()
    widget.run("sockets.last.drop(4012)")
    assert reconnecting(widget) is None
    assert shown(widget, NOTICE) is None


def test_a_message_written_during_a_server_restart_is_not_said_unsent_and_goes_after_it(
    widget: Widget,
) -> None:
    widget.connect()
    widget.run("sockets.last.drop(4012)")
    widget.write("still here")
    assert shown(widget, RETRY) is None
    widget.run("clock.tick(2000)")
    widget.connect()
    assert [sent["content"] for sent in widget.sends()] == ["still here"]


def test_a_message_unacknowledged_at_a_server_restart_goes_again_with_its_client_id(
    widget: Widget,
) -> None:
    widget.connect()
    widget.write("hello")
    [first] = widget.sends()
    widget.run("sockets.last.drop(4012)")
    assert shown(widget, RETRY) is None
    widget.run("clock.tick(2000)")
    widget.connect()
    assert [sent["client_id"] for sent in widget.sends()] == [first["client_id"]]
