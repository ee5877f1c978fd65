"""Archived chats written straight into the database, as the archiver would leave them."""

from datetime import UTC, datetime, timedelta
from importlib import import_module

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from chatbridge.archive.models import Chat, ChatEvent
from chatbridge.connect.types import ContentType

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
VIEWER_GROUP = "Transcript viewer"


GROUP_MIGRATION = import_module("chatbridge.archive.migrations.0004_transcript_viewer_group")
REVOKE_MIGRATION = import_module("chatbridge.archive.migrations.0006_viewer_without_raw_events")
LEFT_MESSAGES_MIGRATION = import_module("chatbridge.archive.migrations.0009_left_messages")
# The group's permissions once every migration has run.
VIEWER_PERMISSIONS = [
    permission
    for permission in GROUP_MIGRATION.PERMISSIONS
    if permission not in REVOKE_MIGRATION.REVOKED
] + [("archive", codename) for codename in LEFT_MESSAGES_MIGRATION.PERMISSIONS]


def viewer_group() -> Group:
    """The migrations' "Transcript viewer" group (transactional tests flush it: re-made)."""
    group, created = Group.objects.get_or_create(name=VIEWER_GROUP)
    if created:
        for app_label, codename in VIEWER_PERMISSIONS:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    return group


def viewer(username: str = "quinn", password: str = "s3cret-pass-word"):
    """A staff member in the "Transcript viewer" group."""
    user = get_user_model().objects.create_user(username, password=password, is_staff=True)
    user.groups.add(viewer_group())
    return user


def make_chat(
    chat_id: str = "chat-1",
    *,
    customer: str = "Ada Lovelace",
    agent: str = "Alice",
    widget: str = "support",
    started: datetime = T0,
    ended: bool = True,
    messages: list[tuple[str, str]] | None = None,
) -> Chat:
    """A chat with a conversation: joined, the messages (role, text), a receipt, an
    attachment and, if ended, the end."""
    if messages is None:
        messages = [
            ("CUSTOMER", "Hello, my order has not arrived"),
            ("AGENT", "Sorry to hear that! Let me check the tracking number."),
            ("CUSTOMER", "Thanks, you can reach me at ada@example.com"),
        ]
    chat = Chat.objects.create(
        chat_id=chat_id,
        contact_id=f"contact-{chat_id}",
        participant_id="customer-1",
        display_name=customer,
        widget_id=widget,
        agent_name=agent,
        status=Chat.Status.ENDED if ended else Chat.Status.ACTIVE,
        started_at=started,
        ended_at=started + timedelta(minutes=7, seconds=5) if ended else None,
        ended_reason="customer_left" if ended else "",
    )
    events = [
        ChatEvent(
            chat=chat,
            seq=1,
            item_id=f"{chat_id}-joined",
            type="event",
            content_type=ContentType.PARTICIPANT_JOINED,
            participant_role="AGENT",
            display_name=agent,
            absolute_time=started + timedelta(seconds=5),
        )
    ]
    for n, (role, text) in enumerate(messages):
        events.append(
            ChatEvent(
                chat=chat,
                seq=len(events) + 1,
                item_id=f"{chat_id}-m{n}",
                type="message",
                content_type=ContentType.TEXT,
                content=text,
                participant_role=role,
                participant_id=f"{role.lower()}-1",
                display_name=customer if role == "CUSTOMER" else agent,
                absolute_time=started + timedelta(seconds=10 + 20 * n),
            )
        )
    events.append(
        ChatEvent(
            chat=chat,
            seq=len(events) + 1,
            item_id=f"{chat_id}-receipt",
            type="receipt",
            content_type=ContentType.MESSAGE_METADATA,
            participant_role="AGENT",
            absolute_time=started + timedelta(seconds=31),
            message_id=f"{chat_id}-m0",
            receipts=[
                {
                    "participant_id": "agent-1",
                    "delivered_at": (started + timedelta(seconds=11)).isoformat(),
                    "read_at": (started + timedelta(seconds=12)).isoformat(),
                }
            ],
        )
    )
    events.append(
        ChatEvent(
            chat=chat,
            seq=len(events) + 1,
            item_id=f"{chat_id}-file",
            type="attachment",
            content_type="image/png",
            participant_role="CUSTOMER",
            display_name=customer,
            absolute_time=started + timedelta(seconds=90),
            attachments=[
                {
                    "id": f"att-{chat_id}",
                    "name": "parcel-photo.png",
                    "content_type": "image/png",
                    "status": "APPROVED",
                }
            ],
        )
    )
    if ended:
        events.append(
            ChatEvent(
                chat=chat,
                seq=len(events) + 1,
                item_id=f"{chat_id}-ended",
                type="event",
                content_type=ContentType.CHAT_ENDED,
                participant_role="SYSTEM",
                absolute_time=started + timedelta(minutes=7, seconds=5),
            )
        )
    ChatEvent.objects.bulk_create(events)
    chat.message_count = len(messages) + 1
    chat.last_event_at = events[-1].absolute_time
    chat.save()
    return chat
