"""Removes archived chats older than the retention period, with their events and attachments.

A chat's age is its last sign of life: when it ended, else its last event, else when it
started or was first archived. Attachments are files in Amazon Connect; the archive holds only
references to them (in its attachment events), and those go with the chat. Every purge is
written to the audit log.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from chatbridge.archive import audit
from chatbridge.archive.models import AuditEntry, Chat, ChatEvent
from chatbridge.chats.events import ATTACHMENT


def expired_chats(cutoff) -> QuerySet[Chat]:
    return (
        Chat.objects.annotate(
            last_seen=Coalesce("ended_at", "last_event_at", "started_at", "created")
        )
        .filter(last_seen__lt=cutoff)
        .order_by("pk")
    )


class Command(BaseCommand):
    help = "Purges archived chats (and their attachment references) older than the retention."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Retention in days (default: CHATBRIDGE_RETENTION_DAYS).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be purged; purge nothing."
        )
        parser.add_argument("--batch-size", type=int, default=500, help="Chats per transaction.")

    def handle(self, *args, days, dry_run, batch_size, **options):
        days = settings.CHATBRIDGE_RETENTION_DAYS if days is None else days
        if days <= 0:
            self.stdout.write("Retention is off (0 days): nothing to purge.")
            return
        if batch_size <= 0:
            raise CommandError("--batch-size must be positive")
        cutoff = timezone.now() - timedelta(days=days)
        chats = expired_chats(cutoff)
        events = ChatEvent.objects.filter(chat__in=chats.values("pk"))
        totals = events.aggregate(
            events=Count("pk"), attachments=Count("pk", filter=Q(type=ATTACHMENT))
        )
        total = chats.count()
        summary = (
            f"{total} chat(s), {totals['events']} event(s), "
            f"{totals['attachments']} attachment reference(s) last active before "
            f"{cutoff:%Y-%m-%d %H:%M} UTC ({days} days)"
        )
        if dry_run:
            self.stdout.write(f"Dry run: would purge {summary}.")
            for chat in chats[:20]:
                self.stdout.write(
                    f"  {chat.chat_id}  {chat.display_name or '(unnamed)'}  "
                    f"last active {chat.last_seen:%Y-%m-%d}"
                )
            if total > 20:
                self.stdout.write(f"  … and {total - 20} more")
            return
        if total == 0:
            self.stdout.write(f"Nothing to purge: {summary}.")
            return
        self.stdout.write(f"Purging {summary}.")
        done = 0
        while True:
            with transaction.atomic():
                pks = list(expired_chats(cutoff).values_list("pk", flat=True)[:batch_size])
                if not pks:
                    break
                ChatEvent.objects.filter(chat_id__in=pks).delete()
                Chat.objects.filter(pk__in=pks).delete()
            done += len(pks)
            self.stdout.write(f"  purged {done}/{total} chats ({done * 100 // total}%)")
        audit.record(
            None,
            AuditEntry.Action.PURGE,
            chat_count=done,
            detail=f"retention {days} days: {summary}",
        )
        self.stdout.write(self.style.SUCCESS(f"Purged {done} chat(s)."))
