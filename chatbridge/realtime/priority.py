"""Live chats first: a new chat's setup in a process waits while that process relays messages.

A process's event loop runs one step at a time, and the setup of a chat (its websocket's
authentication, its upstream's Connect connection, subscription and gap fill) is a few dozen
steps of plain Python between awaits, some of a few milliseconds. A live message whose frame
is read, sent to Connect or logged while such a step runs waits for the step to end; during a
wave of starts a message could meet several, one after the other, at each hop of its way. So
a setup runs `gated` (`LiveFirst.gated`): before each of its steps, the first and every one
after an await (a Redis reply, Connect's answer, a socket's read), it waits while a live
message is under way in the process (`LiveFirst.live`), for `max_wait` seconds at most: a
steady stream of messages delays setups, it never stops them. A message still meets a step
that began before it arrived, never one that begins while it is on its way.

Setup steps that waited go one at a time once no message is under way (`stepped` lets the
next go): released together, they would run back to back, and a message arriving then would
wait for all of them. A setup waits `max_setup_wait` seconds in all at most, and an upstream
counts as connected (the send path leaves it the customer's items, live until it logs them)
only once its gated opening is over: otherwise its last steps would wait for items that wait
for it. Measured in docs/performance.md, "Every step of a setup taking its turn".

The same turns pace an upstream's opening after a takeover or a reconnect, and a returning
client's authentication. A setup that waits costs its chat nothing it cannot do without: a
customer's sends go to Connect with or without the chat's upstream, and what the upstream
misses meanwhile its gap fill logs. Starts do not wait: a customer waits for their answer.
"""

import asyncio
import collections
import contextlib
import types
from collections.abc import Coroutine, Generator, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class LiveFirst:
    __slots__ = ("max_wait", "max_setup_wait", "_live", "_queue")

    def __init__(self, max_wait: float, max_setup_wait: float | None = None) -> None:
        """`max_wait`: seconds a setup step waits for live work at most; 0 never waits.
        `max_setup_wait`: seconds a gated setup waits in all (default four steps' worth),
        after which its remaining steps go at once."""
        self.max_wait = max_wait
        self.max_setup_wait = 4 * max_wait if max_setup_wait is None else max_setup_wait
        self._live = 0
        self._queue: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def busy(self) -> bool:
        return self._live > 0

    @contextlib.contextmanager
    def live(self) -> Iterator["UnderWay"]:
        """Marks a live message under way for as long as the block runs, or until the mark
        it gives is ended (UnderWay.end)."""
        self._live += 1
        under_way = UnderWay(self)
        try:
            yield under_way
        finally:
            under_way.end()

    def _leave(self) -> None:
        self._live -= 1
        if not self._live:
            self._pass_turn()

    def _pass_turn(self) -> None:
        """Lets the longest-waiting setup step go, if no live message is under way. One at a
        time: setups that all went the moment the process fell idle would run back to back,
        and a message arriving then would wait for all of them."""
        if self._live:
            return
        while self._queue:
            waiting = self._queue.popleft()
            if not waiting.done():
                waiting.set_result(None)
                return

    async def turn(self) -> None:
        """Returns at once when no live message is under way and no setup step waits, else
        at its turn (after `max_wait` s at most); the next waiting step goes after it."""
        waiting = self.next_turn()
        if waiting is not None:
            await waiting
            asyncio.get_running_loop().call_soon(self._pass_turn)

    def next_turn(self) -> "asyncio.Future[None] | None":
        """None when a setup step may go now; else a future done at its turn: once no live
        message is under way and the steps waiting before it have gone, or after `max_wait`
        s. Cancelling it stops only this wait. The caller calls `stepped` once its step has
        run, for the next to go."""
        queue = self._queue
        while queue and queue[0].done():
            queue.popleft()
        if self.max_wait <= 0 or not (self._live or queue):
            return None
        loop = asyncio.get_running_loop()
        waiting = loop.create_future()
        queue.append(waiting)

        def go() -> None:
            if not waiting.done():
                waiting.set_result(None)

        timer = loop.call_later(self.max_wait, go)
        waiting.add_done_callback(lambda _: timer.cancel())
        return waiting

    def stepped(self) -> None:
        """A step that waited for its turn has run: the next one may go."""
        self._pass_turn()

    @types.coroutine
    def gated(self, setup: Coroutine[Any, Any, T]) -> Generator[Any, Any, T]:
        """Runs `setup` (awaited as a coroutine: `await live_first.gated(...)`) with each of
        its steps taking its turn. It drives the coroutine as the task would, passing up
        what it waits for; between a wait's end and the next step it waits for
        `next_turn`, until the setup has waited `max_setup_wait` s in all: a setup whose
        steps each wait their longest would otherwise hold what it sets up for a second or
        more. An error thrown in (a cancellation) goes to the coroutine at once."""
        value: Any = None
        error: BaseException | None = None
        loop = asyncio.get_running_loop()
        waited = 0.0
        while True:
            waiting = None
            if error is None and waited < self.max_setup_wait:
                waiting = self.next_turn()
            if waiting is not None:
                began = loop.time()
                try:
                    yield from waiting
                except BaseException as exc:  # noqa: BLE001 - the setup's to handle
                    error = exc
                waited += loop.time() - began
            try:
                step = setup.throw(error) if error is not None else setup.send(value)
            except StopIteration as done:
                return done.value
            finally:
                if waiting is not None:
                    self.stepped()
            try:
                value, error = (yield step), None
            except BaseException as exc:  # noqa: BLE001 - the setup's to handle
                value, error = None, exc


class UnderWay:
    """One live message's mark (LiveFirst.live)."""

    __slots__ = ("_live_first",)

    def __init__(self, live_first: LiveFirst) -> None:
        self._live_first: LiveFirst | None = live_first

    def end(self) -> None:
        """The message is no longer under way: waiting for Connect's rate, say, it costs the
        process nothing until its turn comes, and setups need not wait for it."""
        if self._live_first is not None:
            self._live_first._leave()
            self._live_first = None
