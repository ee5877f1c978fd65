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
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from chatbridge import errors
from chatbridge.connect import clients
from chatbridge.connect.budget import ConnectBudget, calling_for, current
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
# The longest a pair's second call waits to be let go: a guard against a caller that forgets.
GATE_TIMEOUT = 10.0


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


def _waiter(api_name: str, params: dict[str, Any]) -> str | None:
    """Calls with a ClientToken wait as one: a retried request does not queue twice."""
    token = params.get("ClientToken")
    return hashlib.sha256(f"{api_name}:{token}".encode()).hexdigest() if token else None


async def _call(
    client_factory,
    operation: str,
    *,
    executor: Executor,
    region: str | None = None,
    deadline: float | None = None,
    announced: bool = False,
    **params: Any,
) -> dict[str, Any]:
    """Takes a token of the operation's budget in `region` (Connect's quotas are per Region),
    then calls; a throttled call slows the budget down and goes round again, within one
    deadline for the whole call (`deadline`, when it continues a wait begun elsewhere)."""
    client = client_factory()
    api_name = client.meta.method_to_api_mapping.get(operation, operation)
    budget = ConnectBudget.from_settings(region)
    if deadline is None:
        deadline = time.monotonic() + budget.wait_limit(current())
    waiter = _waiter(api_name, params)
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
        _record(operation, time.perf_counter() - started, outcome, retries)


def _record(operation: str, seconds: float, outcome: str, retries: int) -> None:
    """One Connect call's metrics: its duration, its outcome, botocore's repeated attempts."""
    CONNECT_CALL_SECONDS.labels(operation=operation).observe(seconds)
    CONNECT_CALLS.labels(operation=operation, outcome=outcome).inc()
    if retries:
        CONNECT_RETRIES.labels(operation=operation).inc(retries)


class _Pair:
    """Two calls on one thread, the second made from the first's answer: one hop to the thread
    and back instead of two. Each call is measured as `_invoke` measures it; a caller that
    stops waiting records the call in flight as cancelled, and the second is then not made."""

    __slots__ = ("_calls", "_lock", "_stopped", "_in_flight", "_since", "gate")

    def __init__(
        self,
        first: tuple[Any, str, dict[str, Any]],
        second: tuple[Any, str, Callable[[dict[str, Any]], dict[str, Any]]],
    ) -> None:
        """`first`: (client, operation, params); `second`: (client, operation, a function of the
        first's answer giving its params)."""
        self._calls = (first, second)
        self._lock = threading.Lock()
        self._stopped = False
        # The call in flight and since when (the first's time counts from its hop, as _invoke's).
        self._in_flight: str | None = first[1]
        self._since = time.perf_counter()
        # Set when the second call may go (the first's answer is out of the caller's hands).
        self.gate = threading.Event()

    def run(
        self, on_first: Callable[[dict[str, Any] | BaseException], None]
    ) -> dict[str, Any] | BaseException | None:
        """On the thread: hands the first call's answer or error to `on_first` as soon as it
        has it, then answers the second's (None: not made)."""
        (client, operation, params), (next_client, next_operation, next_params) = self._calls
        with self._lock:
            if self._stopped:
                on_first(asyncio.CancelledError())
                return None
        answer = self._step(client, operation, params)
        on_first(answer)
        if isinstance(answer, BaseException):
            return None
        following_params = next_params(answer)
        self.gate.wait(GATE_TIMEOUT)
        with self._lock:
            if self._stopped:
                return None
            self._in_flight, self._since = next_operation, time.perf_counter()
        return self._step(next_client, next_operation, following_params)

    def _step(
        self, client: Any, operation: str, params: dict[str, Any]
    ) -> dict[str, Any] | BaseException:
        retries = 0
        result: dict[str, Any] | BaseException
        try:
            result = getattr(client, operation)(**params)
        except (BotoCoreError, ClientError) as exc:
            result = map_error(exc)
            outcome = outcome_of(result)
            if isinstance(exc, ClientError):
                retries = _retry_attempts(exc.response)
        except Exception as exc:
            result, outcome = exc, "unavailable"
        else:
            outcome = "ok"
            retries = _retry_attempts(result)
        with self._lock:
            self._in_flight = None
            if not self._stopped:
                _record(operation, time.perf_counter() - self._since, outcome, retries)
        return result

    def stop(self) -> None:
        """The caller stopped waiting: the call in flight counts as cancelled, and the second
        is not made."""
        with self._lock:
            self._stopped = True
            if self._in_flight is not None:
                _record(self._in_flight, time.perf_counter() - self._since, "cancelled", 0)
        self.gate.set()


