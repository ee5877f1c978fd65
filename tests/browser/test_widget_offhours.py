"""A widget outside its business hours, in real Chromium: the panel says the team is away and
when it is back, and the customer leaves a message instead, checked in the browser, stored by
ChatBridge for staff."""

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.webwidget.pages import open_widget

WIDGET = "afterhours"


@pytest.fixture
def closed_widget(live_server) -> Iterator[None]:
    """A widget of its own (the other tests' `default` stays open), closed today and
    tomorrow (UTC): it next opens the day after, at midnight UTC."""
    port = live_server.url.rsplit(":", 1)[1]
    origins = "\n".join([live_server.url, f"http://localhost:{port}"])
    live_server.manage(
        "shell",
        "-c",
        "from datetime import UTC, datetime, timedelta; "
        "from webwidget.models import Holiday, Widget; "
        f"w = Widget.objects.create(widget_id={WIDGET!r}, name='After hours', locale='en', "
        f"allowed_origins={origins!r}, notification_email='team@example.com'); "
        "today = datetime.now(UTC).date(); "
        "[Holiday.objects.create(widget=w, date=today + timedelta(days=n)) for n in (0, 1)]",
    )
    yield
    live_server.manage(
        "shell",
        "-c",
        "from chatbridge.archive.models import LeftMessage; from webwidget.models import Widget; "
        f"Widget.objects.filter(widget_id={WIDGET!r}).delete(); "
        f"LeftMessage.objects.filter(widget_id={WIDGET!r}).delete()",
    )


def left_messages(live_server) -> list[dict]:
    # The shell prints a line of its own before the command's output: the JSON is the last.
    return json.loads(
        live_server.manage(
            "shell",
            "-c",
            "import json; from chatbridge.archive.models import LeftMessage; "
            "print(json.dumps(list(LeftMessage.objects.filter("
            f"widget_id={WIDGET!r}).values('name', 'email', 'message', 'reason', 'status'))))",
        ).splitlines()[-1]
    )


def test_outside_hours_the_customer_leaves_a_message_instead(page, live_server, closed_widget):
    frame = open_widget(page, f"{live_server.url}/?widget={WIDGET}")

    offer = frame.locator(".cb-leave")
    expect(offer).to_be_visible()
    expect(offer.get_by_role("heading")).to_have_text("We're away right now")
    expect(offer.locator(".cb-leave-when")).to_contain_text("We're back ")
    expect(frame.locator(".cb-prechat")).to_be_hidden()
    expect(frame.locator(".cb-composer")).to_be_hidden()
    # The first field has the focus, and each field is named by its label.
    expect(offer.get_by_label("Name")).to_be_focused()

    offer.get_by_label("Name").fill("Ada Lovelace")
    offer.get_by_label("E-mail").fill("ada@example")
    offer.get_by_label("Your message").fill("Please call me back about my order.")
    offer.get_by_role("button", name="Send message").click()
    email = offer.get_by_label("E-mail")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(offer.locator("#cb-leave-email-error")).to_have_text(
        "Enter an email address like name@example.com."
    )
    expect(email).to_be_focused()

    email.fill("ada@example.com")
    offer.get_by_role("button", name="Send message").click()

    expect(offer.get_by_role("status")).to_have_text(
        "Thank you! We received your message and will reply to ada@example.com."
    )
    assert left_messages(live_server) == [
        {
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "message": "Please call me back about my order.",
            "reason": "outside_business_hours",
            "status": "open",
        }
    ]


PASSWORD = "viewer-pass-1234"


def test_staff_see_the_message_as_an_open_request_and_mark_it_handled(
    page, live_server, closed_widget
):
    live_server.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "from chatbridge.archive.models import LeftMessage; "
        "from tests.chatbridge.archive.factories import viewer; "
        f"get_user_model().objects.filter(username='viewer').exists() or viewer('viewer', {PASSWORD!r}); "
        f"LeftMessage.objects.create(widget_id={WIDGET!r}, name='Grace Hopper', "
        "email='grace@example.com', message='Is the kettle in stock?', "
        "reason='outside_business_hours')",
    )
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{live_server.url}/admin/login/?next=/admin/archive/leftmessage/")
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    row = page.locator("#result_list tbody tr", has_text="Grace Hopper")
    expect(row).to_contain_text("grace@example.com")
    expect(row).to_contain_text("Outside business hours")
    row.get_by_role("checkbox").check()
    page.locator("select[name=action]").select_option("mark_handled")
    page.get_by_role("button", name="Go").click()

    expect(page.locator(".messagelist")).to_contain_text("1 message(s) marked handled.")
    expect(page.locator("#result_list tbody tr", has_text="Grace Hopper")).to_have_count(0)
    assert violations == []
