"""A widget to start with, embedded by the demo site that `make run` serves."""

from django.db import migrations


def create_default(apps, schema_editor):
    Widget = apps.get_model("webwidget", "Widget")
    Widget.objects.get_or_create(
        widget_id="default",
        defaults={
            "name": "Demo site",
            "allowed_origins": "http://localhost:8000\nhttp://127.0.0.1:8000",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("webwidget", "0001_widget")]
    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
