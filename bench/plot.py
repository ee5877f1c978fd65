"""The latency histogram: both paths overlaid on a log-scaled latency axis.

A log axis because the interesting part spans decades: a direct path of about a millisecond,
ChatBridge's few milliseconds more, and a tail that may reach seconds under overload.
"""

import math
from pathlib import Path

from bench.stats import percentile

COLORS = {"direct": "#4c72b0", "floor": "#55a868", "bridge": "#dd8452"}
LABELS = {
    "direct": "direct to Connect (emulator)",
    "floor": "through a bare relay on ChatBridge's stack",
    "bridge": "through ChatBridge",
}


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
