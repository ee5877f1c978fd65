"""Scripted agents. ``echo`` joins each new chat after a delay and answers every customer
message with typing, then an echo of it, then a read receipt; ``none`` leaves chats waiting
for a person (the agent console) or a test (the control API)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .errors import ServiceError
from .state import AGENT, CUSTOMER, MESSAGE, Contact, Item

if TYPE_CHECKING:
    from .app import Emulator

ECHO_AGENT_NAME = "Alex (echo)"


def echo_of(item: Item) -> str:
    content = item.content or ""
    return f"Echo: {content}" if item.content_type == "text/plain" else content


class AgentDirector:
    """Runs the scripted agents as tasks that a reset cancels."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.tasks: set[asyncio.Task[Any]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        emulator.store.item_listeners.append(self.on_item)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        self.tasks.clear()
        self._locks.clear()

    def contact_started(self, contact: Contact) -> None:
        if self.emulator.config.agent == "echo":
            self._spawn(self._join_later(contact))

    async def _join_later(self, contact: Contact) -> None:
        await asyncio.sleep(self.emulator.config.agent_join_delay)
        if not contact.active:
            return
        agent = self.emulator.chat.join(contact, AGENT, ECHO_AGENT_NAME)
        contact.echo_agent_id = agent.participant_id
        # Answer what the customer wrote before the agent arrived (the InitialMessage).
        for item in list(contact.items):
            if item.type == MESSAGE and item.participant_role == CUSTOMER:
                self._spawn(self._echo(contact, item))

    def on_item(self, contact: Contact, item: Item) -> None:
        if item.type == MESSAGE and item.participant_role == CUSTOMER and contact.echo_agent_id:
            self._spawn(self._echo(contact, item))

    async def _echo(self, contact: Contact, item: Item) -> None:
        # One answer at a time per chat, in the order the messages came.
        lock = self._locks.setdefault(contact.contact_id, asyncio.Lock())
        async with lock:
            agent = contact.participants.get(contact.echo_agent_id or "")
            if agent is None or not agent.active or not contact.active:
                return
            chat = self.emulator.chat
            chat.typing(contact, agent)
            await asyncio.sleep(self.emulator.config.echo_delay)
            if not agent.active or not contact.active:
                return
            chat.message(contact, agent, item.content_type or "text/plain", echo_of(item))
            with contextlib.suppress(ServiceError):
                chat.receipt(contact, agent, item.id, "read")
