"""Customers that use ChatBridge's REST API, as a mobile app does: start the chat, send with
POST .../messages, and read with long-polls on GET .../events?wait=.

Besides send → echo, this path measures two things of its own: how long a send request takes,
and the long-poll wake-up, from the agent's message being created in Connect (its
AbsoluteTime, on this machine's clock) to the long-poll answering with it.
"""

import asyncio
import contextlib
import time
from datetime import datetime
from typing import Any

import httpx

from bench.customers import ConnectFailed, Customer, message_id_of_echo
from bench.stats import PhaseStats

WIDGET_ID = "default"
LONG_POLL_WAIT = 25


class RestApi:
    """One HTTP client for a whole population (a pool of keep-alive connections)."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
            timeout=httpx.Timeout(LONG_POLL_WAIT + 30, connect=30),
        )

    async def start_chat(self, display_name: str) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/chats", json={"widget_id": WIDGET_ID, "display_name": display_name}
        )
        if response.status_code != 201:
            raise ConnectFailed(f"start_http_{response.status_code}")
        return response.json()

    async def aclose(self) -> None:
        await self.client.aclose()


def _wall_ms(absolute_time: str) -> float | None:
    try:
        return datetime.fromisoformat(absolute_time.replace("Z", "+00:00")).timestamp() * 1000
    except (AttributeError, ValueError):
        return None


class RestCustomer(Customer):
    def __init__(self, index: int, stats: PhaseStats, api: RestApi) -> None:
        super().__init__(index, stats)
        self.api = api
        self.chat_id = ""
        self.headers: dict[str, str] = {}
        self.reader: asyncio.Task | None = None

    async def connect(self) -> None:
        began = time.perf_counter()
        try:
            chat = await self.api.start_chat(f"Bench app user {self.index}")
        except httpx.HTTPError as error:
            raise ConnectFailed(f"start_{type(error).__name__}") from None
        self.stats.on_setup_step("start_chat", time.perf_counter() - began)
        self.chat_id = chat["chat_id"]
        self.headers = {"Authorization": f"Bearer {chat['session_token']}"}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        after = 0
        path = f"/api/v1/chats/{self.chat_id}/events"
        while True:
            try:
                response = await self.api.client.get(
                    path,
                    params={"after": after, "wait": LONG_POLL_WAIT},
                    headers=self.headers,
                )
            except httpx.HTTPError as error:
                self.lost_connection(f"poll_{type(error).__name__}")
                return
            if response.status_code != 200:
                self.lost_connection(f"poll_http_{response.status_code}")
                return
            page = response.json()
            answered = time.time() * 1000
            for item in page["events"]:
                after = max(after, item["seq"])
                event = item["event"]
                if event.get("type") != "message" or event.get("participant_role") != "AGENT":
                    continue
                message_id = message_id_of_echo(event.get("content"))
                if message_id is None:
                    continue
                created = _wall_ms(event.get("absolute_time", ""))
                if created is not None and self.stats.in_window(time.perf_counter()):
                    self.stats.extra.setdefault("wakeup_ms", []).append(answered - created)
                self.echoed(message_id)
            if page.get("status") == "ended":
                self.lost_connection("chat_ended")
                return

    async def send(self, message_id: str, content: str) -> None:
        began = time.perf_counter()
        try:
            response = await self.api.client.post(
                f"/api/v1/chats/{self.chat_id}/messages",
                json={"content": content},
                headers={**self.headers, "Idempotency-Key": message_id},
            )
        except httpx.HTTPError as error:
            self.failed(message_id, f"send_{type(error).__name__}")
            return
        if self.stats.in_window(began):
            self.stats.extra.setdefault("send_request_ms", []).append(
                (time.perf_counter() - began) * 1000
            )
        if response.status_code != 201:
            self.failed(message_id, f"send_http_{response.status_code}")

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        if self.chat_id:
            with contextlib.suppress(httpx.HTTPError):
                await self.api.client.post(
                    f"/api/v1/chats/{self.chat_id}/end", headers=self.headers
                )
