"""Simulated customers and the population that drives them through one phase.

A phase: connect the customers gradually (the ramp), let each send a message every interval
from a random phase, measure a steady window of `duration` seconds once every customer is
connected (or has failed), stop sending, wait for the last echoes, close. Each message carries
a unique id, and the echo agent answers "Echo: <content>", so an echo is matched to its send.

A phase may hold several paths (the direct one and ChatBridge's) that take turns (Turns): each
path's customers start and send only in its own turns of `interval` seconds, in rotation. A
machine's speed moves over minutes; paths measured minutes apart would put that move into
their ratios, paths that alternate every few seconds meet it alike.
"""

import asyncio
import contextlib
import math
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


@dataclass(frozen=True)
class Turns:
    """When each of `count` paths is active: turns of `length` seconds in rotation from the
    phase's epoch, path 0 first. Times are seconds after the epoch. One path: always."""

    count: int
    length: float

    @property
    def period(self) -> float:
        return self.count * self.length

    def at(self, turn: int, active: float) -> float:
        """When `active` seconds of turn `turn`'s own time have passed."""
        cycle, within = divmod(active, self.length)
        return cycle * self.period + turn * self.length + within

    def next_send(self, turn: int, offset: float, after: float) -> float:
        """The first moment at or after `after` that lies `offset` seconds into a turn of
        `turn`: a customer sends once per turn of its path, always as far into it."""
        first = turn * self.length + offset
        cycles = max(0, math.ceil((after - first) / self.period))
        return first + cycles * self.period

    def window_start(self, after: float) -> float:
        """The first start of a whole rotation at or after `after`: a window made of whole
        rotations gives every path the same time in it."""
        return math.ceil(after / self.period) * self.period


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
    """Drives the customers of one phase through it, in groups that take turns (one group per
    path, in turn order; a single group is always on), each group with its own stats."""

    def __init__(
        self, groups: list[tuple[PhaseStats, list[Customer]]], plan: PhasePlan, seed: int
    ) -> None:
        self.groups = groups
        self.all_stats = [stats for stats, _ in groups]
        self.customers = [customer for _, customers in groups for customer in customers]
        self.plan = plan
        self.turns = Turns(len(groups), plan.interval)
        self.random = random.Random(seed)
        self._stop = asyncio.Event()
        self._ready = {id(customer): asyncio.Event() for customer in self.customers}
        # At most this many chats being set up at once: the ramp slows to what the server
        # sustains instead of piling up attempts that all time out.
        self._connecting = asyncio.Semaphore(plan.max_connecting)

    @property
    def window_length(self) -> float:
        """The steady window: `duration`, rounded up to whole rotations of the turns."""
        return math.ceil(self.plan.duration / self.turns.period - 1e-9) * self.turns.period

    async def run(
        self,
        on_connected: Callable[[], Awaitable[None]] | None = None,
        on_window_end: Callable[[], Awaitable[None]] | None = None,
        epoch: float | None = None,
    ) -> None:
        """`epoch` (a time.perf_counter() value) is when the ramp starts: the processes of one
        phase share it, and the i-th customer of a group starts when its turns have run
        i / ramp_rate seconds, in whichever process drives it, so that together they keep the
        planned rate. `on_connected` runs when this process's ramp is over; the steady window
        opens when it returns (at the start of a rotation, when there are several turns)."""
        plan = self.plan
        started = time.perf_counter() if epoch is None else epoch
        for stats in self.all_stats:
            stats.started = started
        tasks = [
            asyncio.create_task(
                self._live(
                    customer,
                    started,
                    turn,
                    started + self.turns.at(turn, customer.index / plan.ramp_rate),
                )
            )
            for turn, (_, customers) in enumerate(self.groups)
            for customer in customers
        ]
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(plan.ramp_timeout):
                    await asyncio.gather(*(ready.wait() for ready in self._ready.values()))
            ramp = time.perf_counter() - started
            for stats, customers in self.groups:
                stats.extra["ramp_s"] = round(ramp, 2)
                stats.extra["ramp_chats_per_s"] = round(stats.connected / ramp, 1)
                stats.extra["ramp_complete"] = all(
                    self._ready[id(customer)].is_set() for customer in customers
                )
            if on_connected is not None:
                await on_connected()
            window_start = time.perf_counter()
            length = self.window_length
            for stats in self.all_stats:
                stats.window = (window_start, window_start + length)
                stats.extra["window_s"] = length
                stats.extra["turns"] = self.turns.count
                stats.state = "steady"
            await asyncio.sleep(length)
            self._stop.set()
            for stats in self.all_stats:
                stats.state = "drain"
            if on_window_end is not None:
                await on_window_end()
            await self._drain()
        finally:
            self._stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for stats in self.all_stats:
                stats.state = "closing"
            await self._close_all()
            for stats in self.all_stats:
                stats.state = "done"

    async def _live(self, customer: Customer, epoch: float, turn: int, start_at: float) -> None:
        """One customer's life: wait for its turn, connect, then send in each of its path's
        turns, as far into it each time, until told to stop."""
        stats = customer.stats
        await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
        try:
            async with self._connecting, asyncio.timeout(self.plan.connect_timeout):
                await customer.connect()
        except ConnectFailed as failure:
            stats.on_connect_failure(failure.kind)
            return
        except TimeoutError:
            stats.on_connect_failure("connect_timeout")
            return
        except Exception as error:  # a bench must survive anything one chat does
            stats.on_connect_failure(type(error).__name__)
            return
        finally:
            self._ready[id(customer)].set()
        customer.connected = True
        stats.on_connected()
        offset = self.random.uniform(0, self.plan.interval)
        next_at = epoch + self.turns.next_send(turn, offset, time.perf_counter() - epoch)
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_at - time.perf_counter())):
                    await self._stop.wait()
            if self._stop.is_set() or not customer.connected:
                return
            next_at += self.turns.period
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
