"""A widget's texts per language: the operator's, else the defaults' translations."""

import pytest
from django.core.exceptions import ValidationError

from webwidget.models import Widget
from webwidget.texts import validate_texts

NAME = {"name": "name", "label": "Name", "type": "text", "required": True}


def config(**fields) -> dict:
    return Widget(widget_id="shop", name="Shop", **fields).public_config()


def test_a_widget_left_as_created_speaks_french_and_arabic():
    texts = config(prechat_fields=[NAME])["texts"]
    assert texts["ar"] == {
        "title": "تحدث معنا",
        "greeting": "مرحبًا! كيف يمكننا مساعدتك؟",
        "labels": {"name": "الاسم"},
    }
    assert texts["fr"]["title"] == "Discutez avec nous"


def test_a_text_the_operator_changed_is_not_replaced_by_a_translation():
    texts = config(
        title="Kettle help",
        greeting="Ask us anything",
        prechat_fields=[{**NAME, "label": "Your name"}],
    )["texts"]
    assert "ar" not in texts and "fr" not in texts


def test_the_operators_texts_for_a_language_win():
    texts = config(
        title="Kettle help",
        prechat_fields=[NAME],
        texts={"ar": {"title": "مساعدة الغلايات", "labels": {"name": "اسمك"}}},
    )["texts"]
    assert texts["ar"]["title"] == "مساعدة الغلايات"
    assert texts["ar"]["labels"] == {"name": "اسمك"}
    assert texts["ar"]["greeting"] == "مرحبًا! كيف يمكننا مساعدتك؟"


def test_english_texts_apply_to_english_readers_only():
    texts = config(title="Aide", texts={"en": {"title": "Help"}})["texts"]
    assert texts["en"] == {"title": "Help"}
    assert "title" not in texts.get("fr", {})


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"French": {"title": "Aide"}},
        {"fr": "Aide"},
        {"fr": {"subtitle": "Aide"}},
        {"fr": {"title": "x" * 81}},
        {"fr": {"greeting": 3}},
        {"fr": {"labels": {"name": 3}}},
        {"fr": {"labels": ["Nom"]}},
    ],
)
def test_texts_the_frame_could_not_use_are_refused(bad):
    with pytest.raises(ValidationError):
        validate_texts(bad)


def test_texts_of_the_documented_shape_are_accepted():
    validate_texts({"fr": {"title": "Aide", "greeting": "Bonjour", "labels": {"name": "Nom"}}})
