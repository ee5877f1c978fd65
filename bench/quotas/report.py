"""The report of a run under quotas: JSON (with every message's times), the plot and text."""

import json
import platform
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.quotas.options import QuotaOptions
from bench.quotas.plot import plot_run, plot_storm


def build(
    options: QuotaOptions,
    figures: dict[str, Any],
    quotas: dict[str, str],
    cpu: dict[str, float],
    started_at: datetime,
) -> dict[str, Any]:
    return {
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "options": {
            name: value if not isinstance(value, Path) else str(value)
            for name, value in vars(options).items()
            if name != "results_dir"
        },
        "quotas": quotas,
        "cpu_percent_of_one_core": cpu,
        **figures,
    }


def write(built: dict[str, Any], results_dir: Path) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = built["started_at"].replace(":", "").replace("-", "")[:15]
    path = results_dir / f"quotas-{stamp}.json"
    text = json.dumps(built, indent=2, default=str)
    path.write_text(text)
    (results_dir / "quotas-latest.json").write_text(text)
    image = results_dir / "quotas-latest.png"
    plot_run(built, image)
    plot_storm(built, results_dir / "quotas-storm-latest.png")
    return path, image


def _latency(summary: dict[str, Any]) -> str:
    if not summary.get("count"):
        return "none"
    return (
        f"p50 {_ms(summary['p50'])}, p95 {_ms(summary['p95'])}, p99 {_ms(summary['p99'])}, "
        f"max {_ms(summary['max'])} (n={summary['count']})"
    )


def _ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if abs(value) >= 1000 else f"{value:.0f} ms"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}: {count}" for name, count in sorted(counts.items())) or "none"


def _ratio(value: float | None, least: float | None) -> str:
    if value is None or not least:
        return "n/a"
    return f"{value / least:.2f}x"


