"""Basic read-only admins: the archive is written by the archiver alone.

The transcript viewer comes later; these make the rows inspectable meanwhile.
"""

from django.contrib import admin
from django.http import HttpRequest

from chatbridge.archive.models import Chat, ChatEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Chat)
class ChatAdmin(ReadOnlyAdmin):
    list_display = [
        "chat_id",
        "display_name",
        "agent_name",
        "status",
        "message_count",
        "started_at",
        "last_event_at",
    ]
    list_filter = ["status", "widget_id"]
    search_fields = ["=chat_id", "=contact_id", "display_name", "agent_name"]
    date_hierarchy = "created"


@admin.register(ChatEvent)
class ChatEventAdmin(ReadOnlyAdmin):
    list_display = ["chat", "seq", "type", "participant_role", "display_name", "absolute_time"]
    list_filter = ["type", "participant_role"]
    list_select_related = ["chat"]
    search_fields = ["=chat__chat_id", "=item_id"]
    ordering = ["chat", "seq"]
