"""Async access to Amazon Connect's chat APIs.

boto3 is synchronous, so every call runs on the bounded executor of chatbridge.connect.clients
and the event loop never blocks. Retries of 5xx and connection errors are botocore's own
retry mode; what is left after them is mapped to a ChatBridge error.

`_call` is the one place every call passes, so it is where each takes a token of the shared
Connect budget (chatbridge.connect.budget) before it is made, and where a call Connect
throttles anyway slows the budget down and queues for another token, until
CHATBRIDGE_CONNECT_MAX_WAIT: botocore does not retry throttles (chatbridge.connect.clients).
It is also where each call is measured: its operation, its outcome, its duration and the
attempts botocore repeated (chatbridge.metrics).
"""

import asyncio
import functools
import hashlib
import time
from concurrent.futures import Executor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from chatbridge import errors
from chatbridge.connect import clients
from chatbridge.connect.budget import ConnectBudget, current
from chatbridge.connect.errors import map_error
from chatbridge.connect.types import (
    AttachmentDownload,
    AttachmentUpload,
    ConnectRoute,
    ParticipantConnection,
    PersistentChat,
    SentItem,
    StartedContact,
    TranscriptItem,
    TranscriptPage,
    parse_time,
)
from chatbridge.metrics import CONNECT_CALL_SECONDS, CONNECT_CALLS, CONNECT_RETRIES

# Enough for any chat Connect allows; a guard against a NextToken that never ends.
MAX_TRANSCRIPT_PAGES = 1000


# The outcome label of each error a call can end in; anything else is "unavailable".
_OUTCOMES: tuple[tuple[type[errors.ChatBridgeError], str], ...] = (
    (errors.Throttled, "throttled"),
    (errors.AccessDenied, "access_denied"),
    (errors.InvalidInput, "invalid"),
    (errors.QuotaExceeded, "quota_exceeded"),
    (errors.Conflict, "conflict"),
    (errors.NotFound, "not_found"),
)


def outcome_of(error: errors.ChatBridgeError) -> str:
    """The `outcome` label of a call that ended in `error`."""
    for kind, outcome in _OUTCOMES:
        if isinstance(error, kind):
            return outcome
    return "unavailable"


def _retry_attempts(response: dict[str, Any]) -> int:
    return int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0)


