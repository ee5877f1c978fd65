"""The widget's layout in real Chromium: the panel as it opens on a chat with history, new
messages scrolled into view (or announced), and a phone whose host page is wider than its
screen."""

import pytest
from playwright.sync_api import expect

from tests.webwidget.pages import FRAME, active_contact, bubbles, open_widget, send, start_chat

LONG = "\n".join(f"Line {n} of a long answer." for n in range(1, 31))


@pytest.fixture
def echo(emulator, widget_setup):
    widget_setup()
    emulator.configure(agent="echo", agent_join_delay=0, echo_delay=0.1)
    return emulator


def test_reopening_a_chat_with_history_keeps_the_header_in_view(page, live_server, echo):
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    for text in ("one", "two", "three", "four", "five", "six"):
        send(frame, text)
        expect(bubbles(frame, "agent").last).to_have_text(f"Echo: {text}")

    # A new tab (where the panel starts closed) holds the history before the panel opens, as on
    # a visit some time after the last one.
    page = page.context.new_page()
    page.goto(live_server.url + "/")
    frame = page.frame_locator(FRAME)
    expect(bubbles(frame, "agent")).to_have_count(6)
    panel = frame.locator(".cb-panel")
    panel.evaluate(
        "p => { window.panelScrolled = 0;"
        " p.addEventListener('scroll', () => { window.panelScrolled = p.scrollTop; }); }"
    )
    frame.locator(".cb-launcher").click()
    expect(frame.get_by_label("Message", exact=True)).to_be_focused()
    expect(panel).to_have_js_property("scrollTop", 0)
    assert panel.evaluate("() => window.panelScrolled") == 0
    # Header at the panel's top, composer at its bottom: nothing scrolled, no blank band.
    edges = panel.evaluate(
        """p => [p.getBoundingClientRect(), p.querySelector('.cb-header').getBoundingClientRect(),
                 p.querySelector('.cb-composer').getBoundingClientRect()]
              .map(r => [Math.round(r.top), Math.round(r.bottom)])"""
    )
    assert edges[1][0] == edges[0][0] and edges[2][1] == edges[0][1], edges


# The newest message in view from its start: its top inside the scroller, and either its end in
# view too or its top near the scroller's top (a message taller than the view).
NEWEST_SHOWN = """() => {
  const s = document.querySelector("iframe[title='Chat']").contentDocument
    .querySelector(".cb-scroll");
  const view = s.getBoundingClientRect();
  const last = s.querySelector(".cb-log").lastElementChild.getBoundingClientRect();
  return last.top >= view.top && (last.bottom <= view.bottom || last.top - view.top < 40);
}"""


def test_a_tall_new_message_is_scrolled_to_when_the_reader_is_at_the_bottom(
    page, live_server, emulator, widget_setup
):
    widget_setup()
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    contact = active_contact(emulator)
    emulator.agent_join(contact, "Sam")
    emulator.agent_message(contact, LONG)
    expect(bubbles(frame, "agent")).to_have_count(1)
    page.wait_for_function(NEWEST_SHOWN)
    expect(frame.locator(".cb-jump")).to_be_hidden()


def test_a_new_message_below_the_reader_is_announced_and_jumped_to(
    page, live_server, emulator, widget_setup
):
    widget_setup()
    frame = open_widget(page, live_server.url + "/")
    start_chat(frame)
    contact = active_contact(emulator)
    emulator.agent_join(contact, "Sam")
    emulator.agent_message(contact, LONG)
    expect(bubbles(frame, "agent")).to_have_count(1)
    scroller = frame.locator(".cb-scroll")
    scroller.evaluate("s => { s.scrollTop = 0; }")
    emulator.agent_message(contact, "Anything else?")
    expect(bubbles(frame, "agent")).to_have_count(2)
    jump = frame.get_by_role("button", name="New message")
    expect(jump).to_be_visible()
    assert scroller.evaluate("s => s.scrollTop") == 0
    jump.click()
    expect(jump).to_be_hidden()
    expect(bubbles(frame, "agent").last).to_be_in_viewport()


