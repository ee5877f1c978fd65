"""Waiting for a chat's upstream (its Connect websocket in this process) to be over."""

import asyncio

# Failure guard only: an ended chat's upstream stops within milliseconds.
GUARD = 30.0


async def until_upstream_stops(chat_id: str, *, guard: float = GUARD) -> None:
    """Returns once this event loop runs no upstream of the chat. After the chat ended, that
    is when its log is final: what Connect said about the end is logged or never will be."""
    running = [task for task in asyncio.all_tasks() if task.get_name() == f"upstream-{chat_id}"]
    async with asyncio.timeout(guard):
        await asyncio.gather(*running, return_exceptions=True)
