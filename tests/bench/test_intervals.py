"""A target's confidence interval (bench.intervals), and how the report judges with it."""

import math
import random

import pytest

from bench.intervals import Interval, quantile_interval, ratio_interval
from bench.report import _interval_note, target_intervals
from bench.stats import PhaseStats, percentile


def _exponential(rng: random.Random, n: int) -> list[float]:
    return sorted(rng.expovariate(1.0) for _ in range(n))


@pytest.mark.parametrize(("n", "percent"), [(300, 50), (500, 99), (2000, 99)])
def test_a_quantiles_interval_holds_it_at_least_as_often_as_promised(n, percent):
    rng = random.Random(f"{n}-{percent}")  # the same draws every run
    true_quantile = -math.log(1 - percent / 100)
    trials = 300

    held = 0
    for _ in range(trials):
        interval = quantile_interval(_exponential(rng, n), percent, 0.95)
        if (interval.low is None or interval.low <= true_quantile) and (
            interval.high is None or interval.high >= true_quantile
        ):
            held += 1

    # At least 95 % in the long run; 300 trials scatter by about 1.3 %.
    assert held / trials >= 0.92


@pytest.mark.parametrize(("n", "percent"), [(50, 50), (456, 50), (456, 99), (1800, 99)])
def test_the_interval_brackets_the_percentile_the_report_shows(n, percent):
    ordered = _exponential(random.Random(n), n)

    interval = quantile_interval(ordered, percent, 0.95)

    assert interval.low is not None and interval.high is not None
    assert interval.low <= percentile(ordered, percent) <= interval.high
    assert interval.low < interval.high


def test_too_few_samples_leave_a_p99_without_an_upper_bound():
    ordered = _exponential(random.Random(7), 100)

    assert quantile_interval(ordered, 99, 0.95).high is None
    # 456 samples just suffice at 97.5 %: the slowest of them is the bound.
    assert quantile_interval(_exponential(random.Random(7), 456), 99, 0.975).high == max(
        _exponential(random.Random(7), 456)
    )


def test_no_samples_set_no_bound():
    assert quantile_interval([], 50, 0.95) == Interval(None, None)


def test_a_ratio_takes_the_widest_values_both_quantiles_allow():
    ours = [float(v) for v in range(1, 1001)]
    theirs = [v / 2 for v in ours]
    each = quantile_interval(ours, 50, 0.975)
    half = quantile_interval(theirs, 50, 0.975)

    interval = ratio_interval(ours, theirs, 50, minus=1.0)

    assert interval.low == pytest.approx(each.low / half.high - 1)
    assert interval.high == pytest.approx(each.high / half.low - 1)
    assert interval.low < 1.0 < interval.high


def test_a_ratio_is_unbounded_above_when_our_quantile_is():
    ours = [float(v) for v in range(100)]

    assert ratio_interval(ours, [1.0] * 1000, 99).high is None


@pytest.mark.parametrize(
    ("interval", "settled"),
    [
        (Interval(0.30, 0.45), True),  # passes whatever the scatter
        (Interval(0.60, None), True),  # fails whatever the scatter
        (Interval(0.40, 0.60), False),
        (Interval(0.30, None), False),
        (Interval(None, 0.50), True),  # at the limit passes
    ],
)
def test_a_verdict_is_settled_only_when_the_interval_is_on_one_side_of_the_limit(interval, settled):
    assert interval.settled(0.5) is settled


def _phase(name: str, latencies: list[float], starts: list[float]) -> PhaseStats:
    stats = PhaseStats(name, planned=len(starts))
    stats.latencies_ms = latencies
    stats.ramp_latencies_ms = latencies[:500]
    stats.setup_ms = {"start_chat": starts}
    return stats


def test_the_report_gives_each_targets_interval_from_its_samples():
    rng = random.Random(3)
    direct = _phase("direct", [4 + rng.random() for _ in range(1800)], [5.0] * 300)
    bridge = _phase("bridge", [8 + rng.random() for _ in range(1800)], [9.0] * 300)

    intervals = target_intervals({"direct": direct, "bridge": bridge})

    # Twice as slow, with no overlap: about 0.9x added, far over 0.25x.
    assert 0.5 < intervals["added_p50"].low < intervals["added_p50"].high < 1.3
    assert intervals["added_p50"].settled(0.25)
    assert intervals["start_p50"] == Interval(1.8, 1.8)
    assert intervals["start_p99"].high is None  # 300 starts bound no p99 from above
    assert "rest_poll_wakeup_p99" not in intervals


def test_the_report_line_says_whether_the_samples_settle_the_verdict():
    settled = {"interval": [0.31, 0.48], "settled": True}
    open_ended = {"interval": [0.1, None], "settled": False}

    assert _interval_note(settled) == ", 95% interval 0.31x to 0.48x: settled"
    assert _interval_note(open_ended) == (
        ", 95% interval 0.10x to unbounded: not settled by these samples"
    )
    assert _interval_note({"interval": None}) == ""
