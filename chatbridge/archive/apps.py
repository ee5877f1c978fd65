from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "chatbridge.archive"
    label = "archive"
    verbose_name = "Transcript archive"
    default_auto_field = "django.db.models.BigAutoField"
