"""Simulated customers and the population that drives them through one phase.

A phase: connect the customers gradually (the ramp), let each send a message every interval
from a random phase, measure a steady window of `duration` seconds once every customer is
connected (or has failed), stop sending, wait for the last echoes, close. Each message carries
a unique id, and the echo agent answers "Echo: <content>", so an echo is matched to its send.
"""

import asyncio
import contextlib
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.stats import PhaseStats

ECHO_PREFIX = "Echo: "


class ConnectFailed(Exception):
    """A customer could not get its chat going; `kind` names the step or error."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def content_for(message_id: str) -> str:
    """A chat line of ordinary size that starts with its id."""
    return f"{message_id} Hi, I have a question about my order, could you help me please?"


def message_id_of_echo(content: object) -> str | None:
    if isinstance(content, str) and content.startswith(ECHO_PREFIX):
        return content[len(ECHO_PREFIX) :].split(" ", 1)[0]
    return None


def wall_ms(absolute_time: str) -> float | None:
    """An event's AbsoluteTime in ms since the epoch, as time.time() * 1000 counts them."""
    try:
        return datetime.fromisoformat(absolute_time.replace("Z", "+00:00")).timestamp() * 1000
    except (AttributeError, ValueError):
        return None


class Customer(ABC):
    """One chat. Subclasses open it and send over their path; the base class keeps time."""

    # The kind of client within its population, whose send → echo is also kept apart.
    variant: str | None = None

    def __init__(self, index: int, stats: PhaseStats) -> None:
        self.index = index
        self.stats = stats
        self.pending: dict[str, float] = {}
        self.connected = False
        self._count = 0

    @abstractmethod
    async def connect(self) -> None:
        """Starts the chat and opens its websocket; raises ConnectFailed."""

    @abstractmethod
    async def send(self, message_id: str, content: str) -> None:
        """Sends one message; failures are reported through failed()."""

    @abstractmethod
    async def close(self) -> None: ...

    def next_message_id(self) -> str:
        self._count += 1
        return f"{self.stats.name[0]}{self.index}-{self._count}"

    async def send_one(self) -> None:
        message_id = self.next_message_id()
        now = time.perf_counter()
        self.pending[message_id] = now
        self.stats.on_sent(now)
        await self.send(message_id, content_for(message_id))

    def echoed(self, message_id: str) -> None:
        now = time.perf_counter()
        sent_at = self.pending.pop(message_id, None)
        if sent_at is not None:
            self.stats.on_echo(sent_at, now, self.variant)

    def received(self, event: dict[str, Any], received_ms: float) -> None:
        """A chat event this customer got at `received_ms` (time.time() * 1000). An agent's
        echo ends its message's send → echo, and its wake-up, from the message being created
        in Connect (its AbsoluteTime, on this machine's clock) to its arrival here, is kept as
        the series wakeup_ms (wakeup_ms_<variant> for a variant)."""
        if event.get("type") != "message" or event.get("participant_role") != "AGENT":
            return
        message_id = message_id_of_echo(event.get("content"))
        if message_id is None:
            return
        self.echoed(message_id)
        created = wall_ms(event.get("absolute_time", ""))
        if created is not None:
            series = "wakeup_ms" if self.variant is None else f"wakeup_ms_{self.variant}"
            self.stats.sample(series, received_ms - created, time.perf_counter())

    def failed(self, message_id: str | None, kind: str) -> None:
        if message_id is not None and self.pending.pop(message_id, None) is None:
            return
        self.stats.on_error(kind)

    def lost_connection(self, kind: str) -> None:
        """The websocket closed under a live chat: its pending messages are lost too."""
        if self.connected:
            self.connected = False
            self.stats.on_disconnected()
            self.stats.on_error(kind)
        for message_id in list(self.pending):
            self.failed(message_id, f"{kind}_pending")


@dataclass
class PhasePlan:
    ramp_rate: float
    interval: float
    duration: float
    drain: float
    connect_timeout: float
    max_connecting: int
    ramp_timeout: float


