"""A widget to start with, embedded by the demo site that `make run` serves.

Anyone may start Connect chats with an enabled widget, so `default` is enabled only where
DEBUG is on (development, `make run`); a deployment migrated with DEBUG off gets it disabled,
to be enabled or replaced by its operator in the admin (docs/deployment.md).
"""

from django.conf import settings
from django.db import migrations

DEMO_ORIGINS = "http://localhost:8000\nhttp://127.0.0.1:8000"


def create_default(apps, schema_editor):
    Widget = apps.get_model("webwidget", "Widget")
    Widget.objects.using(schema_editor.connection.alias).get_or_create(
        widget_id="default",
        defaults={
            "name": "Demo site",
            "allowed_origins": DEMO_ORIGINS,
            "enabled": bool(settings.DEBUG),
        },
    )


class Migration(migrations.Migration):
    dependencies = [("webwidget", "0001_widget")]
    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
