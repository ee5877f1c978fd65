"""Archived chats and their events.

Rows are written only by the archiver (chatbridge.archive.writer), idempotently: the stream
it drains may deliver an entry more than once, so every event is unique by (chat, seq) and by
(chat, item_id), and a chat's counters are recomputed from its events rather than incremented.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models

from chatbridge.chats.feed import CHAT_ID_LENGTH, CUSTOMER_KEY_LENGTH, ID_LENGTH

# Column sizes follow Connect's own limits (ids and display names are at most 256 characters).
NAME_LENGTH = 256


class Chat(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        ENDED = "ended"

    chat_id = models.CharField(max_length=CHAT_ID_LENGTH, unique=True)
    contact_id = models.CharField(max_length=ID_LENGTH, blank=True, db_index=True)
    participant_id = models.CharField(max_length=ID_LENGTH, blank=True)
    display_name = models.CharField(max_length=NAME_LENGTH, blank=True)
    widget_id = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=128, blank=True)
    # The first agent who spoke or joined, for the transcript list.
    agent_name = models.CharField(max_length=NAME_LENGTH, blank=True)
    # Messages and attachments, not receipts or participant events.
    message_count = models.PositiveIntegerField(default=0)
    last_event_at = models.DateTimeField(null=True, blank=True)
    # Who the customer is within the widget ("sub:<identity sub>" or "browser:<key>"), the chat
    # this one continues, and where it ran in Connect: what continuity and the customer's
    # previous conversations read.
    customer_key = models.CharField(max_length=CUSTOMER_KEY_LENGTH, blank=True)
    continued_from = models.CharField(max_length=CHAT_ID_LENGTH, blank=True)
    instance_id = models.CharField(max_length=ID_LENGTH, blank=True)
    region = models.CharField(max_length=32, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["started_at"], name="archive_chat_started"),
            models.Index(fields=["widget_id", "customer_key", "id"], name="archive_chat_customer"),
        ]
        permissions = [("export_chat", "Can export transcripts")]

    def __str__(self) -> str:
        return f"{self.display_name or 'Chat'} ({self.chat_id})"

    @property
    def duration(self) -> timedelta | None:
        end = self.ended_at or (self.last_event_at if self.status == self.Status.ENDED else None)
        if self.started_at is None or end is None:
            return None
        return max(end - self.started_at, timedelta(0))


class ChatEvent(models.Model):
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    item_id = models.CharField(max_length=ID_LENGTH)
    type = models.CharField(max_length=16)
    content_type = models.CharField(max_length=ID_LENGTH, blank=True)
    # None (events, attachments) differs from an empty message, as in the live event.
    content = models.TextField(null=True, blank=True)  # noqa: DJ001
    participant_role = models.CharField(max_length=32, blank=True)
    participant_id = models.CharField(max_length=ID_LENGTH, blank=True)
    display_name = models.CharField(max_length=NAME_LENGTH, blank=True)
    absolute_time = models.DateTimeField(null=True, blank=True)
    attachments = models.JSONField(default=list, blank=True)
    receipts = models.JSONField(default=list, blank=True)
    # The message a receipt is about; empty for other events.
    message_id = models.CharField(max_length=ID_LENGTH, blank=True)
    # Carried over from the earlier conversation that this (continued) chat continues.
    earlier = models.BooleanField(default=False)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["chat", "seq"], name="archive_event_chat_seq"),
            models.UniqueConstraint(fields=["chat", "item_id"], name="archive_event_chat_item"),
        ]
        indexes = [models.Index(fields=["chat", "absolute_time"], name="archive_event_chat_time")]

    def __str__(self) -> str:
        return f"{self.chat_id} #{self.seq} {self.type}"


class Survey(models.Model):
    """The customer's answer to the post-chat survey: one per chat, never edited.

    Written when the customer answers (chatbridge.archive.surveys), which may be before the
    archiver has written the chat: the answer then creates the chat's row, as the archiver
    would, and the archiver fills it in when the chat's entries arrive.
    """

    class Scale(models.TextChoices):
        STARS = "stars", "1 to 5 stars"
        THUMBS = "thumbs", "Thumbs up or down"

    chat = models.OneToOneField(Chat, on_delete=models.CASCADE, related_name="survey")
    scale = models.CharField(max_length=8, choices=Scale.choices)
    # 1-5 on the stars scale; 0 (down) or 1 (up) on the thumbs scale.
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["scale", "rating"], name="archive_survey_rating")]

    def __str__(self) -> str:
        return f"{self.rating_label} ({self.chat_id})"

    @property
    def rating_label(self) -> str:
        if self.scale == self.Scale.THUMBS:
            return "thumbs up" if self.rating else "thumbs down"
        return f"{self.rating} of 5 stars"


class AuditEntry(models.Model):
    """Who read, searched or exported which transcripts, and when. Written by the viewer,
    never edited.

    Chats are referred to by their chat id, not a foreign key: the record outlives a purge.
    """

    class Action(models.TextChoices):
        VIEW = "view", "Viewed a transcript"
        LIVE = "live", "Watched a live chat"
        SEARCH = "search", "Searched transcripts"
        EXPORT = "export", "Exported transcripts"
        PURGE = "purge", "Purged transcripts"
        MAIL = "mail", "Mailed a transcript to its customer"
        HANDLE = "handle", "Handled a left message"

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Kept as written, so the entry still names its user after the account is deleted.
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    # One chat's id, or empty for many (then `chat_count` and `detail` say which, or, for
    # left messages, `detail` names them).
    chat_id = models.CharField(max_length=CHAT_ID_LENGTH, blank=True, db_index=True)
    chat_count = models.PositiveIntegerField(default=0)
    # The format of an export, the filter of a bulk export, the terms of a search, the raw
    # event or attachment opened, the cut-off of a purge.
    detail = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.username or 'system'} {self.action} {self.chat_id or self.chat_count}"


class LeftMessage(models.Model):
    """A message a customer left instead of chatting (the widget was closed, or at capacity):
    an open request until staff mark it handled. Written by the REST API
    (POST /api/v1/widgets/<id>/messages), then sent to the widget's webhook and e-mail."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        HANDLED = "handled", "Handled"

    class Reason(models.TextChoices):
        OUTSIDE_BUSINESS_HOURS = "outside_business_hours", "Outside business hours"
        AT_CAPACITY = "at_capacity", "At capacity"
        OTHER = "other", "Other"

    widget_id = models.CharField(max_length=128, db_index=True)
    name = models.CharField(max_length=120)
    email = models.EmailField(max_length=254)
    message = models.TextField()
    reason = models.CharField(max_length=32, choices=Reason.choices, default=Reason.OTHER)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created"]
        verbose_name = "left message"
        permissions = [("handle_leftmessage", "Can mark left messages handled")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}> ({self.get_status_display()})"
