"""Messages customers leave when a widget is closed or at capacity, and who handled them.

The "Transcript viewer" group, the staff who answer customers, may read them and mark them
handled."""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

GROUP = "Transcript viewer"
PERMISSIONS = ["view_leftmessage", "handle_leftmessage"]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    if group is None:
        return
    Permission = apps.get_model("auth", "Permission")
    for codename in PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label="archive", codename=codename)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0008_continuity"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("view", "Viewed a transcript"),
                    ("live", "Watched a live chat"),
                    ("search", "Searched transcripts"),
                    ("export", "Exported transcripts"),
                    ("purge", "Purged transcripts"),
                    ("mail", "Mailed a transcript to its customer"),
                    ("handle", "Handled a left message"),
                ],
                max_length=16,
            ),
        ),
        migrations.CreateModel(
            name="LeftMessage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("widget_id", models.CharField(db_index=True, max_length=128)),
                ("name", models.CharField(max_length=120)),
                ("email", models.EmailField(max_length=254)),
                ("message", models.TextField()),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("outside_business_hours", "Outside business hours"),
                            ("at_capacity", "At capacity"),
                            ("other", "Other"),
                        ],
                        default="other",
                        max_length=32,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("open", "Open"), ("handled", "Handled")],
                        db_index=True,
                        default="open",
                        max_length=16,
                    ),
                ),
                ("created", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("handled_at", models.DateTimeField(blank=True, null=True)),
                (
                    "handled_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "left message",
                "ordering": ["-created"],
                "permissions": [("handle_leftmessage", "Can mark left messages handled")],
            },
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
