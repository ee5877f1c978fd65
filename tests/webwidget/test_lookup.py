"""Widget lookups: one query per TTL per process, and a saved change seen at once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from webwidget.lookup import cached_widget, enabled_widget, enabled_widgets
from webwidget.models import Widget

pytestmark = pytest.mark.django_db


def test_a_widget_is_read_from_the_database_once():
    Widget.objects.create(widget_id="cached", name="Cached")
    with CaptureQueriesContext(connection) as first:
        assert enabled_widget("cached").widget_id == "cached"
    with CaptureQueriesContext(connection) as again:
        assert enabled_widget("cached").availability().open
    # The widget, its opening hours and its holidays; then nothing until the TTL ends.
    assert len(first) == 3
    assert len(again) == 0


def test_a_fresh_copy_is_found_without_the_database_and_a_missing_one_is_not():
    Widget.objects.create(widget_id="peeked", name="Peeked")
    assert cached_widget("peeked") == (False, None)
    enabled_widget("peeked")
    with CaptureQueriesContext(connection) as queries:
        found, widget = cached_widget("peeked")
    assert found and widget.widget_id == "peeked"
    assert len(queries) == 0


def test_saving_a_widget_is_seen_at_once():
    widget = Widget.objects.create(widget_id="toggled", name="Toggled")
    assert enabled_widget("toggled") is not None
    widget.enabled = False
    widget.save()
    assert enabled_widget("toggled") is None


def test_a_widget_created_after_a_miss_is_found():
    assert enabled_widget("later") is None
    Widget.objects.create(widget_id="later", name="Later")
    assert enabled_widget("later") is not None


def test_deleting_a_widget_is_seen_at_once():
    widget = Widget.objects.create(
        widget_id="gone", name="Gone", allowed_origins="https://shop.example"
    )
    assert "gone" in [w.widget_id for w in enabled_widgets()]
    widget.delete()
    assert "gone" not in [w.widget_id for w in enabled_widgets()]
