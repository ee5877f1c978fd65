"""i18n.js: which language the widget speaks, its direction, and how words take values."""

import re
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.webwidget.js.conftest import Harness

I18N = "/static/webwidget/frame/i18n.js"


def pick(page: Page, configured: Any, languages: list[Any] | None = None) -> str:
    """pickLocale(configured, languages), or with the browser's own languages when None."""
    return page.evaluate(
        """async ([path, configured, languages]) => {
          const { pickLocale } = await import(path);
          return languages === null ? pickLocale(configured) : pickLocale(configured, languages);
        }""",
        [I18N, configured, languages],
    )


def say(page: Page, locale: str, key: str, params: dict[str, Any] | None = None) -> str:
    """translator(locale)(key, params)."""
    return page.evaluate(
        """async ([path, locale, key, params]) => {
          const { translator } = await import(path);
          const t = translator(locale);
          return params === null ? t(key) : t(key, params);
        }""",
        [I18N, locale, key, params],
    )


def translator_of(page: Page, locale: str) -> dict[str, str]:
    return page.evaluate(
        "async ([path, locale]) => { const t = (await import(path)).translator(locale);"
        " return { locale: t.locale, dir: t.dir }; }",
        [I18N, locale],
    )


# ---- choosing the language -------------------------------------------------------------------


def test_the_widgets_locale_wins_over_the_browsers_languages(shared_js: Page) -> None:
    assert pick(shared_js, "fr", ["ar", "en"]) == "fr"


@pytest.mark.parametrize("configured", ["fr-CA", "FR", "fr_BE", "fr-Latn-CH"])
def test_a_locale_with_a_region_or_in_capitals_is_its_language(
    shared_js: Page, configured: str
) -> None:
    assert pick(shared_js, configured, ["en"]) == "fr"


def test_a_configured_language_the_widget_lacks_is_english_not_the_browsers(
    shared_js: Page,
) -> None:
    assert pick(shared_js, "de", ["fr"]) == "en"


def test_auto_takes_the_first_browser_language_the_widget_speaks(shared_js: Page) -> None:
    assert pick(shared_js, "auto", ["de-DE", "ar-EG", "fr-FR", "en"]) == "ar"


@pytest.mark.parametrize("configured", [None, ""])
def test_no_configured_locale_means_auto(shared_js: Page, configured: Any) -> None:
    assert pick(shared_js, configured, ["fr-FR"]) == "fr"


@pytest.mark.parametrize("languages", [[], ["de", "ja-JP"], [None, ""]])
def test_auto_falls_back_to_english(shared_js: Page, languages: list[Any]) -> None:
    assert pick(shared_js, "auto", languages) == "en"


@pytest.mark.parametrize(("browser_locale", "expected"), [("fr-FR", "fr"), ("ar-EG", "ar")])
def test_auto_reads_the_browsers_languages_by_default(
    pages: Harness, browser_locale: str, expected: str
) -> None:
    assert pick(pages.open(locale=browser_locale), "auto") == expected


# ---- direction -----------------------------------------------------------------------------


def test_arabic_is_right_to_left(shared_js: Page) -> None:
    assert translator_of(shared_js, "ar") == {"locale": "ar", "dir": "rtl"}


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_english_and_french_are_left_to_right(shared_js: Page, locale: str) -> None:
    assert translator_of(shared_js, locale) == {"locale": locale, "dir": "ltr"}


@pytest.mark.parametrize("locale", ["he", "fa", "ur"])
def test_other_right_to_left_scripts_are_right_to_left_even_in_english_words(
    shared_js: Page, locale: str
) -> None:
    assert translator_of(shared_js, locale)["dir"] == "rtl"
    assert say(shared_js, locale, "send") == "Send"


# ---- words ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "Ada joined the chat"),
        ("fr", "Ada a rejoint le chat"),
        ("ar", "انضم Ada إلى المحادثة"),
    ],
)
def test_values_fill_their_placeholders(shared_js: Page, locale: str, expected: str) -> None:
    assert say(shared_js, locale, "joined", {"name": "Ada"}) == expected


def test_numbers_are_written_as_text(shared_js: Page) -> None:
    assert say(shared_js, "en", "unread", {"n": 3}) == "3 unread"


def test_a_missing_value_leaves_its_placeholder_empty(shared_js: Page) -> None:
    assert say(shared_js, "en", "joined") == " joined the chat"
    assert say(shared_js, "en", "joined", {"other": "x"}) == " joined the chat"


@pytest.mark.parametrize("name", ["{name}", "{n}", "$& $1 $$", "<b>x</b>"])
def test_a_value_is_inserted_as_it_is(shared_js: Page, name: str) -> None:
    assert say(shared_js, "en", "joined", {"name": name}) == f"{name} joined the chat"


def test_an_unknown_key_is_shown_as_the_key(shared_js: Page) -> None:
    assert say(shared_js, "fr", "noSuchWord") == "noSuchWord"


def test_an_unknown_locale_speaks_english(shared_js: Page) -> None:
    assert say(shared_js, "de", "send") == "Send"
    assert translator_of(shared_js, "de")["dir"] == "ltr"


def test_a_word_missing_in_a_language_is_said_in_english(js: Page) -> None:
    said = js.evaluate(
        """async (path) => {
          const { STRINGS, translator } = await import(path);
          delete STRINGS.fr.transcript;
          return [translator("fr")("transcript"), translator("fr")("send")];
        }""",
        I18N,
    )
    assert said == ["Download transcript", "Envoyer"]


def test_every_language_has_every_word_with_the_same_placeholders(shared_js: Page) -> None:
    tables: dict[str, dict[str, str]] = shared_js.evaluate(
        "async (path) => (await import(path)).STRINGS", I18N
    )
    english = tables["en"]
    for locale, table in tables.items():
        assert table.keys() == english.keys(), locale
        for key, words in table.items():
            placeholders = sorted(re.findall(r"\{(\w+)\}", words))
            assert placeholders == sorted(re.findall(r"\{(\w+)\}", english[key])), (locale, key)
