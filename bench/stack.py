"""The stack under test, as child processes on free ports of 127.0.0.1.

A private redis-server, the Connect emulator with an echo agent that answers at once, and
ChatBridge as deployed: daphne serving the chats, and `manage.py workers` archiving them into
a migrated SQLite database in a temporary directory (and delivering webhooks). The rate
limits are raised so that they never throttle the load: the bench measures the path, not the
limits. Everything started here is stopped by stop(), whatever state start() reached.
"""

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

from chatbridge.dev.services import EmulatorProcess, RedisServer, free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
HEALTH_TIMEOUT = 60.0

# Far above what any bench run sends, so that no limit answers rate_limited.
UNTHROTTLED = {
    "CHATBRIDGE_CHAT_MESSAGES_PER_MINUTE": "1000000",
    "CHATBRIDGE_WS_MESSAGES_PER_SECOND": "10000",
    "CHATBRIDGE_WS_MESSAGE_BURST": "10000",
    "CHATBRIDGE_WS_IDLE_TIMEOUT": "3600",
    "CHATBRIDGE_WS_AUTH_TIMEOUT": "60",
    "CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_IP": "100000000",
    "CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP": "100000000",
    "CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_CHAT": "100000000",
    "CHATBRIDGE_CONNECTIONS_PER_ADDRESS": "100000000",
    "CHATBRIDGE_CONNECTIONS_PER_CHAT": "100000000",
    # The emulator runs without quotas: the shared Connect budget matches it.
    "CHATBRIDGE_CONNECT_RATES": ",".join(
        f"{operation}=1000000/1000000"
        for operation in (
            "SendMessage",
            "SendEvent",
            "CreateParticipantConnection",
            "GetTranscript",
            "DisconnectParticipant",
            "StartAttachmentUpload",
            "CompleteAttachmentUpload",
            "StartChatContact",
        )
    ),
}


ENABLE_BENCH_WIDGET = (
    "from webwidget.models import Widget; "
    "assert Widget.objects.filter(widget_id='default').update(enabled=True) == 1"
)


class StackFailed(RuntimeError):
    """The stack did not come up; the bench cannot run."""


