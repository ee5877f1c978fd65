"""`python -m bench.quotas --kill-holder` with tiny numbers, and the least time a storm of
takeovers takes under the quotas."""

import json

import pytest

from bench.quotas.__main__ import main
from bench.quotas.emulator import Quota
from bench.quotas.storm import least_seconds


def test_the_least_storm_time_is_the_slowest_takeover_operation_past_its_burst():
    quotas = {"CreateParticipantConnection": Quota(6, 9), "GetTranscript": Quota(8, 12)}

    assert least_seconds(500, quotas) == pytest.approx((500 - 9) / 6)
    assert least_seconds(5, quotas) == 0.0


@pytest.mark.timeout(240)
def test_a_tiny_storm_brings_every_chat_of_the_killed_holder_back(tmp_path):
    code = main(
        ["--chats", "4", "--burst", "4", "--burst-window", "0.5", "--interval", "1",
         "--duration", "6", "--typing-lead", "0.2", "--settle", "1", "--drain", "10",
         "--processes", "1", "--asgi-processes", "2", "--kill-holder", "--kill-after", "1",
         "--results-dir", str(tmp_path)]
    )  # fmt: skip

    assert code == 0
    storm = json.loads((tmp_path / "quotas-latest.json").read_text())["storm"]
    assert storm["process"] == "asgi-0"
    assert storm["upstreams_lost"] == 4
    assert storm["all_recovered"]
    assert storm["calls_per_chat"]["CreateParticipantConnection"] >= 1
    assert storm["websocket_peak"] == 1
    assert storm["sends"]["count"] == storm["sends"]["outcomes"].get("sent", 0)
    assert [point["chat"] for point in storm["series"]] == [1, 2, 3, 4]
    assert (tmp_path / "quotas-storm-latest.png").stat().st_size > 0
