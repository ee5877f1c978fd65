"""Driving the widget in a browser page: helpers shared by tests/browser/test_widget_*.py."""

from playwright.sync_api import FrameLocator, Page, expect

FRAME = "iframe[title='Chat']"


def widget_frame(page: Page) -> FrameLocator:
    return page.frame_locator(FRAME)


# Whether the panel was open on this tab's previous page, which the widget reopens it for.
WAS_OPEN = "() => Object.keys(sessionStorage).some((k) => k.endsWith(':open') && sessionStorage[k] === '1')"


def open_widget(page: Page, url: str) -> FrameLocator:
    """Loads a host page carrying the widget and opens the chat panel (unless the widget
    reopens it itself, open on this tab's previous page)."""
    page.goto(url)
    frame = widget_frame(page)
    if not frame.locator("html").evaluate(WAS_OPEN):
        frame.locator(".cb-launcher").click()
    expect(frame.locator(".cb-panel")).to_be_visible()
    return frame


def start_chat(frame: FrameLocator, name: str = "Ada Lovelace", email: str = "") -> None:
    frame.get_by_label("Name").fill(name)
    if email:
        frame.get_by_label("Email").fill(email)
    frame.get_by_role("button", name="Start chat").click()
    expect(frame.locator(".cb-composer")).to_be_visible()
    expect(frame.locator(".cb-prechat")).to_be_hidden()


def send(frame: FrameLocator, text: str) -> None:
    box = frame.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def bubbles(frame: FrameLocator, who: str | None = None):
    """Logged messages (not pending ones); who: "me", "agent" or "bot"."""
    selector = ".cb-log .cb-msg" + (f".cb-from-{who}" if who else "")
    return frame.locator(f"{selector} .cb-bubble")


def active_contact(emulator) -> str:
    """The emulator's one active contact (call once the widget shows the chat started)."""
    active = [c for c in emulator.contacts() if c["status"] == "ACTIVE"]
    assert len(active) == 1, active
    return active[0]["contact_id"]
