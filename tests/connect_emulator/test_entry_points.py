"""How the emulator is started: the module CLI and the Django management command."""

import asyncio
import contextlib
import gc
import subprocess
import sys

import pytest

from .conftest import ROOT, start_emulator, stop_emulator

pytestmark = pytest.mark.timeout(60)


def test_port_0_announces_the_real_port():
    emulator = start_emulator("--agent", "echo", "--echo-delay", "0.5")
    try:
        assert emulator.url.startswith("http://127.0.0.1:")
        assert not emulator.url.endswith(":0")
    finally:
        stop_emulator(emulator)


def test_the_package_runs_without_django_or_chatbridge():
    code = (
        "import sys, connect_emulator.app, connect_emulator.cli, connect_emulator.runner;"
        "assert 'django' not in sys.modules, 'django';"
        "assert 'chatbridge' not in sys.modules, 'chatbridge'"
    )

    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_the_management_command_takes_the_same_options():
    from connect_emulator.management.commands.connect_emulator import Command

    parser = Command().create_parser("manage.py", "connect_emulator")
    options = vars(
        parser.parse_args(
            ["--port", "8901", "--agent", "none", "--echo-delay", "0.1", "--instance-id", "i-1"]
        )
    )

    assert options["port"] == 8901
    assert options["agent"] == "none"
    assert options["echo_delay"] == 0.1
    assert options["instance_id"] == "i-1"


def test_the_management_command_takes_the_quota_options():
    from connect_emulator.cli import quotas_from
    from connect_emulator.management.commands.connect_emulator import Command

    parser = Command().create_parser("manage.py", "connect_emulator")
    options = vars(
        parser.parse_args(
            ["--quotas", "off", "--quota", "SendMessage=1/2", "--quota", "ActiveChats=3"]
        )
    )
    quotas = quotas_from(options)

    assert quotas.enabled is False
    assert str(quotas.rates["SendMessage"]) == "1/2"
    assert quotas.counts["ActiveChats"] == 3


async def test_it_announces_itself_with_what_it_loaded_frozen_out_of_the_collectors_sight():
    from connect_emulator.config import EmulatorConfig
    from connect_emulator.runner import GC_THRESHOLDS, serve

    before = gc.get_threshold()
    gc.unfreeze()
    seen: dict[str, object] = {}
    ready = asyncio.Event()

    def announce_ready(line: str) -> None:
        seen.update(line=line, frozen=gc.get_freeze_count(), thresholds=gc.get_threshold())
        ready.set()

    serving = asyncio.create_task(
        serve("127.0.0.1", 0, EmulatorConfig(), announce_ready=announce_ready)
    )
    try:
        await asyncio.wait_for(ready.wait(), 30)
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        gc.unfreeze()
        gc.set_threshold(*before)

    assert str(seen["line"]).startswith("Amazon Connect emulator listening on http://127.0.0.1:")
    # Everything loaded by then, uvicorn and the app included, is frozen: thousands of objects.
    assert seen["frozen"] > 10_000
    assert seen["thresholds"] == GC_THRESHOLDS
