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


def chosen_loop() -> str:
    """CHATBRIDGE_EVENT_LOOP (read here, not from Django's settings: Django is set up later)."""
    choice = os.environ.get("CHATBRIDGE_EVENT_LOOP", "uvloop").strip().lower() or "uvloop"
    if choice not in LOOPS:
        raise SystemExit(f"CHATBRIDGE_EVENT_LOOP: {choice!r} is not one of {', '.join(LOOPS)}")
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

    choice = chosen_loop()
    loop = new_loop(choice)
    if "ASGI_THREADS" in os.environ:
        threads = int(os.environ["ASGI_THREADS"])
        loop.set_default_executor(ThreadPoolExecutor(threads, thread_name_prefix="asgi"))
    asyncioreactor.install(loop)
    return choice
