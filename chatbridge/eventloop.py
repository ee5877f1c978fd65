"""The event loop under daphne's Twisted reactor: uvloop's, unless CHATBRIDGE_EVENT_LOOP says
asyncio.

daphne runs Twisted's asyncio reactor on a loop it makes itself, with asyncio's default
(pure Python) event loop. Every websocket frame, Redis round trip and hop back from a Connect
thread goes round that loop several times; uvloop runs the same loop in C. The reactor has to
be installed before daphne.server is imported (Twisted picks its reactor once), so
chatbridge.serve calls install_reactor() before it imports daphne; daphne then keeps the
reactor it finds.
"""

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

LOOPS = ("uvloop", "asyncio")


def chosen_loop(value: str | None = None) -> str:
    """The loop `value` names; by default CHATBRIDGE_EVENT_LOOP's, read from the environment
    here because chatbridge.serve installs the reactor before Django reads its settings
    (chatbridge.settings reads it too, through this, so that start-up checks it with the rest).

    Raises ValueError naming the setting."""
    if value is None:
        value = os.environ.get("CHATBRIDGE_EVENT_LOOP", "")
    choice = value.strip().lower() or "uvloop"
    if choice not in LOOPS:
        raise ValueError(f"CHATBRIDGE_EVENT_LOOP: {choice!r} is not one of {', '.join(LOOPS)}")
    return choice


def new_loop(choice: str) -> asyncio.AbstractEventLoop:
    if choice == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def install_reactor() -> str:
    """Installs Twisted's asyncio reactor on the chosen loop; answers the loop's name. Keeps
    daphne's ASGI_THREADS (the size of the loop's default executor)."""
    from twisted.internet import asyncioreactor

    try:
        choice = chosen_loop()
    except ValueError as error:
        raise SystemExit(str(error)) from None
    loop = new_loop(choice)
    if "ASGI_THREADS" in os.environ:
        threads = int(os.environ["ASGI_THREADS"])
        loop.set_default_executor(ThreadPoolExecutor(threads, thread_name_prefix="asgi"))
    asyncioreactor.install(loop)
    return choice
