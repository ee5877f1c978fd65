"""bench.floor: ChatBridge against a bare relay on its own stack, and the direct path."""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bench.floor.options import parse_args
from bench.floor.turns import Meter, figures, render

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_a_tiny_run_measures_every_message_and_start_on_all_three_paths(tmp_path):
    # Its own process, as `make bench-floor` runs it: it configures Django for its stack.
    result = subprocess.run(
        [sys.executable, "-m", "bench.floor", "--rounds", "3", "--warmup", "1", "--senders", "2",
         "--starts", "3", "--results-dir", str(tmp_path)],
        cwd=ROOT, timeout=220, capture_output=True, text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    built = json.loads((tmp_path / "floor.json").read_text())
    for path in ("direct", "floor", "bridge"):
        assert built["messages"]["paths"][path]["latency_ms"]["count"] == 3 * 2
        assert built["messages"]["paths"][path]["lost"] == 0
        assert built["starts"]["paths"][path]["latency_ms"]["count"] == 3
    # Only ChatBridge's daphne works for ChatBridge's turns, only the relay for the floor's.
    assert built["messages"]["paths"]["bridge"]["cpu_ms_each"]["daphne"] > 0
    assert built["messages"]["paths"]["floor"]["cpu_ms_each"]["relay"] > 0
    assert built["messages"]["redis_calls_per_message"] > 0
    assert (tmp_path / "floor.png").stat().st_size > 0
    assert (tmp_path / "floor-starts.png").stat().st_size > 0
    assert "ChatBridge over the bare relay" in result.stdout


def test_figures_compare_each_path_with_direct_and_chatbridge_with_the_floor():
    meter = Meter({})
    built = figures(
        {"direct": [4.0, 4.0], "floor": [5.0, 5.0], "bridge": [6.0, 6.0]},
        {"direct": 0, "floor": 0, "bridge": 1},
        meter,
    )

    assert built["paths"]["floor"]["added_ms"]["p50"] == 1.0
    assert built["paths"]["floor"]["added_to_direct"]["p50"] == 0.25
    assert built["paths"]["bridge"]["ratio_to_direct"]["p50"] == 1.5
    assert built["paths"]["bridge"]["lost"] == 1
    assert built["bridge_over_floor_ms"]["p50"] == 1.0


def test_each_ratio_against_direct_carries_the_interval_its_samples_allow():
    rng = random.Random(5)
    latencies = {
        path: [base + rng.random() for _ in range(500)]
        for path, base in (("direct", 4.0), ("floor", 4.1), ("bridge", 6.0))
    }

    built = figures(latencies, {"direct": 0, "floor": 0, "bridge": 0}, Meter({}))

    bridge = built["paths"]["bridge"]
    low, high = bridge["intervals"]["added_to_direct"]["p50"]
    assert low <= bridge["added_to_direct"]["p50"] <= high
    low, high = bridge["intervals"]["ratio_to_direct"]["p50"]
    assert low <= bridge["ratio_to_direct"]["p50"] <= high
    shown = render(built, "messages", ratio="added_to_direct")
    assert f"in {bridge['intervals']['added_to_direct']['p50'][0]:.2f} to" in shown


@pytest.mark.parametrize("option", ["--rounds", "--senders"])
def test_a_run_needs_at_least_one_round_and_sender(option, capsys):
    with pytest.raises(SystemExit):
        parse_args([option, "0"])
    assert f"{option} must be >= 1" in capsys.readouterr().err
