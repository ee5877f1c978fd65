"""The plot of a run under quotas: each message's wait against the least the quota allows,
and the start burst's time to started against the least StartChatContact's quota allows."""

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

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5), width_ratios=(2, 1))
    origin = min(point["sent_at"] for point in series)
    reached = [p for p in series if p["reached_s"] is not None]
    refused = [p for p in series if p["reached_s"] is None and p["outcome"] != SENT]
    silent = [p for p in series if p["reached_s"] is None and p["outcome"] == SENT]
    left.plot(
        [p["sent_at"] - origin for p in series],
        [p["minimum_s"] for p in series],
        ".",
        markersize=3,
        color="#4c72b0",
        label="least the quota allows (token bucket, every message)",
    )
    left.plot(
        [p["sent_at"] - origin for p in reached],
        [p["reached_s"] for p in reached],
        ".",
        markersize=3,
        color="#dd8452",
        label=f"through ChatBridge: reached Connect ({len(reached)})",
    )
    floor = 0.0
    if refused:
        left.plot(
            [p["sent_at"] - origin for p in refused],
            [floor] * len(refused),
            "x",
            markersize=5,
            color="#c44e52",
            label=f"refused, never reached Connect ({len(refused)})",
        )
    if silent:
        left.plot(
            [p["sent_at"] - origin for p in silent],
            [floor] * len(silent),
            "v",
            markersize=5,
            color="black",
            label=f"acked, yet not in Connect ({len(silent)})",
        )
    m = built["messages"]
    left.set_title(
        f"Messages: SendMessage {m['quota']}, offered "
        f"{built['offered_per_s'].get('SendMessage', 0):g}/s"
    )
    left.set_xlabel("customer sent at (s into the steady window)")
    left.set_ylabel("send → in Connect (s)")
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
        right.set_title(f"Start burst: {b['chats']} starts, StartChatContact {b['quota']}")
        right.set_xlabel("requested at (s)")
        right.set_ylabel("request → chat started (s)")
        right.grid(True, alpha=0.2)
        right.legend(fontsize=8)
    else:
        right.set_axis_off()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True
