"""What a chat participant can do, independent of how the request arrived.

The websocket consumer and the REST API both call ChatService. It validates input, keeps the
connection token fresh, and turns Connect's refusals into a clear outcome: a refused call is
retried once with a refreshed connection; refused again, the chat has ended.
"""

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings

from chatbridge.chats.events import ChatEvent, from_item
from chatbridge.chats.handoff import handoff, share, take_shared
from chatbridge.chats.records import ChatSession, PreviousChat, StartedChat, UpstreamClaim
from chatbridge.chats.store import SessionStore, session_store
from chatbridge.connect import ConnectGateway, ContinuationRefused, FirstConnection, get_gateway
from chatbridge.connect.budget import Priority, calling_for
from chatbridge.connect.types import (
    MAX_CONTENT_LENGTH,
    MESSAGE_CONTENT_TYPES,
    AttachmentDownload,
    AttachmentUpload,
    ConnectRoute,
    ContentType,
    ParticipantConnection,
    PersistentChat,
    SentItem,
    StartedContact,
    TranscriptItem,
    TranscriptPage,
)
from chatbridge.errors import AccessDenied, ChatEnded, InvalidInput
from chatbridge.metrics import CONNECTION_REFRESHES

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_DISPLAY_NAME = 256
MAX_CLIENT_TOKEN = 500
MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_LENGTH = 32767
RECEIPT_TYPES = {"delivered": ContentType.DELIVERED, "read": ContentType.READ}
MAX_TRANSCRIPT_PAGES = 1000
REFRESH_ROUNDS = 3
# How long a start's websocket URL must still be good for its upstream to take it: longer
# than the upstream takes to connect (its open timeout is 10 s).
HANDOFF_VALIDITY = timedelta(seconds=20)


