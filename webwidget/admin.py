"""The widgets' admin: each widget's page and the list say why a widget would be refused
where it runs (webwidget.origins), before a host page's console does."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse

from webwidget.models import Widget


@admin.register(Widget)
class WidgetAdmin(admin.ModelAdmin):
    list_display = ["name", "widget_id", "enabled", "runs_on", "require_identity", "updated_at"]
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
                        "logo_url", "locale", "texts"]},
        ),
        ("Pre-chat form and attachments", {"fields": ["prechat_fields", "attachment_types"]}),
        ("After the chat", {"fields": ["survey_scale"]}),
        ("Where it may run", {"fields": ["allowed_origins"]}),
        (
            "Amazon Connect routing",
            {"fields": ["contact_flow_id", "topic_flows", "connect_instance_id",
                        "connect_region"]},
        ),
        (
            "Server-side integration (secret)",
            {"fields": ["require_identity", "identity_secret", "webhook_url", "webhook_secret"]},
        ),
    ]  # fmt: skip

    @admin.display(description="Allowed origins")
    def runs_on(self, widget: Widget) -> str:
        try:
            origins = ", ".join(widget.origins()) or "none"
        except ValidationError:
            return "invalid"
        return f"settings: {origins}" if widget.follows_settings() else origins

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        if request.method == "GET":
            widget = self.get_object(request, object_id)
            if widget is not None:
                _tell(request, widget)
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if request.method == "GET":
            for widget in Widget.objects.filter(enabled=True):
                _tell(request, widget, only_warnings=True)
        return super().changelist_view(request, extra_context)


def _tell(request: HttpRequest, widget: Widget, *, only_warnings: bool = False) -> None:
    for finding in widget.origin_findings():
        if finding.level == "warning":
            messages.warning(request, f"{widget.name} ({widget.widget_id}): {finding.text}")
        elif not only_warnings:
            messages.info(request, f"{widget.name} ({widget.widget_id}): {finding.text}")
