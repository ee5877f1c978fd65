"""purge_transcripts: retention, its dry run and its progress."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from chatbridge.archive.models import AuditEntry, Chat, ChatEvent
from tests.chatbridge.archive.factories import make_chat

pytestmark = pytest.mark.django_db


def purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_transcripts", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def archive():
    now = timezone.now()
    make_chat("old-1", started=now - timedelta(days=100))
    make_chat("old-2", started=now - timedelta(days=40))
    make_chat("recent", started=now - timedelta(days=5))
    # Started long ago but still talking: its last event is recent, so it stays.
    lively = make_chat("lively", started=now - timedelta(days=60), ended=False)
    Chat.objects.filter(pk=lively.pk).update(last_event_at=now - timedelta(days=1))


def test_dry_run_says_what_would_go_and_removes_nothing(archive):
    out = purge("--days", "30", "--dry-run")

    assert "would purge 2 chat(s), 14 event(s), 2 attachment reference(s)" in out
    assert "old-1" in out and "old-2" in out and "recent" not in out and "lively" not in out
    assert Chat.objects.count() == 4
    assert AuditEntry.objects.count() == 0


def test_purge_removes_old_chats_their_events_and_attachment_references(archive):
    out = purge("--days", "30", "--batch-size", "1")

    assert "purged 1/2 chats (50%)" in out and "purged 2/2 chats (100%)" in out
    assert sorted(Chat.objects.values_list("chat_id", flat=True)) == ["lively", "recent"]
    assert not ChatEvent.objects.filter(chat__chat_id__startswith="old").exists()
    assert ChatEvent.objects.filter(type="attachment").count() == 2
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.chat_count, entry.user) == ("purge", 2, None)


def test_the_retention_setting_is_the_default(archive, settings):
    settings.CHATBRIDGE_RETENTION_DAYS = 50

    purge()

    assert sorted(Chat.objects.values_list("chat_id", flat=True)) == ["lively", "old-2", "recent"]


def test_retention_zero_keeps_everything(archive, settings):
    settings.CHATBRIDGE_RETENTION_DAYS = 0

    assert "Retention is off" in purge()
    assert Chat.objects.count() == 4


def test_nothing_to_purge(archive):
    assert "Nothing to purge" in purge("--days", "1000")
