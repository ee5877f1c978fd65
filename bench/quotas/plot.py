"""The plots of a run under quotas: each message's wait against the least the quota allows,
and the start burst's time to started against the least StartChatContact's quota allows; with
--kill-holder, the storm: when each chat was live again against the least the quotas allow."""

from pathlib import Path
from typing import Any

from bench.quotas.records import SENT


def plot_run(built: dict[str, Any], path: Path) -> bool:
    """Writes the PNG; False if there is nothing to draw."""
    series = built["messages"]["series"]
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(13, 7))
    grid = figure.add_gridspec(2, 2, width_ratios=(2, 1), height_ratios=(3, 1))
    left, counts, right = (
        figure.add_subplot(grid[0, 0]),
        figure.add_subplot(grid[1, 0]),
        figure.add_subplot(grid[:, 1]),
    )
    origin = min(point["sent_at"] for point in series)
    reached = [p for p in series if p["reached_s"] is not None]
    left.plot(
        [p["sent_at"] - origin for p in series],
        [p["minimum_s"] for p in series],
        ".",
        markersize=3,
        color="#4c72b0",
        label="least the quota allows (token bucket, every message sent)",
    )
    left.plot(
        [p["sent_at"] - origin for p in reached],
        [p["reached_s"] for p in reached],
        ".",
        markersize=3,
        color="#dd8452",
        label=f"through ChatBridge, reached Connect ({len(reached)})",
    )
    _per_bin(counts, series, origin)
    m = built["messages"]
    left.set_title(
        f"Messages: SendMessage {m['quota']}, offered "
        f"{built['offered_per_s'].get('SendMessage', 0):g}/s"
    )
    left.set_ylabel("send → in Connect (s, symlog)")
    left.set_yscale("symlog", linthresh=0.01)
    left.grid(True, alpha=0.2)
    left.legend(fontsize=8)

    b = built["burst"]
    if b.get("chats"):
        times = b.get("series", [])
        right.plot(
            [p["requested_s"] for p in times],
            [p["minimum_s"] for p in times],
            "o",
            markersize=3,
            color="#4c72b0",
            label="least StartChatContact's quota allows",
        )
        done = [p for p in times if p["started_s"] is not None]
        failed = [p for p in times if p["started_s"] is None]
        right.set_yscale("symlog", linthresh=0.1)
        right.plot(
            [p["requested_s"] for p in done],
            [p["started_s"] for p in done],
            "o",
            markersize=3,
            color="#dd8452",
            label=f"through ChatBridge: started ({len(done)})",
        )
        if failed:
            right.plot(
                [p["requested_s"] for p in failed],
                [0.0] * len(failed),
                "x",
                markersize=5,
                color="#c44e52",
                label=f"failed ({len(failed)})",
            )
        right.set_title(f"Start burst: StartChatContact {b['quota']}")
        right.set_xlabel(f"first request of each of {b['chats']} chats, at (s)")
        right.set_ylabel("request → chat started (s, symlog)")
        right.grid(True, alpha=0.2)
        right.legend(fontsize=8)
    else:
        right.set_axis_off()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def _per_bin(axes: Any, series: list[dict[str, Any]], origin: float, width: float = 10.0) -> None:
    """Messages sent per `width` seconds, split by what became of them."""
    bins = int(max(p["sent_at"] - origin for p in series) // width) + 1

    def fate(point: dict[str, Any]) -> str:
        if point["reached_s"] is not None:
            return "reached Connect"
        if point["outcome"] == SENT:
            return "acked, yet not in Connect"
        return "refused (error frame)" if point["outcome"].startswith("error:") else "no answer"

    colors = {
        "reached Connect": "#dd8452",
        "refused (error frame)": "#c44e52",
        "acked, yet not in Connect": "black",
        "no answer": "#8c8c8c",
    }
    bottom = [0] * bins
    for label, color in colors.items():
        heights = [0] * bins
        for point in series:
            if fate(point) == label:
                heights[int((point["sent_at"] - origin) // width)] += 1
        if any(heights):
            axes.bar(
                [width * (i + 0.5) for i in range(bins)],
                heights,
                width=width * 0.9,
                bottom=bottom,
                color=color,
                label=f"{label} ({sum(heights)})",
            )
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.set_xlabel("customer sent at (s into the steady window)")
    axes.set_ylabel(f"messages / {width:g} s")
    axes.legend(fontsize=8, loc="lower right")
    axes.grid(True, alpha=0.2)


def plot_storm(built: dict[str, Any], path: Path) -> bool:
    """Writes the storm's PNG; False if the run had no storm."""
    storm = built.get("storm") or {}
    series = storm.get("series") or []
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 5))
    axes.plot(
        [p["least_s"] for p in series],
        [p["chat"] for p in series],
        color="#4c72b0",
        label="least the quotas allow (CreateParticipantConnection 6/s, burst 9)",
    )
    axes.plot(
        [p["live_s"] for p in series],
        [p["chat"] for p in series],
        color="#dd8452",
        label=f"through ChatBridge: live again ({storm['recovered']} of {storm['upstreams_lost']})",
    )
    axes.set_title(
        f"{storm['upstreams_lost']} upstreams lost with {storm['process']} (SIGKILL): "
        f"all live again in {storm['recovery_s']} s, least {storm['least_s']} s"
    )
    axes.set_xlabel("seconds after the kill")
    axes.set_ylabel("chats live again")
    axes.grid(True, alpha=0.2)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True
