"""The event loop under daphne's reactor (chatbridge.eventloop): uvloop's unless
CHATBRIDGE_EVENT_LOOP says asyncio, installed by `python -m chatbridge.serve` before daphne."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatbridge.eventloop import chosen_loop

ROOT = Path(__file__).resolve().parents[2]

# Runs chatbridge.serve as `python -m` does (its help, so daphne serves nothing), then names the
# module of the loop under Twisted's reactor and the thread its default executor runs on.
SERVE_AND_REPORT = """
import asyncio, runpy, sys, threading
sys.argv = ["chatbridge.serve", "--help"]
try:
    runpy.run_module("chatbridge.serve", run_name="__main__")
except SystemExit:
    pass
from twisted.internet import reactor
loop = reactor._asyncioEventloop
name = loop.run_until_complete(loop.run_in_executor(None, lambda: threading.current_thread().name))
print(type(loop).__module__, name)
"""


def served(**env: str) -> tuple[str, str]:
    """The loop's module and the default executor's thread name in a served process."""
    environment = {k: v for k, v in os.environ.items() if k not in ("CHATBRIDGE_EVENT_LOOP",)}
    result = subprocess.run(
        [sys.executable, "-c", SERVE_AND_REPORT],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    module, thread = result.stdout.strip().splitlines()[-1].split()
    return module, thread


def test_the_loop_is_uvloop_by_default(monkeypatch):
    monkeypatch.delenv("CHATBRIDGE_EVENT_LOOP", raising=False)

    assert chosen_loop() == "uvloop"


def test_asyncio_s_own_loop_can_be_chosen(monkeypatch):
    monkeypatch.setenv("CHATBRIDGE_EVENT_LOOP", " AsyncIO ")

    assert chosen_loop() == "asyncio"


def test_an_unknown_loop_is_refused_naming_the_setting(monkeypatch):
    monkeypatch.setenv("CHATBRIDGE_EVENT_LOOP", "trio")

    with pytest.raises(ValueError, match="CHATBRIDGE_EVENT_LOOP: 'trio' is not one of"):
        chosen_loop()


def test_a_served_process_with_an_unknown_loop_stops_before_daphne_starts():
    result = subprocess.run(
        [sys.executable, "-m", "chatbridge.serve", "chatbridge.asgi:application"],
        cwd=ROOT,
        env={**os.environ, "CHATBRIDGE_EVENT_LOOP": "trio"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.strip() == "CHATBRIDGE_EVENT_LOOP: 'trio' is not one of uvloop, asyncio"


def test_a_served_process_runs_its_reactor_on_uvloop():
    module, _ = served()

    assert module.startswith("uvloop")


def test_a_served_process_runs_on_asyncio_s_loop_when_told():
    module, _ = served(CHATBRIDGE_EVENT_LOOP="asyncio")

    assert module.startswith("asyncio")


def test_asgi_threads_sizes_the_loop_s_default_executor_as_daphne_s_does():
    _, thread = served(ASGI_THREADS="2")

    assert thread.startswith("asgi")
