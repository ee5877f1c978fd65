"""The stack under Connect's quotas: as deployed, with the emulator enforcing them.

A private redis-server; the Connect emulator with its echo agent and AWS's default quotas on
(or the ones given); ChatBridge as docs/deployment.md runs it: ASGI processes started with
`python -m chatbridge.serve` (without the archiver and webhooks) and one `manage.py relay`
process, which keeps every chat's Connect websocket open, archives and delivers webhooks.

ChatBridge keeps its own limits at their defaults except those counted per client address:
every simulated customer comes from 127.0.0.1, where real ones come from as many addresses.
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.stack import HEALTH_TIMEOUT, ROOT, UNTHROTTLED, Stack, StackFailed
from chatbridge.dev.services import EmulatorProcess, RedisServer, free_port, stop_process

# Far above what the customers of one address send, so that only per-chat limits apply.
ONE_ADDRESS_MANY_CUSTOMERS = {
    "CHATBRIDGE_API_REQUESTS_PER_MINUTE_PER_IP": "100000000",
    "CHATBRIDGE_API_CHAT_STARTS_PER_MINUTE_PER_IP": "100000000",
    "CHATBRIDGE_CONNECTIONS_PER_ADDRESS": "100000000",
}


class QuotaStack(Stack):
    """redis, the emulator with quotas, `asgi_processes` ASGI processes and a relay."""

    def __init__(
        self,
        origin: str,
        log_dir: Path,
        *,
        asgi_processes: int,
        quota_overrides: tuple[str, ...] = (),
        server_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(origin, log_dir, server_env)
        self.asgi_processes = asgi_processes
        self.quota_overrides = quota_overrides
        self.asgi: list[subprocess.Popen] = []
        self.asgi_ports: list[int] = []
        self.relay: subprocess.Popen | None = None
        # Pids killed on purpose (--kill-holder): not a failure of the stack.
        self.killed: set[int] = set()

    @property
    def base_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.asgi_ports]

    @property
    def ws_urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{port}/ws/chat/" for port in self.asgi_ports]

    def start(self) -> None:
        try:
            self.workdir = tempfile.mkdtemp(prefix="chatbridge-bench-quotas-")
            self.redis = RedisServer().start()
            quota_args = tuple(arg for item in self.quota_overrides for arg in ("--quota", item))
            self.emulator = EmulatorProcess(agent="echo", quotas=True, extra_args=quota_args)
            self.emulator.start()
            self.env = self._environment()
            self._migrate()
            # As docs/deployment.md has it: the relay archives, delivers webhooks and sends
            # transcript e-mails, the ASGI processes do none of it.
            self.relay = self._spawn(
                "relay",
                [sys.executable, "manage.py", "relay"],
                CHATBRIDGE_RUN_ARCHIVER="1",
                CHATBRIDGE_RUN_WEBHOOKS="1",
                CHATBRIDGE_RUN_MAILER="1",
            )
            for index in range(self.asgi_processes):
                self._start_asgi(index)
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            raise StackFailed(str(error)) from error

    def _environment(self) -> dict[str, str]:
        env = super()._environment()
        # The path bench's raised limits stay out: here only the per-address ones.
        for name in UNTHROTTLED:
            if name not in self.server_env:
                env.pop(name, None)
        env.update(ONE_ADDRESS_MANY_CUSTOMERS)
        # A deployment sizes its Connect budget from its account's quotas: so does the bench.
        rates = [item for item in self.quota_overrides if "/" in item.partition("=")[2]]
        if rates:
            env["CHATBRIDGE_CONNECT_RATES"] = ",".join(rates)
        env.update(self.server_env)
        return env

    def _spawn(self, name: str, command: list[str], **extra_env: str) -> subprocess.Popen:
        with open(Path(self.workdir) / f"{name}.log", "wb") as log:
            return subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **self.env, **extra_env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _start_asgi(self, index: int) -> None:
        port = free_port()
        process = self._spawn(
            f"asgi-{index}",
            [sys.executable, "-m", "chatbridge.serve", "-b", "127.0.0.1", "-p", str(port),
             "chatbridge.asgi:application"],
        )  # fmt: skip
        self.asgi.append(process)
        self.asgi_ports.append(port)
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while True:
            if process.poll() is not None:
                raise StackFailed(f"ASGI process {index} exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise StackFailed(f"ASGI process {index} was not healthy in time")
            time.sleep(0.2)

    def pids(self) -> dict[str, int]:
        found = {f"asgi-{index}": process.pid for index, process in enumerate(self.asgi)}
        if self.relay is not None:
            found["relay"] = self.relay.pid
        for name, process in (
            ("emulator", self.emulator and self.emulator.process),
            ("redis", self.redis and self.redis.process),
        ):
            if process is not None:
                found[name] = process.pid
        return found

    def alive(self) -> bool:
        processes = [*self.asgi, self.relay, self.emulator and self.emulator.process]
        return all(
            process is not None and (process.poll() is None or process.pid in self.killed)
            for process in processes
        )

    def _keep_logs(self) -> None:
        """Each ChatBridge process's log, kept in the results directory as quotas-<name>.log
        (the work directory goes with the stack)."""
        if not self.workdir:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for path in Path(self.workdir).glob("*.log"):
            (self.log_dir / f"quotas-{path.name}").write_bytes(path.read_bytes())

    def logs(self) -> dict[str, str]:
        """The tail of every ChatBridge process's log, for a run that went wrong."""
        tails = {}
        for path in sorted(Path(self.workdir).glob("*.log")) if self.workdir else []:
            tails[path.stem] = "\n".join(path.read_text(errors="replace").splitlines()[-20:])
        return tails

    def stop(self) -> None:
        self._keep_logs()
        for process in self.asgi:
            stop_process(process)
        self.asgi = []
        stop_process(self.relay)
        self.relay = None
        super().stop()
