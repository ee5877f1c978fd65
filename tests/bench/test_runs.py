"""Several runs judged together, target by target (bench.runs)."""

from bench.report import TargetSamples
from bench.runs import combine, pool, render


def _report(*targets: tuple[float | None, bool | None], valid: bool = True) -> dict:
    names = ("added p50 / direct p50", "added p99 / direct p99", "daphne RSS per chat")
    keys = ("added_p50", "added_p99", "rss_per_chat_kib")
    limits = (0.25, 0.5, 60.0)
    return {
        "valid": valid,
        "started_at": "2026-12-06T15:00:00+00:00",
        "commit": "abc1234",
        "targets": [
            {
                "target": name,
                "key": key,
                "limit": limit,
                "unit": "KiB" if name.startswith("daphne") else "x",
                "value": value,
                "result": "n/a" if value is None else ("PASS" if value <= limit else "FAIL"),
                "settled": settled,
            }
            for name, key, limit, (value, settled) in zip(names, keys, limits, targets, strict=True)
        ],
    }


def test_a_target_passed_or_failed_by_every_run_keeps_that_verdict():
    combined = combine(
        [
            _report((0.52, True), (0.18, True), (56.0, None)),
            _report((0.35, True), (0.14, True), (55.8, None)),
        ]
    )

    verdicts = {t["target"]: (t["verdict"], t["settled"]) for t in combined["targets"]}
    assert verdicts == {
        "added p50 / direct p50": ("FAIL", True),
        "added p99 / direct p99": ("PASS", True),
        "daphne RSS per chat": ("PASS", None),
    }
    assert combined["targets"][0]["values"] == [0.52, 0.35]
    assert combined["targets"][0]["median"] == 0.43


def test_runs_that_disagree_make_a_mixed_verdict_that_nothing_settles():
    combined = combine(
        [
            _report((0.24, True), (0.18, True), (56.0, None)),
            _report((0.64, True), (0.14, False), (55.8, None)),
        ]
    )

    first, second, _ = combined["targets"]
    assert (first["verdict"], first["settled"]) == ("MIXED", False)
    # Both passed, but one run's samples could not settle it.
    assert (second["verdict"], second["settled"]) == ("PASS", False)


def test_one_invalid_run_makes_them_all_invalid():
    combined = combine(
        [
            _report((0.3, True), (0.2, True), (56.0, None)),
            _report((0.3, True), (0.2, True), (56.0, None), valid=False),
        ]
    )

    assert combined["valid"] is False
    assert "INVALID" in render(combined)


def test_a_target_no_run_measured_is_not_judged():
    combined = combine([_report((None, None), (0.2, True), (56.0, None))] * 2)

    assert combined["targets"][0]["verdict"] == "n/a"
    assert combined["targets"][0]["median"] is None


def _run_samples(ours: list[float], theirs: list[float]) -> dict[str, TargetSamples]:
    return {"added_p50": TargetSamples(ours, theirs, 50, 1.0)}


def test_pooling_puts_every_runs_samples_of_a_target_together():
    pooled = pool([_run_samples([5.0] * 3, [4.0] * 2), _run_samples([6.0] * 4, [4.0] * 5)])

    assert pooled["added_p50"] == TargetSamples([5.0] * 3 + [6.0] * 4, [4.0] * 7, 50, 1.0)


def test_runs_that_disagree_are_judged_again_on_all_their_samples_together():
    # One run at 0.20x, one at 0.40x: MIXED; together, mostly the first run's traffic.
    first = _run_samples([6.0] * 900, [5.0] * 900)
    second = _run_samples([7.0] * 100, [5.0] * 100)
    combined = combine(
        [
            _report((0.2, True), (0.1, True), (56.0, None)),
            _report((0.4, True), (0.1, True), (55.8, None)),
        ],
        pool([first, second]),
    )

    target = combined["targets"][0]
    assert target["verdict"] == "MIXED"
    assert target["pooled"] == {
        "value": 0.2,
        "interval": [0.2, 0.2],
        "result": "PASS",
        "settled": True,
        "samples": [1000, 1000],
    }
    assert "all runs' samples together 0.20x (0.20x to 0.20x): PASS, settled" in render(combined)


def test_a_target_with_no_samples_behind_it_is_not_judged_together():
    combined = combine(
        [_report((0.2, True), (0.1, True), (56.0, None))] * 2,
        pool([_run_samples([6.0] * 9, [5.0] * 9)] * 2),
    )

    assert combined["targets"][1]["pooled"] is None  # no samples given for it
    assert combined["targets"][2]["pooled"] is None  # memory: one figure a run
