"""The latency histogram: both paths overlaid on a log-scaled latency axis.

A log axis because the interesting part spans decades: a direct path of about a millisecond,
ChatBridge's few milliseconds more, and a tail that may reach seconds under overload.
"""

import math
from pathlib import Path
from typing import Any

from bench.stats import percentile

COLORS = {"direct": "#4c72b0", "floor": "#55a868", "bridge": "#dd8452"}
LABELS = {
    "direct": "direct to Connect (emulator)",
    "floor": "through a bare relay on ChatBridge's stack",
    "bridge": "through ChatBridge",
}


def _pyplot() -> Any:
    """matplotlib's pyplot, drawing to files only (no screen here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, figure: Any, path: Path) -> None:
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_latencies(
    latencies: dict[str, list[float]],
    title: str,
    path: Path,
    measured: str = "customer send → agent echo received",
    counted: str = "messages",
) -> bool:
    """Writes the PNG of `measured` (what each latency spans) for so many `counted`; False if
    there is nothing to draw."""
    values = [value for series in latencies.values() for value in series if value > 0]
    if not values:
        return False
    plt = _pyplot()

    low, high = math.log10(min(values)), math.log10(max(values))
    if high - low < 0.5:
        low, high = low - 0.25, high + 0.25
    steps = 80
    edges = [10 ** (low + (high - low) * i / steps) for i in range(steps + 1)]
    figure, axes = plt.subplots(figsize=(10, 5.5))
    for name, series in latencies.items():
        if not series:
            continue
        ordered = sorted(series)
        p50, p99 = percentile(ordered, 50), percentile(ordered, 99)
        color = COLORS.get(name)
        axes.hist(
            ordered,
            bins=edges,
            alpha=0.5,
            color=color,
            label=f"{LABELS.get(name, name)}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, n={len(ordered)}",
        )
        axes.axvline(p50, color=color, linestyle="--", linewidth=1)
        axes.axvline(p99, color=color, linestyle=":", linewidth=1)
    axes.set_xscale("log")
    axes.set_xlabel(f"{measured} (ms, log scale; -- p50, ··· p99)")
    axes.set_ylabel(counted)
    axes.set_title(title)
    axes.legend()
    axes.grid(True, which="both", alpha=0.2)
    _save(plt, figure, path)
    return True


def plot_runs(targets: list[dict], title: str, path: Path) -> bool:
    """Writes the PNG of several runs' verdicts: each ratio target a row, each run a dot at its
    value with its 95 % interval, and under them a diamond for all runs' samples together, on a
    scale where 1 is the target's limit (left of it passes).
    `targets` as bench.runs.combine gives them; False if none is a ratio with values."""
    rows = [t for t in targets if t["unit"] == "x" and any(v is not None for v in t["values"])]
    if not rows:
        return False
    plt = _pyplot()

    edge = 4.0
    figure, axes = plt.subplots(figsize=(10, 0.9 * len(rows) + 1.5))
    runs = len(rows[0]["values"])
    step = 0.7 / (runs + 1)
    for row, target in enumerate(reversed(rows)):
        limit = target["limit"]
        pooled = target.get("pooled")
        dots = list(zip(target["values"], target["intervals"], strict=True))
        if pooled:
            dots.append((pooled["value"], pooled["interval"]))
        for run, (value, interval) in enumerate(dots):
            if value is None:
                continue
            y = row + 0.35 - (run + 0.5) * step  # run 1 on top, all runs together last
            color = "#55a868" if value <= limit else "#c44e52"
            if interval is not None:
                low = -edge if interval[0] is None else max(interval[0] / limit, -edge)
                high = edge if interval[1] is None else min(interval[1] / limit, edge)
                axes.plot([low, high], [y, y], color=color, linewidth=2, alpha=0.6)
            marker = "D" if run == runs else "o"
            axes.plot([min(value / limit, edge)], [y], marker, color=color)
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels([f"{t['target']} (≤ {t['limit']:g}x)" for t in reversed(rows)])
    axes.set_xlim(-1.0, edge)
    axes.set_xlabel(
        "value / its target's limit (1 = the limit; a line is a 95 % interval)\n"
        "● each run, run 1 on top; ◆ all runs' samples together"
    )
    axes.set_title(title)
    axes.grid(True, axis="x", alpha=0.2)
    _save(plt, figure, path)
    return True
