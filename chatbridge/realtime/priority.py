"""Live chats first: a new chat's setup in a process waits while that process relays messages.

A process's event loop runs one step at a time, and the setup of a chat (its websocket's
authentication, its upstream's Connect connection, subscription and gap fill) is a few steps of
a few milliseconds of plain Python each. A live message whose frame is read, sent to Connect or
logged while such a step runs waits for the step to end; during a wave of starts a message
could meet several, one after the other, at each hop of its way. So the steps of a setup take
their turn (`LiveFirst.turn`) only while no live message is under way in the process
(`LiveFirst.live`), or once they have waited `max_wait` seconds: a steady stream of messages
delays setups, it never stops them. A message still meets a step that began before it
arrived, never one that begins while it is on its way.

The same turns pace an upstream's opening after a takeover or a reconnect, and a returning
client's authentication. A setup that waits costs its chat nothing it cannot do without: a
customer's sends go to Connect with or without the chat's upstream, and what the upstream
misses meanwhile its gap fill logs. Starts do not wait: a customer waits for their answer.
"""

import asyncio
import contextlib
from collections.abc import Iterator


class LiveFirst:
    __slots__ = ("max_wait", "_live", "_idle")

    def __init__(self, max_wait: float) -> None:
        """`max_wait`: seconds a setup step waits for live work at most; 0 never waits."""
        self.max_wait = max_wait
        self._live = 0
        self._idle: asyncio.Future[None] | None = None

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
        if not self._live and self._idle is not None:
            idle, self._idle = self._idle, None
            if not idle.done():
                idle.set_result(None)

    async def turn(self) -> None:
        """Returns at once when no live message is under way, else once none is (after
        `max_wait` s at most)."""
        if not self._live or self.max_wait <= 0:
            return
        if self._idle is None:
            self._idle = asyncio.get_running_loop().create_future()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.max_wait):
                await asyncio.shield(self._idle)


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
