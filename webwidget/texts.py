"""A widget's texts in each of the languages its frame speaks (English, French, Arabic).

The title, the greeting and the pre-chat form's labels are the operator's words, typed in one
language. A visitor whose language the widget speaks reads them in that language when the
operator wrote them for it (the widget's per-language texts), or, while a text is still the
English default it was created with, in the default's translation: a widget left as created
greets an Arabic browser in Arabic, not in English inside a right-to-left frame.
"""

import re
from typing import Any

from django.core.exceptions import ValidationError

DEFAULT_TITLE = "Chat with us"
DEFAULT_GREETING = "Hi! How can we help?"
LANGUAGES = ("en", "fr", "ar")
MAX_TITLE = 80
MAX_GREETING = 300
MAX_LABEL = 120

# The defaults' translations; labels by the English default label they translate.
DEFAULTS: dict[str, dict[str, Any]] = {
    "fr": {
        "title": "Discutez avec nous",
        "greeting": "Bonjour ! Comment pouvons-nous vous aider ?",
        "labels": {"Name": "Nom", "Email": "E-mail", "Phone": "Téléphone"},
    },
    "ar": {
        "title": "تحدث معنا",
        "greeting": "مرحبًا! كيف يمكننا مساعدتك؟",
        "labels": {"Name": "الاسم", "Email": "البريد الإلكتروني", "Phone": "الهاتف"},
    },
}

TEXTS_HELP = (
    'Texts per language, for visitors reading French or Arabic (or English): {"fr": {"title": '
    '"…", "greeting": "…", "labels": {"name": "Nom"}}}. Labels go by the pre-chat field\'s '
    "name. A title, greeting or label left at its English default is translated without this."
)

_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def validate_texts(value: object) -> None:
    """Refuse texts the frame could not use: they are typed as JSON in the admin."""
    if not isinstance(value, dict):
        raise ValidationError('Use an object of languages, like {"fr": {"title": "…"}}.')
    for language, words in value.items():
        if not _LANGUAGE.match(str(language)):
            raise ValidationError(f'"{language}" is not a language code like "fr" or "ar".')
        if not isinstance(words, dict) or set(words) - {"title", "greeting", "labels"}:
            raise ValidationError(
                f'"{language}" holds an object of "title", "greeting" and "labels" only.'
            )
        for key, limit in (("title", MAX_TITLE), ("greeting", MAX_GREETING)):
            if key in words and not (isinstance(words[key], str) and len(words[key]) <= limit):
                raise ValidationError(f'"{language}" "{key}": text of at most {limit} characters.')
        labels = words.get("labels", {})
        if not isinstance(labels, dict) or not all(
            isinstance(label, str) and len(label) <= MAX_LABEL for label in labels.values()
        ):
            raise ValidationError(
                f'"{language}" "labels": an object of field names and texts of at most '
                f"{MAX_LABEL} characters."
            )


def texts_by_language(
    title: str, greeting: str, fields: list[dict[str, Any]], texts: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """What the frame shows in each language: the operator's texts, else a default's
    translation where the text is still that default."""
    out: dict[str, dict[str, Any]] = {}
    for language in LANGUAGES:
        own = texts.get(language) if isinstance(texts, dict) else None
        own = own if isinstance(own, dict) else {}
        default = DEFAULTS.get(language, {})
        words: dict[str, Any] = {}
        for key, english in (("title", DEFAULT_TITLE), ("greeting", DEFAULT_GREETING)):
            if own.get(key):
                words[key] = own[key]
            elif default and (title if key == "title" else greeting) == english:
                words[key] = default[key]
        own_labels = own.get("labels") if isinstance(own.get("labels"), dict) else {}
        labels = {}
        for field in fields if isinstance(fields, list) else []:
            if not isinstance(field, dict) or not field.get("name"):
                continue
            name = str(field["name"])
            label = own_labels.get(name) or default.get("labels", {}).get(field.get("label"))
            if label:
                labels[name] = label
        if labels:
            words["labels"] = labels
        if words:
            out[language] = words
    return out
