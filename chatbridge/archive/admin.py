"""The transcript viewer, on Django admin: its login, permissions, changelists and filters.

- Chats: a changelist (newest first, filters, search across message text) whose rows open
  the transcript page: the conversation as bubbles, updated live while the chat goes on.
- Exports: one chat as text, JSON or a printable page; many (the selected chats, or the whole
  result of a filter) as JSON Lines or CSV, streamed.
- The raw event rows, unredacted: only for staff given their view permission explicitly
  (superusers have it); never the "Transcript viewer" group's.
- Survey answers: a column and a filter of the chat list, on the transcript page, and the
  average ratings per widget and per agent of what the list's filters select.
- Left messages: what customers left when a widget was closed or at capacity, open until
  staff mark them handled (audited).
- The audit log: every read of what was said (transcript, live view, attachment, raw event,
  search) and every export, readable by staff, changed by no one.

Nothing here writes to the archive: the archiver alone does.
"""

from datetime import date, datetime, time, timedelta

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from chatbridge.archive import audit, export
from chatbridge.archive.models import AuditEntry, Chat, ChatEvent, LeftMessage, Survey
from chatbridge.archive.search import search_chats
from chatbridge.archive.surveys import ratings_by, survey_summary
from chatbridge.archive.transcript import conversation, redacting
from chatbridge.chats.events import ATTACHMENT
from chatbridge.chats.service import get_chat_service
from chatbridge.errors import ChatBridgeError

EXPORT_PERMISSION = "archive.export_chat"
RAW_EVENTS_PERMISSION = "archive.view_chatevent"
HANDLE_PERMISSION = "archive.handle_leftmessage"
# The fields of an event that hold what was said.
MESSAGE_FIELDS = frozenset({"content", "attachments", "receipts"})


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class StartedBetweenFilter(admin.ListFilter):
    """Chats that started from one day to another (both inclusive), from two date inputs."""

    title = "date started"
    template = "admin/archive/date_range_filter.html"
    start_param = "started_from"
    end_param = "started_to"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.expected_parameters():
            if name in params:
                value = params.pop(name)
                self.used_parameters[name] = value[-1] if isinstance(value, list) else value

    def expected_parameters(self) -> list[str]:
        return [self.start_param, self.end_param]

    def has_output(self) -> bool:
        return True

    def _day(self, name: str) -> date | None:
        try:
            return date.fromisoformat(self.used_parameters.get(name, ""))
        except ValueError:
            return None

    def queryset(self, request, queryset):
        zone = timezone.get_current_timezone()
        start, end = self._day(self.start_param), self._day(self.end_param)
        if start:
            queryset = queryset.filter(started_at__gte=datetime.combine(start, time(), zone))
        if end:
            after = datetime.combine(end + timedelta(days=1), time(), zone)
            queryset = queryset.filter(started_at__lt=after)
        return queryset

    def choices(self, changelist):
        keep = {
            name: value
            for name, value in changelist.params.items()
            if name not in self.expected_parameters()
        }
        yield {
            "start": self.used_parameters.get(self.start_param, ""),
            "end": self.used_parameters.get(self.end_param, ""),
            "start_param": self.start_param,
            "end_param": self.end_param,
            "hidden": sorted(keep.items()),
            "reset": changelist.get_query_string(remove=self.expected_parameters()),
            "selected": bool(self.used_parameters),
        }


class WidgetFilter(admin.AllValuesFieldListFilter):
    title = "widget"


class AgentFilter(admin.AllValuesFieldListFilter):
    title = "agent"


class RatingFilter(admin.SimpleListFilter):
    """Chats by their survey answer: a number of stars, a thumb, answered or not."""

    title = "survey rating"
    parameter_name = "rating"
    CHOICES = [
        *((f"stars-{n}", f"{n} star{'s' if n > 1 else ''}") for n in range(5, 0, -1)),
        ("thumbs-1", "thumbs up"),
        ("thumbs-0", "thumbs down"),
        ("any", "answered"),
        ("none", "not answered"),
    ]

    def lookups(self, request, model_admin):
        return self.CHOICES

    def queryset(self, request, queryset):
        value = self.value()
        if value == "any":
            return queryset.filter(survey__isnull=False)
        if value == "none":
            return queryset.filter(survey__isnull=True)
        scale, _, rating = (value or "").partition("-")
        if scale in Survey.Scale.values and rating.isdigit():
            return queryset.filter(survey__scale=scale, survey__rating=int(rating))
        return queryset


