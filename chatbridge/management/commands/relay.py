"""Runs the relay machinery (supervisor, upstreams, archiver) in a process of its own.

ASGI processes start theirs on first use; this command keeps every active chat's upstream
open even while no client is connected, e.g. right after a deployment restarted everything.
"""

import asyncio
import signal

from django.core.management.base import BaseCommand

from chatbridge.metrics_endpoint import add_metrics_arguments, serve_metrics
from chatbridge.runtime import get_runtime, prepare_for_serving, stop_runtime


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
        await stop_runtime()
        self.stdout.write("Relay stopped.")
