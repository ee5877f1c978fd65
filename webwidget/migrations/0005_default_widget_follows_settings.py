"""The `default` widget follows the configured origins instead of the demo's fixed ones.

0002 created it for http://localhost:8000 and http://127.0.0.1:8000 only, so on any other
host or port browsers refused its frame. A `default` widget that still holds exactly those
origins is emptied, and an empty list means CHATBRIDGE_ALLOWED_ORIGINS and
CHATBRIDGE_PUBLIC_ORIGIN, resolved at run time (webwidget.origins). One whose operator listed
other origins keeps them. Reversing puts the old origins back on a `default` that follows.
"""

from django.db import migrations, models

OLD_DEMO_ORIGINS = "http://localhost:8000\nhttp://127.0.0.1:8000"


def follow_settings(apps, schema_editor):
    Widget = apps.get_model("webwidget", "Widget")
    alias = schema_editor.connection.alias
    Widget.objects.using(alias).filter(
        widget_id="default", allowed_origins__in=[OLD_DEMO_ORIGINS, OLD_DEMO_ORIGINS + "\n"]
    ).update(allowed_origins="")


def fixed_demo_origins(apps, schema_editor):
    Widget = apps.get_model("webwidget", "Widget")
    alias = schema_editor.connection.alias
    Widget.objects.using(alias).filter(widget_id="default", allowed_origins="").update(
        allowed_origins=OLD_DEMO_ORIGINS
    )


class Migration(migrations.Migration):
    dependencies = [("webwidget", "0004_webhook_url_targets")]
    operations = [
        migrations.AlterField(
            model_name="widget",
            name="allowed_origins",
            field=models.TextField(
                blank=True,
                help_text="Origins of the sites that may embed this widget or call the API for "
                "it, one per line (https://www.example.com). Empty: the sites of the "
                "CHATBRIDGE_ALLOWED_ORIGINS and CHATBRIDGE_PUBLIC_ORIGIN settings, as they are "
                "set.",
            ),
        ),
        migrations.RunPython(follow_settings, fixed_demo_origins),
    ]
