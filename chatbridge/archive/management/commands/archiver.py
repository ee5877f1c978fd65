"""`manage.py archiver`: archives chat events from Redis into the database until stopped.

Run one or more next to the ASGI processes; they share the work through a consumer group.
SIGTERM or SIGINT stops after the batch in hand is committed and acknowledged.
"""

import asyncio
import os
import signal
import socket

from django.conf import settings
from django.core.management.base import BaseCommand

from chatbridge.archive.worker import Archiver
from chatbridge.redis import get_redis


class Command(BaseCommand):
    help = "Archives chat events from Redis into the database until SIGTERM or SIGINT."

    def add_arguments(self, parser):
        parser.add_argument(
            "--consumer",
            default=f"{socket.gethostname()}-{os.getpid()}",
            help="Consumer name in the archive's Redis consumer group (unique per process).",
        )
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args, consumer: str, batch_size: int, **options):
        asyncio.run(self._run(consumer, batch_size))
        self.stdout.write("Archiver stopped.")

    async def _run(self, consumer: str, batch_size: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        redis = get_redis()
        archiver = Archiver(
            redis,
            prefix=settings.CHATBRIDGE_REDIS_PREFIX,
            consumer_name=consumer,
            batch_size=batch_size,
        )
        self.stdout.write(f"Archiving {archiver.stream} as {consumer}; Ctrl-C stops.")
        try:
            await archiver.run(stop)
        finally:
            await redis.aclose()
