"""Business hours of a widget (time zone, weekly opening hours, holidays) and the address its
left messages are e-mailed to."""

import django.db.models.deletion
from django.db import migrations, models

import webwidget.models


class Migration(migrations.Migration):
    dependencies = [
        ("webwidget", "0008_connect_routing"),
    ]

    operations = [
        migrations.AddField(
            model_name="widget",
            name="notification_email",
            field=models.EmailField(
                blank=True,
                help_text="Where messages left outside business hours or at capacity are e-mailed (empty: none are e-mailed; they are in the admin and sent to the webhook).",
                max_length=254,
            ),
        ),
        migrations.AddField(
            model_name="widget",
            name="time_zone",
            field=models.CharField(
                default="UTC",
                help_text="The IANA time zone the opening hours and holidays are written in.",
                max_length=64,
                validators=[webwidget.models.validate_time_zone],
            ),
        ),
        migrations.CreateModel(
            name="Holiday",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("date", models.DateField()),
                ("name", models.CharField(blank=True, max_length=120)),
                (
                    "closed_from",
                    models.TimeField(
                        blank=True, help_text="Empty: from the start of the day.", null=True
                    ),
                ),
                (
                    "closed_until",
                    models.TimeField(
                        blank=True,
                        help_text="Empty: until the end of the day (00:00 too means midnight at its end).",
                        null=True,
                    ),
                ),
                (
                    "widget",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="holidays",
                        to="webwidget.widget",
                    ),
                ),
            ],
            options={
                "ordering": ["date"],
            },
        ),
        migrations.CreateModel(
            name="OpeningHours",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "weekday",
                    models.PositiveSmallIntegerField(
                        choices=[
                            (0, "Monday"),
                            (1, "Tuesday"),
                            (2, "Wednesday"),
                            (3, "Thursday"),
                            (4, "Friday"),
                            (5, "Saturday"),
                            (6, "Sunday"),
                        ]
                    ),
                ),
                ("opens", models.TimeField()),
                (
                    "closes",
                    models.TimeField(help_text="00:00 means midnight at the end of the day."),
                ),
                (
                    "widget",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="opening_hours",
                        to="webwidget.widget",
                    ),
                ),
            ],
            options={
                "verbose_name": "opening hours",
                "verbose_name_plural": "opening hours (none: open around the clock)",
                "ordering": ["weekday", "opens"],
            },
        ),
    ]
