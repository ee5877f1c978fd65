"""One verdict per target from several runs of the bench (`--runs N`).

A run's 95 % intervals cover the scatter of its own samples, not what changes from one run
to the next: each run starts every process afresh (hash seeds, memory layout, the core each
lands on), and two runs of one commit gave an added p50 of 0.52x and 0.35x, with intervals
that did not overlap. So a target is judged on every run: PASS when each run passed it, FAIL
when each failed it, MIXED otherwise; settled when each run's interval settled it.

Beside it, each target judged once more on the samples of all runs together (`pooled`): a
ramp's p99 of 736 messages is its eighth slowest, never settled by one run, and runs that
straddle a limit leave a MIXED verdict that says nothing of where most of the traffic fell.
The pooled quantile is that of every run's traffic at once, what customers see across
restarts. Its interval is still only about the samples' own scatter, as if every run drew
from one distribution; the per-run verdict is the one that shows when they do not.
"""

import json
import statistics
from pathlib import Path
from typing import Any

from bench.intervals import span_text
from bench.plot import plot_runs
from bench.report import TargetSamples

VERDICTS = ("PASS", "FAIL")


def pool(per_run: list[dict[str, TargetSamples]]) -> dict[str, TargetSamples]:
    """Each target's samples (bench.report.target_samples) of every run, together."""
    pooled: dict[str, TargetSamples] = {}
    for samples in per_run:
        for key, these in samples.items():
            before = pooled.get(key)
            pooled[key] = (
                these
                if before is None
                else TargetSamples(
                    [*before.ours, *these.ours],
                    [*before.theirs, *these.theirs],
                    these.percent,
                    these.minus,
                )
            )
    return pooled


def _pooled_verdict(samples: TargetSamples | None, limit: float) -> dict[str, Any] | None:
    if samples is None or (value := samples.value()) is None:
        return None
    interval = samples.interval()
    return {
        "value": value,
        "interval": interval.as_list() if interval is not None else None,
        "result": "PASS" if value <= limit else "FAIL",
        "settled": interval.settled(limit) if interval is not None else None,
        "samples": [len(samples.ours), len(samples.theirs)],
    }


def combine(
    reports: list[dict[str, Any]], pooled: dict[str, TargetSamples] | None = None
) -> dict[str, Any]:
    """The runs' reports (bench.report.build), target by target; with `pooled` (pool()),
    each target also judged on all runs' samples together."""
    pooled = pooled or {}
    targets = []
    for index, first in enumerate(reports[0]["targets"]):
        runs = [report["targets"][index] for report in reports]
        values = [run["value"] for run in runs if run["value"] is not None]
        results = {run["result"] for run in runs if run["value"] is not None}
        if not values:
            verdict = "n/a"
        elif len(results) == 1:
            verdict = results.pop()
        else:
            verdict = "MIXED"
        judged = [run["settled"] for run in runs if run["value"] is not None]
        settled = None if None in judged else verdict in VERDICTS and all(judged)
        targets.append(
            {
                "target": first["target"],
                "key": first.get("key"),
                "limit": first["limit"],
                "unit": first["unit"],
                "values": [run["value"] for run in runs],
                "intervals": [run.get("interval") for run in runs],
                "median": round(statistics.median(values), 2) if values else None,
                "verdict": verdict,
                "settled": settled,
                "pooled": _pooled_verdict(pooled.get(first.get("key", "")), first["limit"]),
            }
        )
    return {
        "runs": len(reports),
        "valid": all(report["valid"] for report in reports),
        "started_at": [report["started_at"] for report in reports],
        "commit": reports[-1]["commit"],
        "targets": targets,
    }


def write(combined: dict[str, Any], results_dir: Path) -> Path:
    """Writes latest-runs.json and its picture, latest-runs.png; returns the JSON's path."""
    path = results_dir / "latest-runs.json"
    path.write_text(json.dumps(combined, indent=2))
    title = f"{combined['runs']} runs of the bench, commit {combined['commit']}: each target"
    plot_runs(combined["targets"], title, results_dir / "latest-runs.png")
    return path


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}x" if unit == "x" else f"{value:.1f} {unit}"


def _pooled_note(target: dict[str, Any]) -> str:
    pooled = target.get("pooled")
    if not pooled:
        return ""
    interval = f" ({span_text(pooled['interval'], 'x')})" if pooled["interval"] else ""
    settled = {True: ", settled", False: ", not settled"}.get(pooled["settled"], "")
    return (
        f"; all runs' samples together {_value(pooled['value'], target['unit'])}{interval}: "
        f"{pooled['result']}{settled}"
    )


def render(combined: dict[str, Any]) -> str:
    lines = ["", f"  {combined['runs']} runs, commit {combined['commit']}, target by target:"]
    for target in combined["targets"]:
        values = ", ".join(_value(value, target["unit"]) for value in target["values"])
        limit = _value(target["limit"], target["unit"])
        settled = {True: ", settled in every run", False: ", not settled in every run"}.get(
            target["settled"], ""
        )
        lines.append(
            f"  {target['verdict']:<5} {target['target']} (≤ {limit}): {values}; median "
            f"{_value(target['median'], target['unit'])}{settled}{_pooled_note(target)}"
        )
    if not combined["valid"]:
        lines.append("  INVALID: a run measured the bench, not ChatBridge (see its report)")
    return "\n".join(lines)
