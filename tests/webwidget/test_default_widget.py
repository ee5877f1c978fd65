"""Migration 0002's `default` widget: anyone may start chats with an enabled widget, so it is
enabled only when the database is migrated with DEBUG on (development, `make run`)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("webwidget", "0001_widget")]
AFTER = [("webwidget", "0002_default_widget")]


@pytest.fixture
def migrate_with_debug(settings):
    """Migrates webwidget back before 0002, without a `default` widget, then forward through
    0002 with DEBUG as given; returns whether the widget came out enabled. The latest
    migrations are applied again afterwards."""
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("webwidget")

    def migrate(debug: bool) -> bool:
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        widgets = executor.loader.project_state(BEFORE).apps.get_model("webwidget", "Widget")
        widgets.objects.filter(widget_id="default").delete()
        settings.DEBUG = debug
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        widgets = executor.loader.project_state(AFTER).apps.get_model("webwidget", "Widget")
        return widgets.objects.get(widget_id="default").enabled

    yield migrate
    MigrationExecutor(connection).migrate(latest)


def test_with_debug_off_the_default_widget_is_created_disabled(migrate_with_debug):
    assert migrate_with_debug(False) is False


def test_with_debug_on_the_default_widget_is_created_enabled(migrate_with_debug):
    assert migrate_with_debug(True) is True
