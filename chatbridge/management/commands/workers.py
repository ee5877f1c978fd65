"""Runs the stream workers (transcript archiver, webhook delivery, transcript e-mails) in a
process of their own.

By default every ASGI process runs them too. A deployment that wants its ASGI processes to
spend their CPU on chats alone runs them with CHATBRIDGE_RUN_ARCHIVER=0 and
CHATBRIDGE_RUN_WEBHOOKS=0 and CHATBRIDGE_RUN_MAILER=0, and one or more of these: they share the archive stream through
Redis consumer groups, so each event is archived and delivered once.
"""

import asyncio
import contextlib
import signal

from django.core.management.base import BaseCommand

from chatbridge.metrics_endpoint import add_metrics_arguments, serve_metrics
from chatbridge.redis import get_redis
from chatbridge.runtime import build_stream_workers
from chatbridge.streams.worker import stable_consumer_name


class Command(BaseCommand):
    help = "Archives chat events into the database, delivers webhooks, sends transcript mails."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-archive", action="store_true", help="skip the archiver")
        parser.add_argument("--no-webhooks", action="store_true", help="skip webhook delivery")
        parser.add_argument("--no-mail", action="store_true", help="skip transcript e-mails")
        add_metrics_arguments(parser)

    def handle(self, *args, **options) -> None:
        serve_metrics(options)
        asyncio.run(
            self._run(not options["no_archive"], not options["no_webhooks"], not options["no_mail"])
        )

    async def _run(self, archive: bool, deliver_webhooks: bool, send_mail: bool) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        workers = [
            worker
            for worker in build_stream_workers(
                get_redis(),
                archive=archive,
                deliver_webhooks=deliver_webhooks,
                send_mail=send_mail,
            )
            if worker is not None
        ]
        tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
        self.stdout.write(f"Workers running as {stable_consumer_name()}; Ctrl-C stops them.")
        await stop.wait()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.stdout.write("Workers stopped.")
