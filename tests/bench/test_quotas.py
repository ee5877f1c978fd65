"""`python -m bench.quotas` end to end with tiny numbers, and its token-bucket minimum."""

import json

import pytest

from bench.quotas.__main__ import main
from bench.quotas.analysis import minimum_delays, overtaken
from bench.quotas.emulator import Quota


def test_minimum_delays_spend_each_token_in_arrival_order():
    # A bucket of 2 refilled at 1/s: two go at once, then one a second, then it is full again.
    delays = minimum_delays([0.0, 0.0, 0.0, 0.5, 10.0], Quota(per_second=1, burst=2))

    assert delays == pytest.approx([0.0, 0.0, 1.0, 1.5, 0.0])


@pytest.mark.timeout(240)
def test_a_start_counts_as_overtaken_only_beyond_the_tolerance():
    starts = [(0.0, 5.0), (1.0, 3.1), (2.0, 3.0), (3.0, 6.0)]  # (requested, done)
    assert overtaken(starts, tolerance=0.2) == 1  # the first, by the third, by 2 s


def test_a_tiny_run_accounts_for_every_message_in_connects_own_transcript(tmp_path):
    # SendMessage 1/s with a bucket of 1, and ChatBridge's budget sized to match: three
    # customers sending within the same second wait for the budget instead of meeting
    # Connect's throttling, and every message reaches Connect once.
    code = main(
        ["--chats", "3", "--burst", "2", "--burst-window", "0.5", "--ramp-rate", "5",
         "--interval", "1", "--duration", "2", "--typing-lead", "0.2", "--settle", "1",
         "--drain", "10", "--processes", "2", "--asgi-processes", "1",
         "--quota", "SendMessage=1/1", "--server-env", "CONNECT_MAX_ATTEMPTS=1",
         "--results-dir", str(tmp_path)]
    )  # fmt: skip

    assert code == 0
    built = json.loads((tmp_path / "quotas-latest.json").read_text())
    messages = built["messages"]
    assert built["population"]["websocket_ready"] == 3
    assert built["burst"]["chats"] == 2
    assert messages["offered"] == 6
    assert sum(messages["outcomes"].values()) == 6
    assert messages["in_connect"] == 6
    assert messages["lost"] == 0
    assert messages["latency_to_connect_ms"]["count"] == 6
    assert messages["minimum_ms"]["max"] > 0
    assert not built["throttling_reaching_clients"]["websocket_error_frames"]
    assert (tmp_path / "quotas-latest.png").exists()
