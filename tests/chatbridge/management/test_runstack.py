"""`make run`'s command: one process tree up with its URLs printed, and Ctrl-C stops it all."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from chatbridge.dev.services import free_port, redis_answers

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def stack(tmp_path):
    app_port, emulator_port, redis_port = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        LOG_LEVEL="WARNING",
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--port", str(app_port),
         "--emulator-port", str(emulator_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    output = []
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        if "Ctrl-C stops everything" in line:
            break
    for line in process.stdout:
        output.append(line)
        if "Agent console" in line:
            break
    yield process, "".join(output), app_port, emulator_port, redis_port
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_runstack_starts_redis_the_emulator_and_the_app_and_prints_their_urls(stack):
    process, output, app_port, emulator_port, redis_port = stack
    assert f"http://127.0.0.1:{app_port}/" in output
    assert f"http://127.0.0.1:{emulator_port}/_emulator/agent/" in output
    assert httpx.get(f"http://127.0.0.1:{app_port}/healthz").json()["status"] == "ok"
    assert httpx.get(f"http://127.0.0.1:{emulator_port}/_emulator/health").status_code == 200
    assert redis_answers(f"redis://127.0.0.1:{redis_port}/0")


def test_ctrl_c_stops_every_process_it_started(stack):
    process, _, app_port, emulator_port, redis_port = stack
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert not redis_answers(f"redis://127.0.0.1:{redis_port}/0")
    for port in (app_port, emulator_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