class _Following:
    """The second call of a pair, made on its thread once the first has answered and the
    caller lets it go (release)."""

    __slots__ = ("_pair", "_done")

    def __init__(self, pair: _Pair, done: asyncio.Future[Any]) -> None:
        self._pair = pair
        self._done = done

    def release(self) -> None:
        self._pair.gate.set()

    def cancel(self) -> None:
        self._pair.stop()

    async def result(self) -> dict[str, Any] | errors.ChatBridgeError | None:
        """Its response, or the ChatBridge error it ended in; None if it was not made (cancelled
        first). A caller that stops waiting counts it as cancelled."""
        try:
            following = await self._done
        except asyncio.CancelledError:
            self._pair.stop()
            raise
        if following is None:
            return None
        if isinstance(following, BaseException) and not isinstance(
            following, errors.ChatBridgeError
        ):
            raise following
        return following


async def _invoke_pair(pair: _Pair, *, executor: Executor) -> tuple[dict[str, Any], _Following]:
    """Both calls of `pair` on one hop to `executor`. Raises the first call's error; answers
    the first's response as soon as it has it, with the second call still on its way."""
    loop = asyncio.get_running_loop()
    first: asyncio.Future[dict[str, Any] | BaseException] = loop.create_future()

    def settle(answer: dict[str, Any] | BaseException) -> None:
        if not first.done():
            first.set_result(answer)

    done = loop.run_in_executor(
        executor, pair.run, lambda answer: loop.call_soon_threadsafe(settle, answer)
    )
    try:
        answer = await first
    except asyncio.CancelledError:
        pair.stop()
        raise
    if isinstance(answer, BaseException):
        raise answer
    return answer, _Following(pair, done)


class FirstConnection:
    """A new contact's participant connection (CreateParticipantConnection), made once the
    caller lets it go: on the start's thread right after StartChatContact when the start took
    its budget token too, otherwise with a token of its own. Held back until `release`, it
    does not compete for the interpreter with the work that answers the start; must be
    released or cancelled."""

    __slots__ = ("_gateway", "_budget", "_contact", "_following", "_released", "_cancelled")

    def __init__(
        self,
        gateway: "ConnectGateway",
        budget: ConnectBudget,
        contact: StartedContact,
        following: _Following | None,
    ) -> None:
        self._gateway = gateway
        self._budget = budget
        self._contact = contact
        self._following = following
        self._released = asyncio.Event()
        self._cancelled = False

    def release(self) -> None:
        """The connection may be made now."""
        self._released.set()
        if self._following is not None:
            self._following.release()

    def cancel(self) -> None:
        """No connection is wanted after all: one not yet made is not made (`connection` is
        then cancelled)."""
        self._cancelled = True
        self._released.set()
        if self._following is not None:
            self._following.cancel()

    async def connection(self) -> ParticipantConnection:
        """The connection, once released and made; Connect's error as it is (a throttle first
        slows the budget down and asks again with a token of its own)."""
        with calling_for(chat_id=self._contact.contact_id):
            if self._following is not None:
                response = await self._following.result()
                if isinstance(response, dict):
                    return _connected(response)
                if response is None:
                    # Its token was taken with the start's; Connect's bucket never saw it spent.
                    await self._budget.give_back("CreateParticipantConnection")
                    raise asyncio.CancelledError()
                if not isinstance(response, errors.Throttled):
                    raise response
                await self._budget.slow_down("CreateParticipantConnection")
            else:
                await self._released.wait()
                if self._cancelled:
                    raise asyncio.CancelledError()
            return await self._gateway.create_connection(self._contact.participant_token)


class ContinuationRefused(Exception):
    """Connect refused to continue a persistent chat (not ended yet for Connect, continued
    already, gone: InvalidInput or NotFound) and started nothing: `error` says how."""

    def __init__(self, error: errors.ChatBridgeError) -> None:
        super().__init__(type(error).__name__)
        self.error = error


def _without_none(**params: Any) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}


def _start_params(
    *,
    display_name: str,
    attributes: dict[str, str] | None,
    initial_message: tuple[str, str] | None,
    client_token: str | None,
    chat_duration_minutes: int | None,
    route: ConnectRoute | None,
    persistent_chat: PersistentChat | None,
) -> dict[str, Any]:
    """StartChatContact's request."""
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
    return params


