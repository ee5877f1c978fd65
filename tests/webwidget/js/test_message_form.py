"""message_form.js: which refused start calls for the leave-a-message offer, what the closed
and at-capacity views say (in the widget's language), the form's checks and its request, and
the return to the chat when the widget opens again. Its `api` is a function of the test's."""

import re

import pytest
from playwright.sync_api import Page

SETUP = """async ([locale]) => {
  const { FakeClock } = await import("/harness/fakes.js");
  const { translator } = await import("/static/webwidget/frame/i18n.js");
  const form = await import("/static/webwidget/frame/message_form.js");
  const { ApiError } = await import("/static/webwidget/frame/net.js");
  window.clock = new FakeClock().install();
  window.form = form;
  window.ApiError = ApiError;
  window.calls = [];
  window.answers = [];  // what the api answers next: a value, or an Error to throw
  window.reopened = [];
  const api = async (method, path, options = {}) => {
    calls.push({ method, path, body: options.body ?? null });
    const answer = answers.shift();
    if (answer instanceof Error) throw answer;
    return answer ?? {};
  };
  window.leave = new form.MessageForm({
    t: translator(locale), widgetId: "shop", api, onReopen: (a) => reopened.push(a),
  });
  document.body.append(leave.el);
}"""


def setup(page: Page, locale: str = "en") -> Page:
    page.evaluate(SETUP, [locale])
    return page


@pytest.fixture
def page(pages) -> Page:
    return setup(pages.open())


def text(page: Page, selector: str) -> str:
    return page.evaluate("(s) => leave.el.querySelector(s).textContent", selector)


def visible(page: Page, selector: str) -> bool:
    return page.evaluate("(s) => !leave.el.querySelector(s).hidden", selector)


def fill(page: Page, **values: str) -> None:
    page.evaluate(
        "(values) => { for (const [k, v] of Object.entries(values))"
        " leave.form.elements.namedItem(k).value = v; }",
        values,
    )


def test_a_refused_start_is_offered_the_form_when_closed_or_at_capacity(pages):
    page = pages.open()
    offers = page.evaluate(
        """async () => {
          const { offerFor } = await import("/static/webwidget/frame/message_form.js");
          const { ApiError } = await import("/static/webwidget/frame/net.js");
          const refused = (status, code) => offerFor(new ApiError(status, { code }));
          return [refused(409, "outside_business_hours"), refused(503, "at_capacity"),
                  refused(503, "upstream_unavailable"), refused(429, "at_capacity"),
                  refused(429, "rate_limited"), offerFor(null)];
        }"""
    )
    assert offers == ["outside_business_hours", "at_capacity", None, None, None, None]


def test_the_closed_view_says_when_the_team_is_back(page):
    page.evaluate(
        "leave.show(form.CLOSED, { nextOpen: new Date(Date.now() + 3 * 86400000).toISOString() })"
    )
    assert text(page, ".cb-leave-title") == "We're away right now"
    assert text(page, ".cb-leave-when").startswith("We're back ")
    assert not visible(page, ".cb-btn.cb-quiet")  # no "try again" while closed


def test_the_at_capacity_view_says_so_and_offers_to_try_again(page):
    page.evaluate("leave.show(form.AT_CAPACITY)")
    assert text(page, ".cb-leave-title") == "All our agents are busy"
    assert text(page, ".cb-leave-when") == "No one can take a new chat right now."
    page.evaluate("leave.retry.click()")
    assert page.evaluate("reopened.length") == 1


def test_the_views_speak_the_widgets_language(pages):
    page = setup(pages.open(), "fr")
    page.evaluate("leave.show(form.CLOSED, {})")
    assert text(page, ".cb-leave-title") == "Nous sommes absents pour le moment"
    assert text(page, "button[type=submit]") == "Envoyer le message"


def test_a_bad_email_address_is_refused_in_the_browser(page):
    page.evaluate("leave.show(form.CLOSED, {})")
    fill(page, name="Ada", email="ada@", message="Call me")
    assert page.evaluate("leave.submit()") is False
    assert page.evaluate("calls.length") == 0
    assert (
        page.evaluate("leave.form.elements.namedItem('email').getAttribute('aria-invalid')")
        == "true"
    )
    assert text(page, "#cb-leave-email-error") == "Enter an email address like name@example.com."


def test_a_message_is_sent_with_its_reason_and_acknowledged(page):
    page.evaluate("leave.show(form.AT_CAPACITY, { name: 'Ada' })")
    fill(page, email="ada@example.com", message="  Please call me back.  ")
    assert page.evaluate("leave.submit()") is True
    assert page.evaluate("calls") == [
        {
            "method": "POST",
            "path": "/api/v1/widgets/shop/messages",
            "body": {
                "name": "Ada",
                "email": "ada@example.com",
                "message": "Please call me back.",
                "reason": "at_capacity",
            },
        }
    ]
    assert not visible(page, ".cb-leave-form") and visible(page, ".cb-leave-done")
    assert "ada@example.com" in text(page, ".cb-leave-done")


def test_a_field_the_server_refuses_is_marked(page):
    page.evaluate("leave.show(form.CLOSED, {})")
    fill(page, name="Ada", email="ada@example.com", message="Hi")
    page.evaluate(
        "answers.push(new ApiError(422, { code: 'invalid_input', field: 'email',"
        " detail: 'email: Enter an e-mail address like name@example.com.' }))"
    )
    assert page.evaluate("leave.submit()") is False
    assert "e-mail address" in text(page, "#cb-leave-email-error")
    assert visible(page, ".cb-leave-form")


def test_the_chat_comes_back_when_the_widget_opens_again(page):
    page.evaluate(
        "leave.show(form.CLOSED, { nextOpen: new Date(Date.now() + 3600000).toISOString() })"
    )
    page.evaluate("answers.push({ availability: { open: true, next_open: null } })")
    page.evaluate("clock.tick(3600000 + 60000)")
    page.wait_for_function("reopened.length === 1")
    assert page.evaluate("calls.map((c) => c.method + ' ' + c.path)") == [
        "GET /api/v1/widgets/shop/config"
    ]


def test_every_language_has_every_word_of_the_form_with_the_same_placeholders(pages):
    page = pages.open()
    tables = page.evaluate(
        """async () => {
          const { STRINGS } = await import("/static/webwidget/frame/i18n.js");
          await import("/static/webwidget/frame/message_form.js");
          return STRINGS;
        }"""
    )
    words = ["awayTitle", "backAt", "busyTitle", "busyText", "leaveIntro", "yourName",
             "yourEmail", "yourMessage", "sendMessage", "messageSent", "tryAgain", "tooLong"]  # fmt: skip
    for lang in ("en", "fr", "ar"):
        for word in words:
            text = tables[lang][word]
            assert text and sorted(re.findall(r"\{(\w+)\}", text)) == sorted(
                re.findall(r"\{(\w+)\}", tables["en"][word])
            ), (lang, word)
