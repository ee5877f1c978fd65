"""`python -m bench` end to end with tiny numbers, and what makes a run invalid."""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from bench.__main__ import EXIT_INVALID
from bench.options import parse_args
from bench.report import invalid_reasons

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(420)
def test_a_tiny_run_spreads_every_path_over_its_processes_and_judges_it(tmp_path):
    # Its own process, as `make bench` runs it: the bench configures Django for the stack it
    # starts, environment included, which must not leak into the tests that follow.
    code = subprocess.run(
        [sys.executable, "-m", "bench",
         "--chats", "4", "--rest-chats", "4", "--processes", "2", "--ramp-rate", "20",
         "--interval", "1", "--duration", "3", "--drain", "10", "--start-processes", "1",
         "--runs", "2", "--results-dir", str(tmp_path)],
        cwd=ROOT, timeout=400, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ).returncode  # fmt: skip

    built = json.loads((tmp_path / "latest.json").read_text())
    runs = json.loads((tmp_path / "latest-runs.json").read_text())
    assert code == (0 if runs["valid"] else EXIT_INVALID)
    # Two runs, each on a stack of its own, judged together target by target.
    assert runs["runs"] == 2 and len(runs["started_at"]) == 2
    assert all(len(target["values"]) == 2 for target in runs["targets"])
    assert runs["targets"][-1]["values"][-1] == built["targets"][-1]["value"]
    assert (tmp_path / "latest-runs.png").stat().st_size > 0
    # Each target judged once more on both runs' samples together: 4 starts a path in each.
    start_p50 = next(target for target in runs["targets"] if target["key"] == "start_p50")
    assert start_p50["pooled"]["samples"] == [8, 8]
    for name in ("direct", "bridge", "rest"):
        phase = built["phases"][name]
        assert phase["connected_at_window_start"] == 4
        assert len(phase["generators"]) == 2
        assert all(g["window_cpu_percent"] is not None for g in phase["generators"])
        # Each generator froze what it had loaded before its customers started, collected
        # nothing while they ran, and their garbage afterwards.
        assert all(g["gc_frozen"] > 0 for g in phase["generators"])
        assert all(g["gc_collections"] == 0 for g in phase["generators"])
        assert all(g["gc_after_objects"] >= 0 for g in phase["generators"])
        assert phase["latency_ms"]["count"] > 0
        assert phase["setup_ms"]["start_chat"]["count"] == 4
        # Chats start on a process of their own (--start-processes 1), measured apart.
        assert {"daphne", "starts-0"} <= set(phase["ramp_cpu_percent_of_one_core"])
    # The direct path and ChatBridge's took turns in one phase, the REST apps had theirs.
    assert [built["phases"][name]["turns"] for name in ("direct", "bridge", "rest")] == [2, 2, 1]
    # A window of whole rotations: 3 s rounded up to two of 2 s, half of it each path's.
    assert built["phases"]["direct"]["own_window_s"] == 2.0
    assert built["phases"]["rest"]["own_window_s"] == 3.0
    # By default the REST apps alternate between long-polls and an SSE stream, in each process.
    readers = built["phases"]["rest"]["readers"]
    assert {kind: reader["apps"] for kind, reader in readers.items()} == {"poll": 2, "sse": 2}
    for reader in readers.values():
        assert reader["latency_ms"]["count"] > 0
        assert reader["wakeup_ms"]["count"] > 0
    assert built["phases"]["rest"]["setup_ms"]["open_stream"]["count"] == 2
    assert built["phases"]["bridge"]["wakeup_ms"]["count"] > 0
    ratios = built["comparison"]["ratios"]
    assert {
        "added_p50", "added_p99", "start_p50", "start_p99", "rest_p99", "rest_poll_p99",
        "rest_sse_p99", "rest_poll_wakeup_p99", "rest_sse_wakeup_p99",
        "rest_poll_wakeup_p99_to_ws_wakeup", "rest_sse_wakeup_p99_to_ws_wakeup",
    } <= set(ratios)  # fmt: skip
    # The REST targets are the wake-ups'; send → echo's ratio is kept, as information.
    rest_targets = {t["target"]: t["value"] for t in built["targets"] if "REST" in t["target"]}
    assert rest_targets == {
        "REST long-poll wake-up p99 / websocket p99": ratios["rest_poll_wakeup_p99"],
        "REST SSE wake-up p99 / websocket p99": ratios["rest_sse_wakeup_p99"],
    }
    assert {t["result"] for t in built["targets"]} <= {"PASS", "FAIL", "n/a"}
    # Each ratio judged on samples says how far its samples could put it (bench.intervals).
    for target in built["targets"]:
        if target["unit"] == "x" and target["value"] is not None:
            assert len(target["interval"]) == 2 and isinstance(target["settled"], bool)


def _phase(*, generator_cpu: float, p50: float, errors: int = 0) -> dict:
    return {
        "generators": [{"ramp_cpu_percent": 10.0, "window_cpu_percent": generator_cpu}],
        "errors": {"echo_timeout": errors} if errors else {},
        "connect_failures": {},
        "latency_ms": {"count": 10, "p50": p50},
    }


def test_a_saturated_load_generator_makes_a_run_invalid():
    options = parse_args(["--generator-cpu-limit", "85"])

    reasons = invalid_reasons({"bridge": _phase(generator_cpu=92.0, p50=5.0)}, options, True)

    assert reasons == ["bridge: load generator 0 used 92% of a core during the window (limit 85%)"]


def test_a_saturated_direct_path_makes_a_run_invalid():
    options = parse_args(["--direct-p50-limit-ms", "100"])
    summaries = {"direct": _phase(generator_cpu=20.0, p50=2300.0, errors=3)}

    reasons = invalid_reasons(summaries, options, True)

    assert reasons == [
        "direct path: 3 error(s) or failed start(s)",
        "direct path: p50 2300.0 ms > 100 ms",
    ]


@pytest.mark.timeout(120)
def test_daphne_runs_no_stream_worker_as_deployed(tmp_path):
    """The stream workers run in `manage.py workers`: daphne's CPU goes to the chats it
    measures (docs/deployment.md)."""
    from bench.stack import Stack

    stack = Stack("http://bench.chatbridge.localhost", tmp_path)
    try:
        stack.start()
        assert stack.daphne is not None and stack.workers is not None
        environ = Path(f"/proc/{stack.daphne.pid}/environ").read_bytes().split(b"\0")
    finally:
        stack.stop()
    for worker in ("ARCHIVER", "WEBHOOKS", "MAILER"):
        assert f"CHATBRIDGE_RUN_{worker}=0".encode() in environ


@pytest.mark.timeout(120)
def test_with_redis_socket_chatbridge_is_ready_on_a_unix_socket(tmp_path):
    from bench.stack import Stack

    stack = Stack("http://bench.chatbridge.localhost", tmp_path, redis_socket=True)
    try:
        stack.start()
        assert stack.daphne is not None
        socket = stack.redis_socket_path
        environ = Path(f"/proc/{stack.daphne.pid}/environ").read_bytes().split(b"\0")
        with urllib.request.urlopen(f"{stack.base_url}/readyz", timeout=30) as answer:
            ready = json.load(answer)
    finally:
        stack.stop()
    assert f"REDIS_URL=unix://{socket}?db=0".encode() in environ
    assert ready["redis"] == "up"


def test_a_bench_judges_three_runs_unless_told_otherwise():
    assert parse_args([]).runs == 3
    assert parse_args(["--runs", "1"]).runs == 1