def _require_text(value: object, field: str, *, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string.", field=field)
    if not value.strip():
        raise InvalidInput(f"{field} must not be empty.", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters.", field=field)
    return value


def _optional_token(value: object, field: str) -> str | None:
    if value is None:
        return None
    return _require_text(value, field, max_length=MAX_CLIENT_TOKEN)


def _validate_attributes(attributes: object) -> dict[str, str]:
    if attributes is None:
        return {}
    if not isinstance(attributes, dict):
        raise InvalidInput("attributes must be an object of strings.", field="attributes")
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidInput(
            f"attributes may hold at most {MAX_ATTRIBUTES} entries.", field="attributes"
        )
    for name, value in attributes.items():
        _require_text(name, "attributes", max_length=MAX_ATTRIBUTE_LENGTH)
        if not isinstance(value, str) or len(value) > MAX_ATTRIBUTE_LENGTH:
            raise InvalidInput(
                f"attribute {name!r} must be a string of at most {MAX_ATTRIBUTE_LENGTH} "
                "characters.",
                field=f"attributes.{name}",
            )
    return dict(attributes)


def _validate_content_type(content_type: object) -> str:
    if content_type not in MESSAGE_CONTENT_TYPES:
        allowed = ", ".join(sorted(MESSAGE_CONTENT_TYPES))
        raise InvalidInput(f"content_type must be one of: {allowed}.", field="content_type")
    return str(content_type)


class ChatService:
    def __init__(
        self,
        store: SessionStore,
        gateway: ConnectGateway,
        *,
        refresh_margin: timedelta,
        chat_duration: timedelta,
        ended_grace: timedelta,
        starter: ConnectGateway | None = None,
    ) -> None:
        self.store = store
        self.gateway = gateway
        # Starting a chat runs on a thread pool of its own, so that a wave of new chats
        # queues behind itself rather than ahead of the live chats' sends.
        self.starter = starter or gateway
        self.refresh_margin = refresh_margin
        self.chat_duration = chat_duration
        self.ended_grace = ended_grace

    async def start_chat(
        self,
        *,
        display_name: str,
        widget_id: str = "",
        attributes: dict[str, str] | None = None,
        initial_message: str | None = None,
        initial_content_type: str = ContentType.TEXT,
        client_token: str | None = None,
        route: ConnectRoute | None = None,
        customer_key: str = "",
        previous: PreviousChat | None = None,
        upstream: UpstreamClaim | None = None,
    ) -> StartedChat:
        """Starts a chat on `route` (the settings' instance, flow and region by default).

        With `previous`, the customer's last chat, the new contact is a Connect persistent
        chat that continues it, and the result carries that earlier conversation's events.
        Should Connect refuse to continue it (not ended yet for Connect, continued already,
        gone), the chat starts afresh: the customer is never kept from chatting.

        With `upstream`, storing the chat claims the lease on its upstream for that process,
        which opens the upstream as soon as the start's connection is offered to it
        (StartedChat.leased; a retried start's chat is not claimed)."""
        display_name = _require_text(display_name, "display_name", max_length=MAX_DISPLAY_NAME)
        attributes = _validate_attributes(attributes)
        client_token = _optional_token(client_token, "client_token")
        initial = None
        if initial_message is not None:
            initial = (
                _validate_content_type(initial_content_type),
                _require_text(initial_message, "initial_message", max_length=MAX_CONTENT_LENGTH),
            )
        route = route or ConnectRoute()
        region = route.region or settings.CONNECT_REGION
        starter = self._starter(region)
        request = {
            "display_name": display_name.strip(),
            "attributes": attributes,
            "initial_message": initial,
            "client_token": client_token,
            "chat_duration_minutes": int(self.chat_duration.total_seconds() // 60),
            "route": route,
        }
        started_contact = None
        first: FirstConnection | None = None
        with calling_for(
            priority=self._priority(Priority.MESSAGE),
            max_wait=settings.CHATBRIDGE_CONNECT_START_MAX_WAIT,
        ):
            if previous is not None:
                try:
                    started_contact = await starter.start_and_connect(
                        **request, persistent_chat=PersistentChat(previous.contact_id)
                    )
                except ContinuationRefused as refused:
                    logger.info(
                        "chat not continued, starting afresh: %s continued_from=%s",
                        type(refused.error).__name__,
                        previous.chat_id,
                    )
            continued = started_contact is not None
            if started_contact is None and settings.CHATBRIDGE_HOLD_UPSTREAMS:
                contact, first = await starter.start_contact(**request)
                # Made here, the task keeps the start's priority and wait for its token.
                connecting = asyncio.ensure_future(first.connection())
            elif started_contact is None:
                started_contact = await starter.start_and_connect(**request)
        new = _NewChat(display_name.strip(), widget_id, route, region, customer_key, upstream)
        if first is not None:
            started = await self._store_before_connection(contact, first, connecting, new)
        else:
            contact, connection = started_contact
            if not settings.CHATBRIDGE_HOLD_UPSTREAMS:
                # Whichever process opens the upstream takes the start's connection from
                # Redis, left there before any process can see the chat.
                await share(contact.contact_id, connection, valid_for=HANDOFF_VALIDITY)
            started = await self._create(
                contact,
                connection,
                new,
                continued_from=previous.chat_id if continued and previous is not None else "",
            )
            if settings.CHATBRIDGE_HOLD_UPSTREAMS:
                _hand_over(started, connection, new.upstream)
        logger.info(
            "chat started chat_id=%s contact_id=%s continued_from=%s",
            started.session.chat_id,
            contact.contact_id,
            started.session.continued_from or "-",
        )
        if started.session.continued_from:
            earlier = await self.earlier_conversation(started.session)
            started = replace(started, earlier=earlier)
        return started

    async def _store_before_connection(
        self,
        contact: StartedContact,
        first: FirstConnection,
        connecting: "asyncio.Task[ParticipantConnection]",
        new: "_NewChat",
    ) -> StartedChat:
        """A new chat stored, and answered, while its first connection is still on its way
        from Connect: the start costs the customer StartChatContact alone. Until the
        connection is saved, the chat's refresh lock is held for it, so a call for the chat
        waits for that connection instead of asking Connect for another (6 a second for the
        whole account); this process's upstream takes it as the start's own. The connection
        is let go once the answer is on its way, so as not to slow it down."""
        holder = uuid.uuid4().hex
        try:
            started = await self._create(contact, None, new, connecting_as=holder)
        except BaseException:
            _abandon(first, connecting)
            raise
        if not started.created:
            # A retried start: its chat has had a connection since the first start.
            _abandon(first, connecting)
        else:
            saving = _keep(self._save_first_connection(started.session, connecting, holder))
            _hand_over(started, saving, new.upstream)
            asyncio.get_running_loop().call_soon(first.release)
        return started

    async def _create(
        self,
        contact: StartedContact,
        connection: ParticipantConnection | None,
        new: "_NewChat",
        *,
        continued_from: str = "",
        connecting_as: str = "",
    ) -> StartedChat:
        """SessionStore.create for a chat this service started."""
        upstream = new.upstream
        return await self.store.create(
            contact=contact,
            connection=connection,
            display_name=new.display_name,
            widget_id=new.widget_id,
            lifetime=self.chat_duration + self.ended_grace,
            instance_id=new.route.instance_id or settings.CONNECT_INSTANCE_ID,
            region=new.region,
            customer_key=new.customer_key,
            continued_from=continued_from,
            lease_owner=upstream.owner if upstream is not None else "",
            lease_ttl_ms=upstream.ttl_ms if upstream is not None else 0,
            connecting_as=connecting_as,
        )

    async def _save_first_connection(
        self, session: ChatSession, connecting: "asyncio.Task[ParticipantConnection]", holder: str
    ) -> ParticipantConnection | None:
        """Saves the chat's first connection as it comes, then lets the chat's other callers
        have it; None when Connect did not give one (they then ask for one as after an
        expiry)."""
        async with self.store.first_connection_lock(session.chat_id, holder):
            try:
                connection = await connecting
            except Exception as error:
                logger.warning(
                    "first connection not made chat_id=%s error=%s",
                    session.chat_id,
                    type(error).__name__,
                )
                return None
            await self.store.save_connection(session, connection)
        return connection

    async def earlier_conversation(self, session: ChatSession) -> tuple[ChatEvent, ...]:
        """The events of the earlier conversation a continued chat carries over, in Connect's
        order: its transcript's items that Connect marks as sent on a past contact."""
        items = await self.full_transcript(session)
        events = (from_item(item) for item in items if item.related_contact_id)
        return tuple(event for event in events if event is not None)

    def _starter(self, region: str) -> ConnectGateway:
        """The gateway that starts chats in `region`, on the starts' own threads."""
        if not region or region == settings.CONNECT_REGION:
            return self.starter
        return get_gateway(starts=True, region=region)

    def _gateway(self, region: str) -> ConnectGateway:
        """The gateway of a chat's region: a chat started in another region than
        CONNECT_REGION makes all its calls there."""
        if not region or region == settings.CONNECT_REGION:
            return self.gateway
        return get_gateway(background=self.gateway.background, region=region)

    async def authenticate(self, session_token: str) -> ChatSession:
        return await self.store.authenticate(session_token)

    async def send_message(
        self,
        session: ChatSession,
        *,
        content: str,
        content_type: str = ContentType.TEXT,
        client_id: str | None = None,
    ) -> SentItem:
        content_type = _validate_content_type(content_type)
        content = _require_text(content, "content", max_length=MAX_CONTENT_LENGTH)
        client_id = _optional_token(client_id, "client_id")
        return await self._with_connection(
            session,
            lambda token: self._gateway(session.region).send_message(
                token, content_type=content_type, content=content, client_token=client_id
            ),
            priority=Priority.MESSAGE,
        )

    async def send_typing(self, session: ChatSession, *, client_id: str | None = None) -> SentItem:
        """Best-effort: Dropped when the shared Connect budget has no token free now."""
        return await self.send_event(
            session, content_type=ContentType.TYPING, client_id=client_id, priority=Priority.TYPING
        )

    async def send_receipt(
        self, session: ChatSession, *, message_id: str, kind: str, client_id: str | None = None
    ) -> SentItem:
        if kind not in RECEIPT_TYPES:
            raise InvalidInput("kind must be 'delivered' or 'read'.", field="kind")
        message_id = _require_text(message_id, "message_id", max_length=256)
        return await self.send_event(
            session,
            content_type=RECEIPT_TYPES[kind],
            content=json.dumps({"messageId": message_id}),
            client_id=client_id,
            priority=Priority.RECEIPT,
        )

    async def send_event(
        self,
        session: ChatSession,
        *,
        content_type: str,
        content: str | None = None,
        client_id: str | None = None,
        priority: Priority = Priority.RECEIPT,
    ) -> SentItem:
        client_id = _optional_token(client_id, "client_id")
        return await self._with_connection(
            session,
            lambda token: self._gateway(session.region).send_event(
                token, content_type=content_type, content=content, client_token=client_id
            ),
            priority=priority,
        )

    async def transcript_page(
        self,
        session: ChatSession,
        *,
        max_results: int | None = None,
        next_token: str | None = None,
        scan_direction: str | None = None,
        sort_order: str | None = None,
        start_position: dict[str, str] | None = None,
    ) -> TranscriptPage:
        return await self._with_connection(
            session,
            lambda token: self._gateway(session.region).get_transcript(
                token,
                max_results=max_results,
                next_token=next_token,
                scan_direction=scan_direction,
                sort_order=sort_order,
                start_position=start_position,
            ),
        )

    async def full_transcript(
        self, session: ChatSession, *, after_id: str | None = None
    ) -> list[TranscriptItem]:
        """Every item of the chat in Connect's order, or every item after `after_id`.

        This is the gap fill after a reconnect: FORWARD from the last item seen, all pages.
        """
        if after_id is not None:
            position = {"Id": after_id}
            direction = "FORWARD"
        else:
            position, direction = None, "BACKWARD"
        items: list[TranscriptItem] = []
        next_token: str | None = None
        for _ in range(MAX_TRANSCRIPT_PAGES):
            page = await self.transcript_page(
                session,
                max_results=100,
                next_token=next_token,
                scan_direction=direction,
                sort_order="ASCENDING",
                start_position=position,
            )
            items.extend(page.items)
            next_token = page.next_token
            if not next_token:
                break
        unique = {item.id: item for item in items}
        return sorted(unique.values(), key=lambda item: item.absolute_time)

    async def start_attachment_upload(
        self,
        session: ChatSession,
        *,
        name: str,
        content_type: str,
        size_bytes: int,
        client_id: str | None = None,
    ) -> AttachmentUpload:
        """Asks Connect for a pre-signed upload URL; the caller checks size and type."""
        name = _require_text(name, "name", max_length=256)
        content_type = _require_text(content_type, "content_type", max_length=256)
        client_id = _optional_token(client_id, "client_id")
        return await self._with_connection(
            session,
            lambda token: self._gateway(session.region).start_attachment_upload(
                token,
                content_type=content_type,
                size_bytes=size_bytes,
                name=name,
                client_token=client_id,
            ),
            priority=Priority.END,
        )

    async def complete_attachment_upload(
        self, session: ChatSession, *, attachment_id: str, client_id: str | None = None
    ) -> None:
        """Tells Connect the upload is done; the attachment then appears in the chat."""
        attachment_id = _require_text(attachment_id, "attachment_id", max_length=256)
        client_id = _optional_token(client_id, "client_id")
        await self._with_connection(
            session,
            lambda token: self._gateway(session.region).complete_attachment_upload(
                token, attachment_ids=[attachment_id], client_token=client_id
            ),
            priority=Priority.END,
        )

    async def attachment_url(
        self, session: ChatSession, *, attachment_id: str
    ) -> AttachmentDownload:
        """A short-lived download URL of an attachment of the chat."""
        attachment_id = _require_text(attachment_id, "attachment_id", max_length=256)
        return await self._with_connection(
            session,
            lambda token: self._gateway(session.region).get_attachment(
                token, attachment_id=attachment_id
            ),
        )

    async def disconnect(
        self, session: ChatSession, *, reason: str = "customer_disconnected"
    ) -> ChatSession:
        """The customer leaves (or, with reason "abandoned", left long ago): the chat ends for
        everyone. Safe to call twice."""
        if session.is_active:
            # Connect announces the end on the websocket, maybe before this call returns: the
            # upstream that hears it must still record why the chat ended.
            await self.store.note_ending(session.chat_id, reason)
            with contextlib.suppress(ChatEnded):
                await self._with_connection(
                    session, self._gateway(session.region).disconnect, priority=Priority.END
                )
        return await self.end(session, reason)

    async def end(self, session: ChatSession, reason: str) -> ChatSession:
        """Records that the chat ended (the first reason wins, and a reason noted by whoever
        ended it beats what Connect reported) and tells the archive."""
        reason = await self.store.noted_ending(session.chat_id) or reason
        ended = await self.store.mark_ended(session, reason)
        await self.store.publish(ended)
        return ended

    async def open_connection(
        self, session: ChatSession
    ) -> tuple[ChatSession, ParticipantConnection]:
        """A fresh participant connection (a new websocket URL) for the upstream relay: the
        one the chat's start got, when this process or a process that only starts chats
        started it moments ago (chatbridge.chats.handoff), else a new one."""
        started = await handoff.take(
            session.chat_id, valid_for=HANDOFF_VALIDITY
        ) or await take_shared(session.contact_id, valid_for=HANDOFF_VALIDITY)
        if started is not None:
            if self.needs_refresh(session):
                # Read before the start's connection was saved with the chat: read again.
                session = await self.store.load(session.chat_id)
            return session, started
        return await self._refresh(session, force=True)

    async def refresh(self, session: ChatSession) -> ChatSession:
        """Replaces the connection token unless another caller already did since `session`.

        A token that another caller saved since, and that is not due itself, is taken without
        the chat's refresh lock: its holder may be an upstream waiting in Connect's queue for a
        new websocket URL, seconds during a storm of takeovers, and a customer's typing or
        message must not wait for that with a good token in the store."""
        current = await self.store.load(session.chat_id)
        if current.generation != session.generation and not self.needs_refresh(current):
            if not current.is_active:
                raise ChatEnded()
            return current
        session, _ = await self._refresh(session, force=False)
        return session

    async def _refresh(
        self, session: ChatSession, *, force: bool
    ) -> tuple[ChatSession, ParticipantConnection | None]:
        async with self.store.refresh_lock(session.chat_id):
            # A new connection spends the budget at the priority of what needs it (a send's
            # refresh is a send's; an upstream's is background work).
            with calling_for(chat_id=session.chat_id, priority=self._priority(None)):
                return await self._refresh_locked(session, force=force)

    async def _refresh_locked(
        self, session: ChatSession, *, force: bool
    ) -> tuple[ChatSession, ParticipantConnection | None]:
        current = await self.store.load(session.chat_id)
        if not current.is_active:
            raise ChatEnded()
        if not force and current.generation != session.generation:
            return current, None
        try:
            connection = await self._gateway(current.region).create_connection(
                current.participant_token
            )
        except AccessDenied:
            await self.end(current, "connect_access_denied")
            raise ChatEnded() from None
        logger.info("connection refreshed chat_id=%s", current.chat_id)
        CONNECTION_REFRESHES.labels(reason="upstream" if force else "token").inc()
        return await self.store.save_connection(current, connection), connection

    def _priority(self, priority: Priority | None) -> Priority | None:
        """The budget priority of a call: background work for the upstreams' service, else
        `priority` (None: the enclosing call's)."""
        return Priority.BACKGROUND if self.gateway.background else priority

    def needs_refresh(self, session: ChatSession) -> bool:
        """Whether `session`'s connection token is due for a refresh (or has not come yet):
        a call made with it asks the chat's refresh lock first."""
        return session.connection_expires_at - self.refresh_margin <= datetime.now(UTC)

    async def _with_connection(
        self,
        session: ChatSession,
        call: Callable[[str], Awaitable[T]],
        *,
        priority: Priority = Priority.MESSAGE,
    ) -> T:
        """Runs a call with a fresh connection token, spending the chat's budget at `priority`
        (background work, for the upstreams' service).

        A refused call is retried after a refresh. Another process may have refreshed in
        between with a token that is itself already refused, hence a few rounds; the chat
        counts as ended when Connect refuses the refresh itself (the participant token).
        """
        with calling_for(chat_id=session.chat_id, priority=self._priority(priority)):
            return await self._with_fresh_connection(session, call)

    async def _with_fresh_connection(
        self, session: ChatSession, call: Callable[[str], Awaitable[T]]
    ) -> T:
        if not session.is_active:
            raise ChatEnded()
        if self.needs_refresh(session):
            session = await self.refresh(session)
        for _ in range(REFRESH_ROUNDS):
            try:
                return await call(session.connection_token)
            except AccessDenied:
                session = await self.refresh(session)
        try:
            return await call(session.connection_token)
        except AccessDenied:
            await self.end(session, "connect_access_denied")
            raise ChatEnded() from None


@dataclass(frozen=True, slots=True)
class _NewChat:
    """What a started chat is stored with, besides Connect's answers."""

    display_name: str
    widget_id: str
    route: ConnectRoute
    region: str
    customer_key: str
    upstream: UpstreamClaim | None


# The first connections being saved in this process (the loop keeps only weak references).
_saving: set[asyncio.Future[object]] = set()


def _keep(work: "Coroutine[Any, Any, T] | asyncio.Future[T]") -> "asyncio.Future[T]":
    """`work` as a task (or the future it is) that lives until it is done."""
    task = asyncio.ensure_future(work)
    _saving.add(task)
    task.add_done_callback(_saving.discard)
    return task


def _hand_over(
    started: StartedChat,
    connection: ParticipantConnection | asyncio.Future[ParticipantConnection | None],
    upstream: UpstreamClaim | None,
) -> None:
    """Offers the start's connection (or the one on its way) to the chat's upstream, and
    opens that upstream here when storing the chat claimed its lease."""
    handoff.offer(started.session.chat_id, connection)
    if started.leased and upstream is not None:
        upstream.hold(started.session.chat_id)


def _abandon(first: FirstConnection, connecting: "asyncio.Task[ParticipantConnection]") -> None:
    """A first connection no chat will use: not made if it can still be stopped, its outcome
    dropped once it comes."""
    first.cancel()
    _keep(connecting).add_done_callback(lambda task: task.cancelled() or task.exception())


def get_chat_service(*, background: bool = False) -> ChatService:
    """The chat service of the running event loop, built from settings; `background` for the
    upstreams, whose Connect calls run on a thread pool of their own."""
    return ChatService(
        session_store(),
        get_gateway(background=background),
        refresh_margin=timedelta(seconds=settings.CHATBRIDGE_REFRESH_MARGIN),
        chat_duration=timedelta(minutes=settings.CONNECT_CHAT_DURATION_MINUTES),
        ended_grace=timedelta(seconds=settings.CHATBRIDGE_ENDED_SESSION_TTL),
        starter=get_gateway(starts=True),
    )
