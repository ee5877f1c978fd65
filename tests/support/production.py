"""ChatBridge as deployed, in child processes that see only the environment they are given.

`production_environment()` is docs/deployment.md's production block with its placeholders
filled in. `serving_production()` runs what an image build and a start-up run: collectstatic
into a directory of its own (STATIC_ROOT), migrate a SQLite file, then `python -m
chatbridge.serve` (daphne) with DEBUG off on a free loopback port, plain HTTP
(SECURE_SSL_REDIRECT=0 unless overridden: no TLS proxy in front), pointed at the test run's
Redis and Connect emulator. Its access log records every request that reached it. `python` is
the interpreter of the test run unless given: the production profile (tests/production/) gives
that of a virtualenv holding requirements.txt alone.
"""

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from chatbridge.dev.programs import missing_program
from chatbridge.dev.services import child_options, free_port, stop_process
from tests.support.browser import require_program

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0
INHERITED = {"PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR"}
# requests() asks for a path under this (whatever the answer) to know that the log is current.
MARKER_PATH = "/_access-log-marker/"


def require_production_python(path: str, env: Mapping[str, str] = os.environ) -> str:
    """The production virtualenv's interpreter (`make production-venv`), or the current test
    fails (CI) or skips (a developer's machine), as for chromium."""
    reason = f"No production virtualenv at {path}: run `make production-venv`"
    missing = missing_program(
        path, env, ci=f"CI is set, so the production profile must run. {reason}", local=reason
    )
    return require_program(path, missing)


def production_environment() -> dict[str, str]:
    """The environment block of docs/deployment.md, its placeholders filled in."""
    text = (ROOT / "docs" / "deployment.md").read_text()
    block = re.search(r"<!-- production-environment -->\n```sh\n(.*?)```", text, re.S)
    assert block, "docs/deployment.md has lost its production environment block"
    environment = {}
    for line in block.group(1).splitlines():
        name, _, value = line.partition("=")
        environment[name] = value
    environment["SECRET_KEY"] = secrets.token_urlsafe(50)
    environment["CHATBRIDGE_TOKEN_KEYS"] = Fernet.generate_key().decode()
    return {name: re.sub(r"<[^>]+>", "placeholder", value) for name, value in environment.items()}


def inherited_environment() -> dict[str, str]:
    """What a child process needs of ours to run at all, and nothing that configures it."""
    return {name: value for name, value in os.environ.items() if name in INHERITED}


@dataclass(frozen=True)
class Request:
    """One line of daphne's access log."""

    method: str
    path: str
    status: int


@dataclass
class ProductionServer:
    url: str
    env: dict[str, str]
    static_root: Path
    access_log: Path
    python: str = sys.executable

    def manage(self, *args: str) -> str:
        """Runs a management command with the server's environment (and database)."""
        return run_manage(self.env, *args, python=self.python)

    def requests(self) -> list[Request]:
        """The HTTP requests the server has answered so far, in order.

        The server writes a request's access line just after its response, so the last
        answer's line may not be there yet when the client has it. A marker request of our
        own is answered after them; once its line is in the log, theirs are too."""
        marker = f"{MARKER_PATH}{secrets.token_hex(8)}"
        httpx.get(f"{self.url}{marker}", timeout=10)
        deadline = time.monotonic() + 10
        while True:
            found = self._logged()
            if any(r.path == marker for r in found):
                return [r for r in found if not r.path.startswith(MARKER_PATH)]
            assert time.monotonic() < deadline, f"{marker} never reached the access log"
            time.sleep(0.01)

    def _logged(self) -> list[Request]:
        found = []
        for line in self.access_log.read_text().splitlines():
            match = re.search(r'"(\w+) (\S+)" (\d{3}) ', line)
            if match:
                found.append(Request(match[1], match[2], int(match[3])))
        return found


def run_manage(env: dict[str, str], *args: str, python: str = sys.executable) -> str:
    result = subprocess.run(
        [python, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


@contextmanager
def serving_production(
    workdir: Path,
    redis_url: str,
    emulator_url: str,
    python: str = sys.executable,
    **overrides: str,
) -> Iterator[ProductionServer]:
    """daphne as deployed, with static files collected as the image build collects them."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **inherited_environment(),
        "DJANGO_SETTINGS_MODULE": "chatbridge.settings",
        **production_environment(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "CHATBRIDGE_PUBLIC_ORIGIN": url,
        "CHATBRIDGE_ALLOWED_ORIGINS": url,
        "CSRF_TRUSTED_ORIGINS": url,
        "STATIC_ROOT": str(workdir / "static"),
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "REDIS_URL": redis_url,
        "CHATBRIDGE_REDIS_PREFIX": "production",
        "CONNECT_ENDPOINT_URL": emulator_url,
        "CONNECT_PARTICIPANT_ENDPOINT_URL": emulator_url,
        "AWS_ACCESS_KEY_ID": "emulator",
        "AWS_SECRET_ACCESS_KEY": "emulator",
        "LOG_LEVEL": "WARNING",
        **overrides,
    }
    # The image build collects with DEBUG on and no keys, like the Dockerfile.
    build = {**inherited_environment(), "DEBUG": "1", "CHATBRIDGE_STATIC_MANIFEST": "1"}
    run_manage(
        {**build, "STATIC_ROOT": env["STATIC_ROOT"]},
        "collectstatic", "--noinput", "-v0",
        python=python,
    )  # fmt: skip
    run_manage(env, "migrate", "--noinput", "-v0", python=python)
    # Migrated with DEBUG off, the demo's `default` widget is disabled: enabled here, as an
    # operator enables the widget of their site.
    run_manage(
        env,
        "shell",
        "-c",
        "from webwidget.models import Widget; "
        "assert Widget.objects.filter(widget_id='default').update(enabled=True) == 1",
        python=python,
    )
    server = ProductionServer(
        url=url,
        env=env,
        static_root=Path(env["STATIC_ROOT"]),
        access_log=workdir / "access.log",
        python=python,
    )
    with _serving(server, port, workdir / "daphne.log"):
        yield server


@contextmanager
def serving_another(
    server: ProductionServer, name: str, **overrides: str
) -> Iterator[ProductionServer]:
    """One more process of `server`'s deployment (its database, static files and keys), with
    `overrides`: e.g. a process that only starts chats."""
    port = free_port()
    directory = server.access_log.parent
    another = ProductionServer(
        url=f"http://127.0.0.1:{port}",
        env={**server.env, **overrides},
        static_root=server.static_root,
        access_log=directory / f"access-{name}.log",
        python=server.python,
    )
    with _serving(another, port, directory / f"daphne-{name}.log"):
        yield another


@contextmanager
def _serving(server: ProductionServer, port: int, log_path: Path) -> Iterator[None]:
    log = log_path.open("wb")
    process = subprocess.Popen(
        [server.python, "-m", "chatbridge.serve", "-b", "127.0.0.1", "-p", str(port),
         "--access-log", str(server.access_log), "chatbridge.asgi:application"],
        cwd=ROOT,
        env=server.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        **child_options(),
    )  # fmt: skip
    try:
        wait_until_healthy(process, server.url, log_path)
        yield
    finally:
        stop_process(process)
        log.close()


def wait_until_healthy(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the production daphne did not start:\n{log.read_text()}")
        time.sleep(0.1)