def test_on_a_phone_the_full_screen_panel_fits_the_screen_of_a_wide_host_page(
    browser, live_server, emulator, widget_setup
):
    widget_setup()
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        device_scale_factor=3,
    )  # fmt: skip
    page = context.new_page()
    try:
        page.goto(live_server.url + "/")
        page.evaluate("document.querySelector('header.site').style.minWidth = '443px'")
        frame = page.frame_locator(FRAME)
        frame.locator(".cb-launcher").click()
        start_chat(frame)
        screen = page.evaluate(
            "({w: visualViewport.width, h: visualViewport.height,"
            " x: visualViewport.offsetLeft, y: visualViewport.offsetTop})"
        )
        for name in (".cb-close", ".cb-composer", ".cb-send", ".cb-header"):
            box = frame.locator(name).bounding_box()
            assert box["x"] >= screen["x"] - 1, (name, box, screen)
            assert box["y"] >= screen["y"] - 1, (name, box, screen)
            assert box["x"] + box["width"] <= screen["x"] + screen["w"] + 1, (name, box, screen)
            assert box["y"] + box["height"] <= screen["y"] + screen["h"] + 1, (name, box, screen)
    finally:
        context.close()


def test_the_widget_loads_after_the_host_pages_load_event(page, live_server, widget_setup):
    widget_setup()
    page.goto(live_server.url + "/")
    expect(page.frame_locator(FRAME).locator(".cb-launcher")).to_be_visible()
    loaded, frame_requested = page.evaluate(
        """() => [performance.getEntriesByType("navigation")[0].loadEventStart,
                  performance.getEntriesByType("resource")
                    .find((e) => e.name.endsWith("/widget/default/frame")).startTime]"""
    )
    assert frame_requested >= loaded > 0


def test_fields_are_large_enough_not_to_zoom_and_header_buttons_are_touch_targets(
    page, live_server, widget_setup
):
    widget_setup(
        prechat_fields=[
            {"name": "name", "label": "Name", "type": "text", "required": True},
            {"name": "topic", "label": "Topic", "type": "select", "options": ["Orders"]},
            {"name": "more", "label": "More", "type": "textarea"},
        ]
    )
    frame = open_widget(page, live_server.url + "/")
    sizes = frame.locator(".cb-prechat :is(input, select, textarea), #cb-input").evaluate_all(
        "all => all.map((e) => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert len(sizes) == 4 and min(sizes) >= 16, sizes
    for name in ("Chat options", "Close chat"):
        box = frame.locator(".cb-header").get_by_role("button", name=name).bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, (name, box)


HITS_FRAME = """([x, y]) => document.elementFromPoint(x, y) === document.querySelector("iframe[title='Chat']")"""


def test_the_frame_leaves_the_host_pages_clicks_around_the_bubble_and_the_panel(
    page, live_server, widget_setup
):
    widget_setup()
    page.goto(live_server.url + "/")
    frame = page.frame_locator(FRAME)
    launcher = frame.locator(".cb-launcher")
    expect(launcher).to_be_visible()

    def hits(x: float, y: float) -> bool:
        return page.evaluate(HITS_FRAME, [x, y])

    def wait_for(x: float, y: float, hit: bool) -> None:
        page.wait_for_function(f"() => ({HITS_FRAME})([{x}, {y}]) === {str(hit).lower()}")

    closed = page.locator(FRAME).bounding_box()
    bubble = launcher.bounding_box()
    # The frame's corner, outside the round bubble, is the host page's.
    wait_for(closed["x"] + 3, closed["y"] + 3, False)
    assert hits(bubble["x"] + bubble["width"] / 2, bubble["y"] + bubble["height"] / 2)

    launcher.click()
    expect(frame.locator(".cb-panel")).to_be_visible()
    opened = page.locator(FRAME).bounding_box()
    panel = frame.locator(".cb-panel").bounding_box()
    # Beside the bubble, under the panel: the host page's; the panel: the frame's.
    wait_for(opened["x"] + 30, opened["y"] + opened["height"] - 30, False)
    assert not hits(opened["x"] + 3, opened["y"] + 3)
    assert hits(panel["x"] + panel["width"] / 2, panel["y"] + panel["height"] / 2)
    assert hits(panel["x"] + 2, panel["y"] + 20)


def test_the_title_is_centred_without_a_subtitle_and_full_screen_closes_with_a_cross(
    browser, live_server, widget_setup
):
    widget_setup()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/")
        frame = page.frame_locator(FRAME)
        frame.locator(".cb-launcher").click()
        expect(frame.locator(".cb-panel")).to_be_visible()
        header = frame.locator(".cb-header").bounding_box()
        title = frame.locator(".cb-title").bounding_box()
        middle = header["y"] + header["height"] / 2
        assert abs(title["y"] + title["height"] / 2 - middle) <= 1, (title, header)
        expect(frame.locator(".cb-close svg")).to_have_class("cb-icon cb-icon-close")
    finally:
        context.close()