def healthy(port: int) -> bool:
    """Whether ChatBridge on `port` answers its liveness probe."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def wait_until_serving(
    process: subprocess.Popen, ready: Callable[[], bool], what: str, log: Path | None = None
) -> None:
    """Waits until `ready()` (at most HEALTH_TIMEOUT s); StackFailed, with the end of `log`,
    if the process exits first or never gets ready."""
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while not ready():
        if process.poll() is not None:
            tail = ""
            if log is not None and log.exists():
                tail = ":\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise StackFailed(f"{what} exited with {process.returncode}{tail}")
        if time.monotonic() > deadline:
            raise StackFailed(f"{what} was not ready within {HEALTH_TIMEOUT:.0f} s")
        time.sleep(0.2)


class Stack:
    def __init__(
        self,
        origin: str,
        log_dir: Path,
        server_env: dict[str, str] | None = None,
        *,
        start_processes: int = 0,
        redis_socket: bool = False,
    ) -> None:
        self.origin = origin
        # ChatBridge's processes reach Redis through a unix socket instead of loopback TCP.
        self.redis_socket = redis_socket
        # ASGI processes that only start chats (CHATBRIDGE_HOLD_UPSTREAMS off), as nginx's
        # `chatbridge_starts` pool in deploy/nginx/chatbridge.conf.
        self.start_processes = start_processes
        self.starters: list[subprocess.Popen] = []
        self.start_ports: list[int] = []
        self.server_env = dict(server_env or {})
        self.log_dir = log_dir
        self.workdir = ""
        self.redis: RedisServer | None = None
        self.emulator: EmulatorProcess | None = None
        self.daphne: subprocess.Popen | None = None
        self.workers: subprocess.Popen | None = None
        self.daphne_log: Path | None = None
        self.port = 0
        self.env: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def start_urls(self) -> tuple[str, ...]:
        """Where chats are started: the processes of their own, else the one daphne."""
        if not self.start_ports:
            return (self.base_url,)
        return tuple(f"http://127.0.0.1:{port}" for port in self.start_ports)

    @property
    def redis_socket_path(self) -> str:
        return f"{self.workdir}/redis.sock"

    @property
    def redis_url(self) -> str:
        """The Redis URL ChatBridge's processes are given."""
        assert self.redis is not None
        if self.redis_socket:
            return f"unix://{self.redis_socket_path}?db=0"
        return self.redis.url

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat/"

    @property
    def emulator_url(self) -> str:
        assert self.emulator is not None
        return self.emulator.url

    def pids(self) -> dict[str, int]:
        found = {"bench": os.getpid()}
        for name, process in (
            ("daphne", self.daphne),
            ("workers", self.workers),
            ("emulator", self.emulator and self.emulator.process),
            ("redis", self.redis and self.redis.process),
        ):
            if process is not None:
                found[name] = process.pid
        for index, process in enumerate(self.starters):
            found[f"starts-{index}"] = process.pid
        return found

    def start(self) -> None:
        """Starts redis, the emulator and daphne; raises StackFailed with the reason."""
        self.start_services()
        try:
            self._start_workers()
            self._start_daphne()
            for index in range(self.start_processes):
                self._start_starter(index)
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            raise StackFailed(str(error)) from error

    def start_services(self) -> None:
        """What every bench's stack stands on: redis, the emulator and a migrated database,
        and the environment ChatBridge's processes get (`env`)."""
        try:
            self.workdir = tempfile.mkdtemp(prefix="chatbridge-bench-")
            socket = ("--unixsocket", self.redis_socket_path) if self.redis_socket else ()
            self.redis = RedisServer(extra_args=socket).start()
            # Quotas off: the bench measures ChatBridge, not Connect's throttling.
            self.emulator = EmulatorProcess(
                agent="echo",
                quotas=False,
                extra_args=("--agent-join-delay", "0", "--echo-delay", "0"),
            ).start()
            self.env = self._environment()
            self._migrate()
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            raise StackFailed(str(error)) from error

    def _environment(self) -> dict[str, str]:
        assert self.redis is not None and self.emulator is not None
        return {
            "DJANGO_SETTINGS_MODULE": "chatbridge.settings",
            # As deployed: DEBUG off (Django then keeps no query log), keys of its own.
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CHATBRIDGE_TOKEN_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on loopback: no TLS proxy in front, so no redirect to https.
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": f"sqlite:///{self.workdir}/bench.sqlite3",
            "CONNECT_ENDPOINT_URL": self.emulator.url,
            "CONNECT_PARTICIPANT_ENDPOINT_URL": self.emulator.url,
            "AWS_ACCESS_KEY_ID": "emulator",
            "AWS_SECRET_ACCESS_KEY": "emulator",
            "CHATBRIDGE_ALLOWED_ORIGINS": self.origin,
            # The stream workers run in a process of their own (manage.py workers), as
            # docs/deployment.md has it: daphne's CPU goes to chats alone.
            "CHATBRIDGE_RUN_ARCHIVER": "0",
            "CHATBRIDGE_RUN_WEBHOOKS": "0",
            "CHATBRIDGE_RUN_MAILER": "0",
            **UNTHROTTLED,
            **self.server_env,
        }

    def _migrate(self) -> None:
        self._manage("migrate", "--noinput")
        # Migrated with DEBUG off, as deployed, the `default` widget is disabled: the bench's
        # customers start their chats with it, so it is enabled here, as an operator would.
        self._manage("shell", "-c", ENABLE_BENCH_WIDGET)

    def _manage(self, *args: str) -> None:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=180,
        )
        if result.returncode != 0:
            raise StackFailed(f"manage.py {args[0]} failed:\n" + result.stdout + result.stderr)

    def _start_workers(self) -> None:
        with open(Path(self.workdir) / "workers.log", "wb") as log:
            self.workers = subprocess.Popen(
                [sys.executable, "manage.py", "workers"],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _start_daphne(self) -> None:
        self.daphne_log = Path(self.workdir) / "daphne.log"
        self.daphne, self.port = self.serve(
            "chatbridge.asgi:application", "daphne.log", what="daphne"
        )

    def _start_starter(self, index: int) -> None:
        process, port = self.serve(
            "chatbridge.asgi:application",
            f"starts-{index}.log",
            what="daphne",
            env={
                "CHATBRIDGE_HOLD_UPSTREAMS": "0",
                "CHATBRIDGE_RUN_ARCHIVER": "0",
                "CHATBRIDGE_RUN_WEBHOOKS": "0",
                "CHATBRIDGE_RUN_MAILER": "0",
            },
        )
        self.starters.append(process)
        self.start_ports.append(port)

    def serve(
        self,
        application: str,
        log_name: str,
        *,
        what: str,
        ready: Callable[[int], bool] = healthy,
        env: dict[str, str] | None = None,
    ) -> tuple[subprocess.Popen, int]:
        """`python -m chatbridge.serve` serving `application` on a free port of 127.0.0.1, in
        the stack's environment (with `env`), its output in `log_name` of the stack's
        directory: the process and its port once `ready(port)`. StackFailed (the process
        stopped) if it exits first or is not ready within HEALTH_TIMEOUT s. The caller stops
        it in the end (stop_process)."""
        port = free_port()
        log = Path(self.workdir) / log_name
        with open(log, "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "chatbridge.serve", "-b", "127.0.0.1", "-p", str(port),
                 application],
                cwd=ROOT,
                env={**os.environ, **self.env, **(env or {})},
                stdout=output,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_until_serving(process, lambda: ready(port), what, log)
        except StackFailed:
            stop_process(process)
            raise
        return process, port

    def log_tail(self, lines: int = 30) -> str:
        if self.daphne_log is None or not self.daphne_log.exists():
            return ""
        return "\n".join(self.daphne_log.read_text(errors="replace").splitlines()[-lines:])

    def alive(self) -> bool:
        return all(
            process is not None and process.poll() is None
            for process in (
                self.daphne,
                *self.starters,
                self.workers,
                self.emulator and self.emulator.process,
                self.redis and self.redis.process,
            )
        )

    def stop(self) -> None:
        """Stops daphne, the emulator and redis (in that order), and keeps daphne's log."""
        stop_process(self.daphne)
        self.daphne = None
        for process in self.starters:
            stop_process(process)
        self.starters = []
        stop_process(self.workers)
        self.workers = None
        if self.emulator is not None:
            self.emulator.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.daphne_log is not None and self.daphne_log.exists():
            self.log_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.daphne_log, self.log_dir / "latest-daphne.log")
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
