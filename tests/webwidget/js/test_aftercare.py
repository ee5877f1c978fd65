"""aftercare.js: the address the e-mail form starts with, taken from the pre-chat answers."""

from typing import Any

from playwright.sync_api import Page

AFTERCARE = "/static/webwidget/frame/aftercare.js"
FIELDS = [
    {"name": "name", "type": "text"},
    {"name": "contact", "label": "Your e-mail", "type": "email"},
]


def prechat_email(page: Page, fields: Any, answers: dict[str, Any]) -> str:
    return page.evaluate(
        "async ([path, fields, answers]) => (await import(path)).prechatEmail(fields, answers)",
        [AFTERCARE, fields, answers],
    )


def test_the_forms_email_field_gives_the_address_whatever_its_name(shared_js: Page) -> None:
    answers = {"name": "Ada", "contact": " ada@example.com "}
    assert prechat_email(shared_js, FIELDS, answers) == "ada@example.com"


def test_without_an_email_field_an_identified_email_is_taken(shared_js: Page) -> None:
    assert prechat_email(shared_js, [FIELDS[0]], {"email": "kay@example.com"}) == "kay@example.com"


def test_no_address_anywhere_is_an_empty_field(shared_js: Page) -> None:
    assert prechat_email(shared_js, FIELDS, {"name": "Ada"}) == ""
    assert prechat_email(shared_js, None, {"email": 42}) == ""