def _started(response: dict[str, Any]) -> StartedContact:
    return StartedContact(
        contact_id=response["ContactId"],
        participant_id=response["ParticipantId"],
        participant_token=response["ParticipantToken"],
        continued_from_contact_id=response.get("ContinuedFromContactId") or "",
    )


def _connection_params(
    started: dict[str, Any], *, connect_participant: bool = True
) -> dict[str, Any]:
    """CreateParticipantConnection's request for the participant of `started` (a
    StartChatContact response, or any mapping with its ParticipantToken)."""
    return {
        "Type": ["WEBSOCKET", "CONNECTION_CREDENTIALS"],
        "ParticipantToken": started["ParticipantToken"],
        "ConnectParticipant": connect_participant,
    }


def _connected(response: dict[str, Any]) -> ParticipantConnection:
    websocket = response["Websocket"]
    credentials = response["ConnectionCredentials"]
    return ParticipantConnection(
        websocket_url=websocket["Url"],
        websocket_expires_at=parse_time(websocket["ConnectionExpiry"]),
        connection_token=credentials["ConnectionToken"],
        connection_expires_at=parse_time(credentials["Expiry"]),
    )


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

    async def start_and_connect(
        self, **request: Any
    ) -> tuple[StartedContact, ParticipantConnection]:
        """start_contact (its arguments), then its participant's connection at once: the
        start's other errors and the connection's as they are."""
        contact, first = await self.start_contact(**request)
        first.release()
        return contact, await first.connection()

    async def start_contact(
        self,
        *,
        display_name: str,
        attributes: dict[str, str] | None = None,
        initial_message: tuple[str, str] | None = None,
        client_token: str | None = None,
        chat_duration_minutes: int | None = None,
        route: ConnectRoute | None = None,
        persistent_chat: PersistentChat | None = None,
    ) -> tuple[StartedContact, FirstConnection]:
        """StartChatContact on `route`'s instance and flow (the settings' by default), in this
        gateway's region, continuing `persistent_chat`'s contact when given; answered as soon
        as Connect answers it, with its participant's FirstConnection, for the caller to
        release (or cancel): at less cost than two calls (both tokens of the budget in one
        script, both calls on one hop to a thread) when the connection's token was free;
        otherwise made with a token of its own, as create_connection's.

        Raises ContinuationRefused when Connect refuses to continue `persistent_chat` (no
        contact was started); the start's other errors as they are."""
        params = _start_params(
            display_name=display_name,
            attributes=attributes,
            initial_message=initial_message,
            client_token=client_token,
            chat_duration_minutes=chat_duration_minutes,
            route=route,
            persistent_chat=persistent_chat,
        )
        budget = ConnectBudget.from_settings(self.region)
        try:
            started, following = await self._start_taking_both(budget, params)
        except (errors.InvalidInput, errors.NotFound) as error:
            if persistent_chat is None:
                raise
            raise ContinuationRefused(error) from None
        contact = _started(started)
        return contact, FirstConnection(self, budget, contact, following)

    async def _start_taking_both(
        self, budget: ConnectBudget, params: dict[str, Any]
    ) -> tuple[dict[str, Any], _Following | None]:
        """StartChatContact's response, with CreateParticipantConnection on its way after it
        when its token came with the start's (None: not called)."""
        deadline = time.monotonic() + budget.wait_limit(current())
        grant, both = await budget.acquire_pair(
            "StartChatContact",
            "CreateParticipantConnection",
            deadline=deadline,
            waiter=_waiter("StartChatContact", params),
        )
        try:
            if not both:
                started = await _invoke(
                    self._connect(), "start_chat_contact", executor=self._executor, **params
                )
                return started, None
            pair = _Pair(
                (self._connect(), "start_chat_contact", params),
                (self._participant(), "create_participant_connection", _connection_params),
            )
            return await _invoke_pair(pair, executor=self._executor)
        except Exception as error:
            if both:
                await budget.give_back("CreateParticipantConnection")
            if not isinstance(error, errors.Throttled):
                raise
        # Connect throttled the start anyway: as every call, it slows the budget down and
        # queues again, within the same deadline.
        await budget.slow_down("StartChatContact")
        started = await _call(
            self._connect,
            "start_chat_contact",
            executor=self._executor,
            region=self.region,
            deadline=deadline,
            announced=bool(grant and grant.queued),
            **params,
        )
        return started, None

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
            **_connection_params(
                {"ParticipantToken": participant_token}, connect_participant=connect_participant
            ),
        )
        return _connected(response)

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
