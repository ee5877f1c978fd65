"""Several runs judged together, target by target (bench.runs)."""

from bench.runs import combine, render


def _report(*targets: tuple[float | None, bool | None], valid: bool = True) -> dict:
    names = ("added p50 / direct p50", "added p99 / direct p99", "daphne RSS per chat")
    limits = (0.25, 0.5, 60.0)
    return {
        "valid": valid,
        "started_at": "2026-12-06T15:00:00+00:00",
        "commit": "abc1234",
        "targets": [
            {
                "target": name,
                "limit": limit,
                "unit": "KiB" if name.startswith("daphne") else "x",
                "value": value,
                "result": "n/a" if value is None else ("PASS" if value <= limit else "FAIL"),
                "settled": settled,
            }
            for name, limit, (value, settled) in zip(names, limits, targets, strict=True)
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
