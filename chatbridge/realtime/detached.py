"""Work started and not awaited (a connection slot given back, a chat's group left): held
until it ends, since the event loop keeps only weak references to its tasks, and a failure
logged rather than lost."""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any


class Detached:
    """The detached tasks of one owner; `failure` is the warning that a failed one logs."""

    def __init__(self, logger: logging.Logger, failure: str) -> None:
        self._logger = logger
        self._failure = failure
        self._tasks: set[asyncio.Task] = set()

    def start(self, work: Coroutine[Any, Any, Any], *, name: str | None = None) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._logger.warning(self._failure, exc_info=task.exception())

    async def wait(self) -> None:
        """Returns once every task started so far has ended, whichever way."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
