"""Runs the relay machinery (supervisor, upstreams, archiver) in a process of its own.

ASGI processes start theirs on first use; this command keeps every active chat's upstream
open even while no client is connected, e.g. right after a deployment restarted everything.
SIGTERM or SIGINT releases its chats' leases before it exits, so that other processes take
them over at once.
"""

import asyncio
import signal

from django.core.management.base import BaseCommand

from chatbridge.metrics_endpoint import add_metrics_arguments, serve_metrics
from chatbridge.runtime import drain_runtime, get_runtime, prepare_for_serving


class Command(BaseCommand):
    help = "Holds the Connect websockets of active chats and archives their events."

    def add_arguments(self, parser) -> None:
        add_metrics_arguments(parser)

    def handle(self, *args, **options) -> None:
        serve_metrics(options)
        prepare_for_serving()
        asyncio.run(self._run())

    async def _run(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        runtime = get_runtime()
        await runtime.supervisor.scan()
        self.stdout.write(f"Relay running as {runtime.supervisor.owner}; Ctrl-C stops it.")
        await stop.wait()
        # Released at once: the other processes take the chats over without waiting for
        # their leases to lapse.
        await drain_runtime()
        self.stdout.write("Relay stopped.")
