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


BEFORE_FOLLOWING = [("webwidget", "0004_webhook_url_targets")]
FOLLOWING = [("webwidget", "0005_default_widget_follows_settings")]
OLD_DEMO_ORIGINS = "http://localhost:8000\nhttp://127.0.0.1:8000"


@pytest.fixture
def migrate_default_holding():
    """Migrates webwidget back before 0005, gives `default` the origins given, then forward
    through 0005; returns the origins it came out with. The latest migrations are applied
    again afterwards."""
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("webwidget")

    def migrate(origins: str) -> str:
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE_FOLLOWING)
        widgets = executor.loader.project_state(BEFORE_FOLLOWING).apps.get_model(
            "webwidget", "Widget"
        )
        widgets.objects.update_or_create(
            widget_id="default", defaults={"name": "Demo site", "allowed_origins": origins}
        )
        executor = MigrationExecutor(connection)
        executor.migrate(FOLLOWING)
        widgets = executor.loader.project_state(FOLLOWING).apps.get_model("webwidget", "Widget")
        return widgets.objects.get(widget_id="default").allowed_origins

    yield migrate
    MigrationExecutor(connection).migrate(latest)


def test_a_default_widget_holding_the_old_demo_origins_comes_to_follow_the_settings(
    migrate_default_holding,
):
    assert migrate_default_holding(OLD_DEMO_ORIGINS) == ""


def test_a_default_widget_given_other_origins_keeps_them(migrate_default_holding):
    assert migrate_default_holding("https://shop.example.com") == "https://shop.example.com"


def test_a_freshly_migrated_default_widget_follows_the_settings(migrate_with_debug, settings):
    migrate_with_debug(True)
    # Through 0005 and every later migration, so that the current model reads the table.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("webwidget"))
    from webwidget.models import Widget

    default = Widget.objects.get(widget_id="default")
    assert default.follows_settings()
    settings.CHATBRIDGE_ALLOWED_ORIGINS = ["http://127.0.0.1:9000"]
    assert default.origins() == ["http://127.0.0.1:9000"]
