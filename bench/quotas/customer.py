"""One simulated customer, through ChatBridge's public protocol only.

It starts its chat with POST /api/v1/chats (retrying a 429 or 503 after its Retry-After, with
the same Idempotency-Key, as the docs tell clients to), opens /ws/chat/, and at its planned
times sends a typing frame and then a message; it answers every agent message with a read
receipt and pings every 25 s. Everything it hears back is written into its CustomerRecord.
"""

import asyncio
import contextlib
import json
import random
import time
import uuid
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from bench.quotas.plan import Plan, content_for, display_name, message_id, message_id_in
from bench.quotas.records import PENDING, SENT, CustomerRecord, MessageRecord, StartAttempt

WIDGET_ID = "default"
PING_INTERVAL = 25.0
BACKOFF_MAX = 30.0
RETRYABLE = {429, 503}


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


async def sleep_until(at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.time()))


class QuotaCustomer:
    def __init__(self, index: int, plan: Plan, http: httpx.AsyncClient) -> None:
        self.index = index
        self.plan = plan
        self.http = http
        self.record = CustomerRecord(index, display_name(index), plan.is_burst(index))
        self.socket: ClientConnection | None = None
        self.token = ""
        self._event_ids: set[str] = set()
        self._typing_sent: list[float] = []

    # Life

    async def live(self) -> None:
        """Start, connect, send until the window closes; the caller cancels at the end."""
        await sleep_until(self.plan.start_at(self.index))
        if not await self.start():
            return
        try:
            await self.connect()
        except (OSError, websockets.WebSocketException, TimeoutError) as error:
            self.record.closed = f"connect_{type(error).__name__}"
            return
        assert self.socket is not None
        tasks = [
            asyncio.create_task(self.read()),
            asyncio.create_task(self.ping()),
        ]
        try:
            await self.send_all()
            await tasks[0]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def start(self) -> bool:
        """POST /api/v1/chats until it answers 201, retrying a 429 or 503 as a careful client
        does: after its Retry-After, and at least a backoff doubling from 1 s to 30 s,
        jittered, with the same Idempotency-Key, until the steady window opens."""
        key = str(uuid.uuid4())
        jitter = random.Random(self.plan.seed * 7919 + self.index)
        attempt = 0
        while True:
            requested = time.time()
            try:
                response = await self.http.post(
                    f"{self.plan.base_url(self.index)}/api/v1/chats",
                    json={"widget_id": WIDGET_ID, "display_name": self.record.display_name},
                    headers={"Idempotency-Key": key},
                )
            except httpx.HTTPError as error:
                self.record.starts.append(
                    StartAttempt(requested, time.time(), 0, type(error).__name__)
                )
                return False
            answered = time.time()
            if response.status_code == 201:
                body = response.json()
                self.record.starts.append(StartAttempt(requested, answered, 201))
                self.record.chat_id = body["chat_id"]
                self.token = body["session_token"]
                return True
            code = _problem_code(response)
            self.record.starts.append(StartAttempt(requested, answered, response.status_code, code))
            if response.status_code not in RETRYABLE:
                return False
            retry_after = 0.0
            with contextlib.suppress(ValueError):
                retry_after = float(response.headers.get("Retry-After", 0))
            backoff = min(BACKOFF_MAX, 2.0**attempt) * jitter.uniform(1.0, 1.3)
            attempt += 1
            delay = max(retry_after, backoff)
            if answered + delay >= self.plan.window_start:
                return False
            await asyncio.sleep(delay)

    async def connect(self) -> None:
        self.socket = await websockets.connect(
            self.plan.ws_url(self.index),
            origin=self.plan.origin,
            ping_interval=None,
            compression=None,
            open_timeout=30,
        )
        await self.socket.send(_dumps({"type": "auth", "token": self.token, "ref": "auth"}))

    async def ping(self) -> None:
        assert self.socket is not None
        while True:
            await asyncio.sleep(PING_INTERVAL)
            await self.socket.send('{"type":"ping"}')

    async def send_all(self) -> None:
        assert self.socket is not None
        for number, at in enumerate(self.plan.send_times(self.index), start=1):
            await sleep_until(at - self.plan.typing_lead)
            if self.record.closed:
                return
            self.record.typing.append(PENDING)
            self._typing_sent.append(time.time())
            typing_ref = f"t:{len(self.record.typing) - 1}"
            await self._send(_dumps({"type": "typing", "ref": typing_ref}))
            await sleep_until(at)
            mid = message_id(self.index, number)
            self.record.messages[mid] = MessageRecord(
                sent_at=time.time(), behind_typing=self.record.typing[-1] == PENDING
            )
            await self._send(
                _dumps({"type": "send", "content": content_for(mid), "client_id": mid,
                        "ref": f"m:{mid}"})
            )  # fmt: skip

    async def _send(self, text: str) -> None:
        assert self.socket is not None
        try:
            await self.socket.send(text)
        except websockets.ConnectionClosed:
            self.record.closed = self.record.closed or "ws_closed"

    # What comes back

    async def read(self) -> None:
        assert self.socket is not None
        try:
            async for raw in self.socket:
                await self.on_frame(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        if not self.record.closed:
            self.record.closed = "ws_closed"

    async def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        ref = frame.get("ref")
        if kind == "ready":
            self.record.ready_at = time.time()
            self.record.participant_id = frame.get("participant_id", "")
        elif kind == "upstream":
            if frame.get("status") == "connected" and self.record.upstream_at is None:
                self.record.upstream_at = time.time()
        elif kind == "event":
            await self.on_event(frame["event"])
        elif kind == "ended":
            self.record.closed = f"ended_{frame.get('reason')}"
        elif kind == "error":
            self.on_error(ref, str(frame.get("code")))
        elif isinstance(ref, str):
            # ack, or any later frame that reports a status for a request.
            self.on_answer(ref, frame)

    async def on_event(self, event: dict[str, Any]) -> None:
        event_id = event.get("id", "")
        if event_id in self._event_ids:
            self.record.duplicate_events += 1
            return
        self._event_ids.add(event_id)
        if event.get("type") != "message":
            return
        mid = message_id_in(event.get("content"))
        message = self.record.messages.get(mid or "")
        if message is None:
            return
        if event.get("participant_role") == "CUSTOMER":
            message.own_seen += 1
        elif event.get("participant_role") == "AGENT":
            message.echo_seen += 1
            message.echo_event_id = event_id
            if mid not in self.record.receipts and self.socket is not None:
                self.record.receipts[mid] = PENDING
                with contextlib.suppress(websockets.ConnectionClosed):
                    await self.socket.send(
                        _dumps({"type": "receipt", "message_id": event_id, "kind": "read",
                                "ref": f"r:{mid}"})
                    )  # fmt: skip

    def on_error(self, ref: object, code: str) -> None:
        if ref == "auth":
            self.record.closed = f"auth_{code}"
            return
        if not isinstance(ref, str) or ":" not in ref:
            self.record.async_errors[code] = self.record.async_errors.get(code, 0) + 1
            return
        self._settle(ref, f"error:{code}", None)

    def on_answer(self, ref: str, frame: dict[str, Any]) -> None:
        status = frame.get("status")
        if ref.startswith("t:"):
            outcome = "sent" if frame.get("sent") else "skipped"
            if status is not None and status != SENT:
                outcome = str(status)
            self._settle(ref, outcome, None)
        elif ref.startswith("m:"):
            self._settle(ref, SENT if status in (None, SENT) else str(status), time.time())
        elif ref.startswith("r:"):
            self._settle(ref, "acked", None)

    def _settle(self, ref: str, outcome: str, at: float | None) -> None:
        prefix, _, key = ref.partition(":")
        if prefix == "m" and key in self.record.messages:
            message = self.record.messages[key]
            message.outcome = outcome
            if outcome == SENT:
                message.acked_at = at
        elif prefix == "t" and key.isdigit() and int(key) < len(self.record.typing):
            if self.record.typing[int(key)] == PENDING:
                self.record.typing_answer_s.append(time.time() - self._typing_sent[int(key)])
            self.record.typing[int(key)] = outcome
        elif prefix == "r" and key in self.record.receipts:
            self.record.receipts[key] = outcome

    def settled(self) -> bool:
        """Nothing more to wait for: every message answered, every sent one echoed (or the
        websocket is gone)."""
        if self.record.closed:
            return True
        for message in self.record.messages.values():
            if message.outcome != SENT and not message.outcome.startswith("error:"):
                return False
            if message.outcome == SENT and not message.echo_seen:
                return False
        return PENDING not in self.record.receipts.values()

    async def close(self) -> None:
        if self.socket is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self.socket.close()


def _problem_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("code", ""))
    except ValueError:
        return ""