def render(built: dict[str, Any]) -> str:
    o, p, b = built["options"], built["population"], built["burst"]
    m, t, r = built["messages"], built["typing"], built["receipts"]
    th = built["throttling_reaching_clients"]
    lines = [
        f"Under Connect's quotas: {o['chats']} chats, a message every {o['interval']:g} s for "
        f"{o['duration']:g} s, {o['asgi_processes']} ASGI process(es) and a relay; "
        f"{o['processes']} load generator processes",
        f"  quotas: {_counts(built['quotas'])}",
        f"  offered per second: {_counts(built['offered_per_s'])}",
        "",
        f"Chats: {p['started']} of {p['planned']} started, {p['websocket_ready']} websockets "
        f"ready ({p['ready_by_window_start']} by the window), {p['upstream_connected']} "
        f"upstreams connected; start failures: {_counts(p['start_failures'])}; contacts "
        f"Connect started without a chat: {p['contacts_without_a_chat']}",
        f"  every start answered within {p['all_started_within_s']} s of the first; REST 429s "
        f"in the burst {p['start_429s']['burst']}, in the ramp {p['start_429s']['ramp']}; the "
        f"ramp's first-attempt errors: {_counts(p['ramp_first_attempt_errors'])}",
    ]
    if b.get("chats"):
        lines += [
            f"Start burst: {b['chats']} starts requested within {b['requested_within_s']} s "
            f"(StartChatContact {b['quota']})",
            f"  started first time {b['started_first_time']}, after retries "
            f"{b['started_after_retries']}, failed {b['failed']}",
            f"  first-attempt errors: {_counts(b['first_attempt_errors'])}; final: "
            f"{_counts(b['final_errors'])}",
            f"  time to started: {_latency(b['time_to_started_ms'])}",
            f"  least the quota allows: {_latency(b['minimum_ms'])}",
            f"  the last answered {b['finished_s']} s after the first request, the least "
            f"{b['least_finish_s']} s ({_ratio(b['finished_s'], b['least_finish_s'])}); p50 "
            f"{_ratio(b['time_to_started_ms'].get('p50'), b['minimum_ms'].get('p50'))} the least's",
            f"  in the order asked: overtaken by a later request by more than "
            f"{b['overtaken_tolerance_ms']} ms: {b['overtaken_in_connect']} in Connect (its "
            f"contacts' start), {b['overtaken']} at the customers (the answers)",
        ]
    lines += [
        f"Messages: {m['offered']} sent; outcomes {_counts(m['outcomes'])}",
        f"  in Connect {m['in_connect']}, lost {m['lost']} (acked yet missing "
        f"{m['acked_but_missing_in_connect']}), doubled in Connect {m['doubled_in_connect']}, "
        f"refused yet in Connect {m['refused_yet_in_connect']}",
        f"  back at the client: own event missing {m['own_event_missing']}, doubled "
        f"{m['own_event_doubled']}; agent echoes missing {m['echo_missing_at_client']}, "
        f"doubled {m['echo_doubled_at_client']}",
        f"  send → in Connect: {_latency(m['latency_to_connect_ms'])}",
        f"  send → ack: {_latency(m['ack_ms'])}",
        f"  send → in Connect, sent while the typing frame before it was unanswered: "
        f"{_latency(m['latency_behind_unanswered_typing_ms'])}; others: "
        f"{_latency(m['latency_otherwise_ms'])}",
        f"  least the quota allows (SendMessage {m['quota']}), every message sent: "
        f"{_latency(m['minimum_ms'])}",
        f"  added over that least, delivered messages: {_latency(m['added_over_minimum_ms'])}"
        + (
            " (below 0: what was dropped did not wait)"
            if m["added_over_minimum_ms"].get("min", 0) < 0
            else ""
        ),
        f"Typing: {t['frames']} frames, {_counts(t['outcomes'])}; in Connect {t['in_connect']}, "
        f"acked as sent yet missing {t['acked_sent_but_missing_in_connect']}",
        f"  typing frame → its answer: {_latency(t['answer_ms'])}",
        f"Read receipts: {r['frames']} frames, {_counts(r['outcomes'])}; in Connect "
        f"{r['in_connect']}, acked yet missing {r['acked_but_missing_in_connect']}; later "
        f"error frames {_counts(r['later_error_frames'])}",
        f"Throttling reaching clients: {th['total']}: websocket "
        f"{_counts(th['websocket_error_frames'])}; REST 429 {_counts(th['rest_429'])}",
        f"CPU (% of one core, steady window): {_counts(built['cpu_percent_of_one_core'])}",
    ]
    if "storm" in built:
        lines += _storm(built["storm"])
    return "\n".join(lines)


def _storm(st: dict[str, Any]) -> list[str]:
    calls = {
        name: f"{spent.get('admitted', 0)} (+{spent.get('throttled', 0)} throttled)"
        for name, spent in st["connect_calls"].items()
    }
    sends = st["sends"]
    lines = [
        f"A process lost: {st['process']} killed (SIGKILL) {st['killed_after_window_start_s']} s "
        f"into the window, once {st['live_at_kill']} chats were live, holding "
        f"{st['upstreams_lost']} upstreams; {st['recovered']} live again, all within "
        f"{st['recovery_s']} s (least the quotas allow: {st['least_s']} s)",
        f"  time to live again: {_latency(st['recovery_ms'])}",
        f"  Connect calls meanwhile: {_counts(calls)}; per chat {_counts(st['calls_per_chat'])}",
        f"  websockets per participant, at most: {st['websocket_peak']}; refused at the cap: "
        f"{st['websockets_refused']}",
        f"  sends meanwhile: {sends['count']}, {_counts(sends['outcomes'])}; send → ack "
        f"{_latency(sends['ack_ms'])}; send → in Connect "
        f"{_latency(sends['latency_to_connect_ms'])}",
    ]
    if st["error"]:
        lines.append(f"  the storm watch failed: {st['error']}")
    return lines
