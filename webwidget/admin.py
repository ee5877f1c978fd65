from django.contrib import admin
from django.db import models

from webwidget.models import Widget


@admin.register(Widget)
class WidgetAdmin(admin.ModelAdmin):
    list_display = ["name", "widget_id", "enabled", "require_identity", "updated_at"]
    list_filter = ["enabled", "require_identity"]
    search_fields = ["name", "widget_id"]
    prepopulated_fields = {"widget_id": ["name"]}
    # A URL typed without a scheme is an https one: webhooks must use https in production.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["name", "widget_id", "enabled"]}),
        (
            "Appearance",
            {"fields": ["title", "greeting", "primary_color", "text_color", "position",
                        "logo_url", "locale"]},
        ),
        ("Pre-chat form and attachments", {"fields": ["prechat_fields", "attachment_types"]}),
        ("Where it may run", {"fields": ["allowed_origins"]}),
        (
            "Server-side integration (secret)",
            {"fields": ["require_identity", "identity_secret", "webhook_url", "webhook_secret"]},
        ),
    ]  # fmt: skip
