"""Records who read or exported transcripts (the audit log staff can read, never edit)."""

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from chatbridge.archive.models import AuditEntry

DETAIL_LENGTH = AuditEntry._meta.get_field("detail").max_length


def record(
    user: AbstractBaseUser | AnonymousUser | None,
    action: str,
    *,
    chat_id: str = "",
    chat_count: int = 1,
    detail: str = "",
) -> AuditEntry:
    known = user if user is not None and user.is_authenticated else None
    return AuditEntry.objects.create(
        user=known,
        username=known.get_username() if known else "",
        action=action,
        chat_id=chat_id,
        chat_count=chat_count,
        detail=detail[:DETAIL_LENGTH],
    )


async def arecord(user, action: str, **fields) -> AuditEntry:
    return await sync_to_async(record)(user, action, **fields)