@admin.register(Chat)
class ChatAdmin(ReadOnlyAdmin):
    list_display = [
        "started",
        "ended",
        "duration_display",
        "customer",
        "widget_id",
        "agent_name",
        "status",
        "message_count",
        "rating",
    ]
    list_select_related = ["survey"]
    list_display_links = ["started", "customer"]
    list_filter = [
        "status",
        StartedBetweenFilter,
        ("widget_id", WidgetFilter),
        ("agent_name", AgentFilter),
        RatingFilter,
    ]
    search_fields = ["chat_id"]  # shows the search box; get_search_results does the work
    search_help_text = (
        'Words from a message (all of them), a "quoted phrase", a customer or agent name, '
        "or a chat id."
    )
    ordering = [F("started_at").desc(nulls_last=True), "-pk"]
    list_per_page = 50
    show_full_result_count = False
    actions = ["export_jsonl", "export_csv"]
    change_list_template = "admin/archive/chat/change_list.html"

    # Columns

    @admin.display(description="started", ordering="started_at")
    def started(self, chat: Chat):
        return chat.started_at or chat.created

    @admin.display(description="ended", ordering="ended_at")
    def ended(self, chat: Chat):
        return chat.ended_at or "–"

    @admin.display(description="duration")
    def duration_display(self, chat: Chat) -> str:
        return format_duration(chat.duration)

    @admin.display(description="customer", ordering="display_name")
    def customer(self, chat: Chat) -> str:
        return chat.display_name or "(unnamed)"

    @admin.display(description="rating")
    def rating(self, chat: Chat) -> str:
        survey = survey_summary(chat)
        return survey["label"] if survey else "–"

    # Search and permissions

    def get_search_results(self, request, queryset, search_term):
        """Every search over message text, wherever it runs (the list, its exports, the
        admin's autocomplete endpoint), is a read of what was said: audited."""
        record_search(request, search_term)
        return search_chats(queryset, search_term), False

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)

    # Pages

    def get_urls(self):
        view = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("export/<str:fmt>/", view(self.export_filtered), name=f"{name}_export"),
            path("ratings/", view(self.ratings), name=f"{name}_ratings"),
            path(
                "<path:object_id>/export/<str:fmt>/",
                view(self.export_chat),
                name=f"{name}_export_chat",
            ),
            path(
                "<path:object_id>/attachments/<str:attachment_id>/",
                view(self.attachment),
                name=f"{name}_attachment",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        query = request.GET.copy()
        query.pop("p", None)
        extra_context = {
            **(extra_context or {}),
            "can_export": self.has_export_permission(request),
            "export_query": query.urlencode(),
        }
        return super().changelist_view(request, extra_context)

    def ratings(self, request):
        """Average survey ratings per widget and per agent, of the chats the list's filters
        select. Stars and thumbs are shown apart: the two scales do not average together."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        chats = self.get_changelist_instance(request).get_queryset(request)
        query = request.GET.copy()
        query.pop("p", None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Survey ratings",
            "by_widget": ratings_by(chats, "widget_id"),
            "by_agent": ratings_by(chats, "agent_name"),
            "list_query": query.urlencode(),
        }
        return TemplateResponse(request, "admin/archive/chat/ratings.html", context)

    def _chat(self, request: HttpRequest, object_id: str) -> Chat:
        chat = self.get_object(request, unquote(object_id))
        if chat is None:
            raise Http404("No such chat.")
        if not self.has_view_permission(request, chat):
            raise PermissionDenied
        return chat

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The transcript page: the conversation, read-only, live while the chat goes on."""
        if request.method != "GET":
            raise PermissionDenied
        chat = self._chat(request, object_id)
        events = list(chat.events.order_by("seq"))
        last_seq = events[-1].seq if events else 0
        audit.record(request.user, AuditEntry.Action.VIEW, chat_id=chat.chat_id)
        live = chat.status == Chat.Status.ACTIVE
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Chat with {chat.display_name or 'an unnamed customer'}",
            "subtitle": chat.chat_id,
            "chat": chat,
            "duration": format_duration(chat.duration),
            "entries": conversation(events),
            "survey": survey_summary(chat),
            "last_seq": last_seq,
            "live_url": f"/ws/staff/chats/{chat.chat_id}/" if live else "",
            "can_export": self.has_export_permission(request),
            "redacted": redacting(),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/archive/chat/transcript.html", context)

    def attachment(self, request, object_id, attachment_id):
        """Opens an attachment: Connect keeps the files and hands out short-lived links only
        while the chat's participant connection lives; after that, say where the file is."""
        chat = self._chat(request, object_id)
        event = next(
            (
                event
                for event in chat.events.filter(type=ATTACHMENT).iterator()
                if any(a.get("id") == attachment_id for a in event.attachments or ())
            ),
            None,
        )
        if event is None:
            raise Http404("No such attachment in this chat.")
        audit.record(
            request.user,
            AuditEntry.Action.VIEW,
            chat_id=chat.chat_id,
            detail=f"attachment {attachment_id}",
        )
        url = connect_attachment_url(chat.chat_id, attachment_id)
        if url:
            return HttpResponseRedirect(url)
        return TemplateResponse(
            request,
            "admin/archive/chat/attachment_gone.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Attachment no longer available here",
                "chat": chat,
                "event": event,
                "attachment_id": attachment_id,
            },
            status=410,
        )

    # Exports

    def export_chat(self, request, object_id, fmt):
        if not self.has_export_permission(request):
            raise PermissionDenied
        chat = self._chat(request, object_id)
        if fmt not in {"txt", "json", "html"}:
            raise Http404("Unknown export format.")
        entries = conversation(chat.events.order_by("seq").iterator(chunk_size=2000))
        audit.record(request.user, AuditEntry.Action.EXPORT, chat_id=chat.chat_id, detail=fmt)
        filename = f"chat-{chat.chat_id}"
        if fmt == "json":
            response = JsonResponse(
                export.chat_json(chat, entries), json_dumps_params={"ensure_ascii": False}
            )
            response["Content-Disposition"] = f'attachment; filename="{filename}.json"'
            return response
        if fmt == "txt":
            response = HttpResponse(
                export.chat_text(chat, entries), content_type="text/plain; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{filename}.txt"'
            return response
        return TemplateResponse(
            request,
            "admin/archive/chat/print.html",
            {
                "chat": chat,
                "entries": entries,
                "duration": format_duration(chat.duration),
                "redacted": redacting(),
                "printed_at": timezone.now(),
            },
        )

    def export_filtered(self, request, fmt):
        """Every chat the changelist's filters and search select, streamed."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request)
        query = request.GET.copy()
        query.pop("p", None)
        return self._export_many(request, queryset, fmt, query.urlencode() or "all chats")

    def _export_many(self, request, queryset: QuerySet[Chat], fmt: str, detail: str):
        if fmt not in {"jsonl", "csv"}:
            raise Http404("Unknown export format.")
        audit.record(
            request.user,
            AuditEntry.Action.EXPORT,
            chat_count=queryset.count(),
            detail=f"{fmt}: {detail}",
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        if fmt == "jsonl":
            lines = export.jsonl_lines(queryset)
            content_type = "application/x-ndjson; charset=utf-8"
        else:
            lines = export.csv_lines(queryset)
            content_type = "text/csv; charset=utf-8"
        return export.stream(
            request, lines, content_type=content_type, filename=f"chats-{stamp}.{fmt}"
        )

    @admin.action(description="Export selected chats as JSON Lines", permissions=["export"])
    def export_jsonl(self, request, queryset):
        return self._selected(request, queryset, "jsonl")

    @admin.action(description="Export selected chats as CSV", permissions=["export"])
    def export_csv(self, request, queryset):
        return self._selected(request, queryset, "csv")

    def _selected(self, request, queryset, fmt):
        if not queryset.exists():
            self.message_user(request, "No chats selected.", messages.WARNING)
            return None
        ids = ",".join(queryset.values_list("chat_id", flat=True)[:20])
        return self._export_many(request, queryset.order_by("-started_at", "-pk"), fmt, ids)


def record_search(request: HttpRequest, term: str) -> None:
    """Audits a search once per request: a changelist may run its query more than once."""
    term = term.strip()
    if not term or getattr(request, "audited_search", None) == term:
        return
    request.audited_search = term
    audit.record(request.user, AuditEntry.Action.SEARCH, chat_count=0, detail=term)


def connect_attachment_url(chat_id: str, attachment_id: str) -> str | None:
    """A short-lived Connect download URL, while the chat's connection still lives."""

    async def fetch() -> str | None:
        service = get_chat_service()
        try:
            session = await service.store.load(chat_id)
            if not session.is_active:
                return None
            download = await service.attachment_url(session, attachment_id=attachment_id)
        except (ChatBridgeError, OSError):
            return None
        return download.url

    try:
        return async_to_sync(fetch)()
    except Exception:
        return None


def format_duration(value: timedelta | None) -> str:
    if value is None:
        return "–"
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s"


@admin.register(ChatEvent)
class ChatEventAdmin(ReadOnlyAdmin):
    """The raw rows, for when the transcript page hides too much.

    A row shows its message unredacted, so only staff holding the view permission of events
    itself (superusers have it) see these pages, and every row opened is audited. The list
    shows no text and cannot be filtered by it: that would be a search the audit log misses.
    """

    list_display = ["chat", "seq", "type", "participant_role", "display_name", "absolute_time"]
    list_filter = ["type", "participant_role"]
    list_select_related = ["chat"]
    search_fields = ["=chat__chat_id", "=item_id"]
    ordering = ["chat", "seq"]

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm(RAW_EVENTS_PERMISSION)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        if lookup.split(LOOKUP_SEP, 1)[0] in MESSAGE_FIELDS:
            return False
        return super().lookup_allowed(lookup, value, request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method != "GET" or not self.has_view_permission(request):
            raise PermissionDenied
        event = self.get_object(request, unquote(object_id))
        if event is None:
            raise Http404("No such event.")
        audit.record(
            request.user,
            AuditEntry.Action.VIEW,
            chat_id=event.chat.chat_id,
            detail=f"raw event #{event.seq}",
        )
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created", "username", "action", "chat_link", "chat_count", "detail"]
    list_filter = ["action", "created"]
    search_fields = ["username", "=chat_id", "detail"]
    date_hierarchy = "created"
    list_per_page = 100

    @admin.display(description="chat", ordering="chat_id")
    def chat_link(self, entry: AuditEntry):
        if not entry.chat_id:
            return "–"
        url = reverse("admin:archive_chat_changelist") + "?" + urlencode({"q": entry.chat_id})
        return format_html('<a href="{}">{}</a>', url, entry.chat_id)


class OpenFirst(admin.SimpleListFilter):
    """Open requests by default: what staff still have to answer."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("handled", "Handled"), ("all", "All")]

    def choices(self, changelist):
        value = self.value()
        yield {
            "selected": value is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Open",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "all":
            return queryset
        if self.value() == "handled":
            return queryset.filter(status=LeftMessage.Status.HANDLED)
        return queryset.filter(status=LeftMessage.Status.OPEN)


@admin.register(LeftMessage)
class LeftMessageAdmin(ReadOnlyAdmin):
    """Messages customers left when a widget was closed or at capacity: open requests, newest
    first, until someone marks them handled (an action, audited with the messages' ids)."""

    list_display = ["created", "name", "email", "widget_id", "reason", "status", "handled_by"]
    list_display_links = ["created", "name"]
    list_filter = [OpenFirst, ("widget_id", WidgetFilter), "reason"]
    search_fields = ["name", "email"]
    readonly_fields = [
        "created", "widget_id", "reason", "name", "email", "message", "status", "handled_at",
        "handled_by",
    ]  # fmt: skip
    actions = ["mark_handled"]
    list_per_page = 100

    def has_handle_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(HANDLE_PERMISSION)

    @admin.action(description="Mark selected messages handled", permissions=["handle"])
    def mark_handled(self, request, queryset):
        ids = sorted(queryset.filter(status=LeftMessage.Status.OPEN).values_list("pk", flat=True))
        if not ids:
            self.message_user(request, "No open messages selected.", messages.WARNING)
            return
        LeftMessage.objects.filter(pk__in=ids).update(
            status=LeftMessage.Status.HANDLED, handled_at=timezone.now(), handled_by=request.user
        )
        audit.record(
            request.user,
            AuditEntry.Action.HANDLE,
            chat_count=0,
            detail="left messages " + ", ".join(str(pk) for pk in ids),
        )
        self.message_user(request, f"{len(ids)} message(s) marked handled.", messages.SUCCESS)
