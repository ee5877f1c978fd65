"""One verdict per target from several runs of the bench (`--runs N`).

A run's 95 % intervals cover the scatter of its own samples, not what changes from one run
to the next: each run starts every process afresh (hash seeds, memory layout, the core each
lands on), and two runs of one commit gave an added p50 of 0.52x and 0.35x, with intervals
that did not overlap. So a target is judged on every run: PASS when each run passed it, FAIL
when each failed it, MIXED otherwise; settled when each run's interval settled it.
"""

import json
import statistics
from pathlib import Path
from typing import Any

from bench.plot import plot_runs

VERDICTS = ("PASS", "FAIL")


def combine(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs' reports (bench.report.build), target by target."""
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
                "limit": first["limit"],
                "unit": first["unit"],
                "values": [run["value"] for run in runs],
                "intervals": [run.get("interval") for run in runs],
                "median": round(statistics.median(values), 2) if values else None,
                "verdict": verdict,
                "settled": settled,
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
            f"{_value(target['median'], target['unit'])}{settled}"
        )
    if not combined["valid"]:
        lines.append("  INVALID: a run measured the bench, not ChatBridge (see its report)")
    return "\n".join(lines)
