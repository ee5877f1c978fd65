"""`make run`: Redis (if none answers), the Connect emulator and daphne, stopped together."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from chatbridge.archive.demo import DEMO_USERNAME, ensure_demo_user
from chatbridge.dev.services import EmulatorProcess, child_options, redis_for, stop_process


class Command(BaseCommand):
    help = "Runs ChatBridge locally with Redis and the Amazon Connect emulator; Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--emulator-port", type=int, default=8900)
        parser.add_argument("--agent", choices=["echo", "none"], default="echo")
        parser.add_argument(
            "--no-emulator",
            action="store_true",
            help="Use the CONNECT_* settings as they are (a real Connect instance).",
        )

    def handle(self, *args, host, port, emulator_port, agent, no_emulator, **options):
        stopping = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())

        env = dict(os.environ, DJANGO_SETTINGS_MODULE="chatbridge.settings")
        demo_password = self._demo_user() if settings.DEBUG else None
        # With sentinels, Redis is theirs to provide.
        redis_server = None if settings.REDIS_SENTINELS else redis_for(settings.REDIS_URL)
        if redis_server:
            self.stdout.write(f"Started redis-server on {redis_server.url}")
        emulator = None
        server = None
        try:
            if not no_emulator:
                emulator = EmulatorProcess(agent=agent, port=emulator_port).start()
                env.update(
                    CONNECT_ENDPOINT_URL=emulator.url,
                    CONNECT_PARTICIPANT_ENDPOINT_URL=emulator.url,
                    AWS_ACCESS_KEY_ID=env.get("AWS_ACCESS_KEY_ID", "emulator"),
                    AWS_SECRET_ACCESS_KEY=env.get("AWS_SECRET_ACCESS_KEY", "emulator"),
                )
            server = subprocess.Popen(
                [sys.executable, "-m", "chatbridge.serve", "-b", host, "-p", str(port),
                 "chatbridge.asgi:application"],
                env=env,
                **child_options(),
            )  # fmt: skip
            base = f"http://{host}:{port}"
            self._wait_until_healthy(base, server, stopping)
            self._print_urls(base, emulator)
            if demo_password:
                self.stdout.write(
                    f"  Transcript viewer  {base}/admin/archive/chat/  "
                    f"(user {DEMO_USERNAME}, password {demo_password})\n"
                )
            while not stopping.is_set():
                if server.poll() is not None:
                    raise CommandError(f"daphne exited with {server.returncode}")
                if emulator and emulator.process and emulator.process.poll() is not None:
                    raise CommandError("the Connect emulator exited")
                stopping.wait(0.5)
            self.stdout.write("Stopping…")
        finally:
            stop_process(server)
            if emulator:
                emulator.stop()
            if redis_server:
                redis_server.stop()

    def _demo_user(self) -> str | None:
        """The demo viewer's fresh password; None (and a hint) before the first migrate."""
        try:
            return ensure_demo_user()
        except DatabaseError:
            self.stdout.write("No demo user: the database is not migrated (make migrate).")
            return None

    def _wait_until_healthy(self, base: str, server, stopping: threading.Event) -> None:
        deadline = time.monotonic() + 60
        while not stopping.is_set():
            if server.poll() is not None:
                raise CommandError(f"daphne exited with {server.returncode}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise CommandError("ChatBridge did not become healthy within 60 s")
            stopping.wait(0.2)

    def _print_urls(self, base: str, emulator: EmulatorProcess | None) -> None:
        lines = [
            "",
            "ChatBridge is running. Ctrl-C stops everything.",
            f"  App            {base}/",
            f"  Admin          {base}/admin/",
            f"  Health         {base}/healthz",
        ]
        if emulator:
            lines += [
                f"  Emulator       {emulator.url}",
                f"  Agent console  {emulator.url}/_emulator/agent/",
            ]
        self.stdout.write("\n".join(lines) + "\n")