async def _call(
    client_factory,
    operation: str,
    *,
    executor: Executor,
    region: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Takes a token of the operation's budget in `region` (Connect's quotas are per Region),
    then calls; a throttled call slows the budget down and goes round again, within one
    deadline for the whole call."""
    client = client_factory()
    api_name = client.meta.method_to_api_mapping.get(operation, operation)
    budget = ConnectBudget.from_settings(region)
    deadline = time.monotonic() + budget.wait_limit(current())
    # Calls with a ClientToken wait as one: a retried request does not queue twice.
    token = params.get("ClientToken")
    waiter = hashlib.sha256(f"{api_name}:{token}".encode()).hexdigest() if token else None
    announced = False
    while True:
        grant = await budget.acquire(
            api_name, deadline=deadline, waiter=waiter, announce=not announced
        )
        announced = announced or bool(grant and grant.queued)
        try:
            return await _invoke(client, operation, executor=executor, **params)
        except errors.Throttled:
            if api_name not in budget.rates:
                raise
            await budget.slow_down(api_name)


async def _invoke(client, operation: str, *, executor: Executor, **params: Any) -> dict[str, Any]:
    method = getattr(client, operation)
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    retries = 0
    outcome = "cancelled"  # the caller stopped waiting; the thread finishes the call
    try:
        response = await loop.run_in_executor(executor, functools.partial(method, **params))
    except (BotoCoreError, ClientError) as exc:
        error = map_error(exc)
        outcome = outcome_of(error)
        if isinstance(exc, ClientError):
            retries = _retry_attempts(exc.response)
        raise error from None
    except Exception:
        outcome = "unavailable"
        raise
    else:
        outcome = "ok"
        retries = _retry_attempts(response)
        return response
    finally:
        CONNECT_CALL_SECONDS.labels(operation=operation).observe(time.perf_counter() - started)
        CONNECT_CALLS.labels(operation=operation, outcome=outcome).inc()
        if retries:
            CONNECT_RETRIES.labels(operation=operation).inc(retries)


def _without_none(**params: Any) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}


class ConnectGateway:
    """One method per Connect operation ChatBridge uses, with typed results.

    `background` gateways run on their own thread pool: the upstreams use one, so that
    reconnecting many chats at once does not delay what customers are waiting for; `starts`
    gateways too, so that starting many chats at once does not either. `region` is the region
    of the chats it serves (None: CONNECT_REGION).
    """

    def __init__(
        self, *, background: bool = False, starts: bool = False, region: str | None = None
    ) -> None:
        self.background = background
        self.starts = starts
        self.region = region or None

    def _connect(self):
        return clients.connect_client(self.region)

    def _participant(self):
        return clients.participant_client(self.region)

    @property
    def _executor(self) -> Executor:
        if self.starts:
            return clients.start_executor()
        return clients.background_executor() if self.background else clients.executor()

    async def start_chat_contact(
        self,
        *,
        display_name: str,
        attributes: dict[str, str] | None = None,
        initial_message: tuple[str, str] | None = None,
        client_token: str | None = None,
        chat_duration_minutes: int | None = None,
        route: ConnectRoute | None = None,
        persistent_chat: PersistentChat | None = None,
    ) -> StartedContact:
        """Starts a chat on `route`'s instance and flow (the settings' by default), in this
        gateway's region, continuing `persistent_chat`'s contact when given."""
        route = route or ConnectRoute()
        params = _without_none(
            InstanceId=route.instance_id or settings.CONNECT_INSTANCE_ID,
            ContactFlowId=route.contact_flow_id or settings.CONNECT_CONTACT_FLOW_ID,
            ParticipantDetails={"DisplayName": display_name},
            Attributes=attributes or None,
            ClientToken=client_token,
            ChatDurationInMinutes=chat_duration_minutes,
            SupportedMessagingContentTypes=[
                "text/plain",
                "text/markdown",
                "application/json",
                "application/vnd.amazonaws.connect.message.interactive",
                "application/vnd.amazonaws.connect.message.interactive.response",
            ],
        )
        if initial_message is not None:
            content_type, content = initial_message
            params["InitialMessage"] = {"ContentType": content_type, "Content": content}
        if persistent_chat is not None:
            params["PersistentChat"] = {
                "RehydrationType": persistent_chat.rehydration_type,
                "SourceContactId": persistent_chat.source_contact_id,
            }
        response = await _call(
            self._connect,
            "start_chat_contact",
            executor=self._executor,
            region=self.region,
            **params,
        )
        return StartedContact(
            contact_id=response["ContactId"],
            participant_id=response["ParticipantId"],
            participant_token=response["ParticipantToken"],
            continued_from_contact_id=response.get("ContinuedFromContactId") or "",
        )

    async def stop_contact(self, contact_id: str) -> None:
        await _call(
            self._connect,
            "stop_contact",
            executor=self._executor,
            region=self.region,
            ContactId=contact_id,
            InstanceId=settings.CONNECT_INSTANCE_ID,
        )

    async def create_connection(
        self, participant_token: str, *, connect_participant: bool = True
    ) -> ParticipantConnection:
        response = await _call(
            self._participant,
            "create_participant_connection",
            executor=self._executor,
            region=self.region,
            Type=["WEBSOCKET", "CONNECTION_CREDENTIALS"],
            ParticipantToken=participant_token,
            ConnectParticipant=connect_participant,
        )
        websocket = response["Websocket"]
        credentials = response["ConnectionCredentials"]
        return ParticipantConnection(
            websocket_url=websocket["Url"],
            websocket_expires_at=parse_time(websocket["ConnectionExpiry"]),
            connection_token=credentials["ConnectionToken"],
            connection_expires_at=parse_time(credentials["Expiry"]),
        )

    async def send_message(
        self, connection_token: str, *, content_type: str, content: str, client_token: str | None
    ) -> SentItem:
        return await self._send(
            "send_message", connection_token, content_type, content, client_token
        )

    async def send_event(
        self,
        connection_token: str,
        *,
        content_type: str,
        content: str | None = None,
        client_token: str | None = None,
    ) -> SentItem:
        return await self._send("send_event", connection_token, content_type, content, client_token)

    async def _send(
        self,
        operation: str,
        connection_token: str,
        content_type: str,
        content: str | None,
        client_token: str | None,
    ) -> SentItem:
        """SendMessage and SendEvent take the same members and answer the same shape."""
        response = await _call(
            self._participant,
            operation,
            executor=self._executor,
            region=self.region,
            **_without_none(
                ConnectionToken=connection_token,
                ContentType=content_type,
                Content=content,
                ClientToken=client_token,
            ),
        )
        return SentItem(id=response["Id"], absolute_time=response["AbsoluteTime"])

    async def get_transcript(
        self,
        connection_token: str,
        *,
        max_results: int | None = None,
        next_token: str | None = None,
        scan_direction: str | None = None,
        sort_order: str | None = None,
        start_position: dict[str, str] | None = None,
    ) -> TranscriptPage:
        response = await _call(
            self._participant,
            "get_transcript",
            executor=self._executor,
            region=self.region,
            **_without_none(
                ConnectionToken=connection_token,
                MaxResults=max_results,
                NextToken=next_token,
                ScanDirection=scan_direction,
                SortOrder=sort_order,
                StartPosition=start_position,
            ),
        )
        return TranscriptPage(
            items=tuple(TranscriptItem.from_connect(item) for item in response["Transcript"]),
            next_token=response.get("NextToken") or None,
            initial_contact_id=response.get("InitialContactId"),
        )

    async def disconnect(self, connection_token: str, *, client_token: str | None = None) -> None:
        await _call(
            self._participant,
            "disconnect_participant",
            executor=self._executor,
            region=self.region,
            **_without_none(ConnectionToken=connection_token, ClientToken=client_token),
        )

    async def start_attachment_upload(
        self,
        connection_token: str,
        *,
        content_type: str,
        size_bytes: int,
        name: str,
        client_token: str | None = None,
    ) -> AttachmentUpload:
        response = await _call(
            self._participant,
            "start_attachment_upload",
            executor=self._executor,
            region=self.region,
            **_without_none(
                ConnectionToken=connection_token,
                ContentType=content_type,
                AttachmentSizeInBytes=size_bytes,
                AttachmentName=name,
                ClientToken=client_token,
            ),
        )
        metadata = response["UploadMetadata"]
        return AttachmentUpload(
            attachment_id=response["AttachmentId"],
            upload_url=metadata["Url"],
            upload_url_expires_at=parse_time(metadata["UrlExpiry"]),
            headers=dict(metadata.get("HeadersToInclude") or {}),
        )

    async def complete_attachment_upload(
        self, connection_token: str, *, attachment_ids: list[str], client_token: str | None = None
    ) -> None:
        await _call(
            self._participant,
            "complete_attachment_upload",
            executor=self._executor,
            region=self.region,
            **_without_none(
                ConnectionToken=connection_token,
                AttachmentIds=attachment_ids,
                ClientToken=client_token,
            ),
        )

    async def get_attachment(
        self, connection_token: str, *, attachment_id: str
    ) -> AttachmentDownload:
        response = await _call(
            self._participant,
            "get_attachment",
            executor=self._executor,
            region=self.region,
            ConnectionToken=connection_token,
            AttachmentId=attachment_id,
        )
        return AttachmentDownload(
            url=response["Url"],
            url_expires_at=parse_time(response["UrlExpiry"]),
            size_bytes=response.get("AttachmentSizeInBytes"),
        )


@functools.cache
def get_gateway(
    *, background: bool = False, starts: bool = False, region: str | None = None
) -> ConnectGateway:
    """`starts` for starting chats, on a thread pool of their own (see clients)."""
    return ConnectGateway(background=background, starts=starts, region=region)
