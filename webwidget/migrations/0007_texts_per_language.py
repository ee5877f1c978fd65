"""A widget's texts per language: its title, greeting and form labels as visitors reading
French or Arabic see them (webwidget/texts.py)."""

from django.db import migrations, models

import webwidget.texts


class Migration(migrations.Migration):
    dependencies = [
        ("webwidget", "0006_widget_survey_scale"),
    ]

    operations = [
        migrations.AddField(
            model_name="widget",
            name="texts",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text='Texts per language, for visitors reading French or Arabic (or English): {"fr": {"title": "…", "greeting": "…", "labels": {"name": "Nom"}}}. Labels go by the pre-chat field\'s name. A title, greeting or label left at its English default is translated without this.',
                validators=[webwidget.texts.validate_texts],
                verbose_name="texts per language",
            ),
        ),
    ]
