"""The widgets' admin: each widget's page and the list say why a widget would be refused
where it runs (webwidget.origins), before a host page's console does.

Business hours are edited on the widget's page: its time zone (a list of IANA names), then
one row per opening interval of a weekday and one row per holiday, with Django's own time and
date pickers, each row checked, and overlapping intervals of a day refused."""

from zoneinfo import available_timezones

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse

from webwidget.models import Holiday, OpeningHours, Widget


class OpeningHoursFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        """Refuses two intervals of one weekday that overlap: one of them is a typo."""
        super().clean()
        by_day: dict[int, list[tuple[object, object]]] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or form.errors:
                continue
            opens, closes = data.get("opens"), data.get("closes")
            if opens is None or closes is None:
                continue
            end = (
                (24, 0) if closes.hour == 0 and closes.minute == 0 else (closes.hour, closes.minute)
            )
            span = ((opens.hour, opens.minute), end)
            for other in by_day.get(data["weekday"], []):
                if span[0] < other[1] and other[0] < span[1]:
                    raise ValidationError(
                        f"Two intervals of {OpeningHours.Weekday(data['weekday']).label} overlap: "
                        "merge them into one."
                    )
            by_day.setdefault(data["weekday"], []).append(span)


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    formset = OpeningHoursFormSet
    extra = 0
    fields = ["weekday", "opens", "closes"]


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0
    fields = ["date", "name", "closed_from", "closed_until"]


@admin.register(Widget)
class WidgetAdmin(admin.ModelAdmin):
    inlines = [OpeningHoursInline, HolidayInline]
    list_display = [
        "name",
        "widget_id",
        "enabled",
        "open_now",
        "runs_on",
        "require_identity",
        "updated_at",
    ]
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
            "Business hours and left messages",
            {"fields": ["time_zone", "notification_email"],
             "description": "Opening hours and holidays are below; without opening hours the "
                            "widget is open around the clock, holidays aside. Outside them the "
                            "widget offers a form to leave a message."},
        ),
        (
            "Server-side integration (secret)",
            {"fields": ["require_identity", "identity_secret", "webhook_url", "webhook_secret"]},
        ),
    ]  # fmt: skip

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        """The time zone as a list of IANA names: nothing to mistype."""
        if db_field.name == "time_zone":
            return forms.ChoiceField(
                choices=[(name, name) for name in sorted(available_timezones())],
                initial="UTC",
                label="Time zone",
                help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="Open now", boolean=True)
    def open_now(self, widget: Widget) -> bool:
        return widget.availability().open

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