class Population:
    """Drives a list of customers through one phase and returns its stats."""

    def __init__(
        self, stats: PhaseStats, customers: list[Customer], plan: PhasePlan, seed: int
    ) -> None:
        self.stats = stats
        self.customers = customers
        self.plan = plan
        self.random = random.Random(seed)
        self._stop = asyncio.Event()
        self._ready = [asyncio.Event() for _ in customers]
        # At most this many chats being set up at once: the ramp slows to what the server
        # sustains instead of piling up attempts that all time out.
        self._connecting = asyncio.Semaphore(plan.max_connecting)

    async def run(
        self,
        on_connected: Callable[[], Awaitable[None]] | None = None,
        on_window_end: Callable[[], Awaitable[None]] | None = None,
        epoch: float | None = None,
    ) -> PhaseStats:
        """`epoch` (a time.perf_counter() value) is when the ramp starts: the processes of one
        phase share it, and customer i starts at epoch + i / ramp_rate in whichever process
        drives it, so that together they keep the planned rate. `on_connected` runs when this
        process's ramp is over, before the steady window opens."""
        plan = self.plan
        started = time.perf_counter() if epoch is None else epoch
        self.stats.started = started
        tasks = [
            asyncio.create_task(
                self._live(customer, ready, started + customer.index / plan.ramp_rate)
            )
            for customer, ready in zip(self.customers, self._ready, strict=True)
        ]
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(plan.ramp_timeout):
                    await asyncio.gather(*(ready.wait() for ready in self._ready))
            ramp = time.perf_counter() - started
            self.stats.extra["ramp_s"] = round(ramp, 2)
            self.stats.extra["ramp_chats_per_s"] = round(self.stats.connected / ramp, 1)
            self.stats.extra["ramp_complete"] = all(ready.is_set() for ready in self._ready)
            if on_connected is not None:
                await on_connected()
            window_start = time.perf_counter()
            self.stats.window = (window_start, window_start + plan.duration)
            self.stats.state = "steady"
            await asyncio.sleep(plan.duration)
            self._stop.set()
            self.stats.state = "drain"
            if on_window_end is not None:
                await on_window_end()
            await self._drain()
        finally:
            self._stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.stats.state = "closing"
            await self._close_all()
            self.stats.state = "done"
        return self.stats

    async def _live(self, customer: Customer, ready: asyncio.Event, start_at: float) -> None:
        """One customer's life: wait for its turn, connect, then send until told to stop."""
        await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
        try:
            async with self._connecting, asyncio.timeout(self.plan.connect_timeout):
                await customer.connect()
        except ConnectFailed as failure:
            self.stats.on_connect_failure(failure.kind)
            return
        except TimeoutError:
            self.stats.on_connect_failure("connect_timeout")
            return
        except Exception as error:  # a bench must survive anything one chat does
            self.stats.on_connect_failure(type(error).__name__)
            return
        finally:
            ready.set()
        customer.connected = True
        self.stats.on_connected()
        next_at = time.perf_counter() + self.random.uniform(0, self.plan.interval)
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_at - time.perf_counter())):
                    await self._stop.wait()
            if self._stop.is_set() or not customer.connected:
                return
            next_at += self.plan.interval
            try:
                await customer.send_one()
            except Exception as error:
                customer.failed(None, f"send_{type(error).__name__}")

    async def _drain(self) -> None:
        """Waits for the last echoes; what has not come by the deadline timed out."""
        deadline = time.perf_counter() + self.plan.drain
        while time.perf_counter() < deadline:
            if not any(customer.pending for customer in self.customers):
                break
            await asyncio.sleep(0.05)
        for customer in self.customers:
            for message_id in list(customer.pending):
                customer.failed(message_id, "echo_timeout")

    async def _close_all(self) -> None:
        semaphore = asyncio.Semaphore(200)

        async def close(customer: Customer) -> None:
            async with semaphore:
                customer.connected = False
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(10):
                        await customer.close()

        await asyncio.gather(*(close(customer) for customer in self.customers))
