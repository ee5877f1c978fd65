"""Turns the raw figures into the report: summary, validity, targets, JSON, PNG and text.

The targets are ratios to the direct path measured in the same run, so that they hold on
whatever machine the bench runs: ChatBridge may add at most a quarter of the direct median
and half of the direct p99 to send → echo, in the steady window and while chats are being
started; a chat start through it may cost at most 1.5 times a direct one; a REST client's
wake-up (an agent's message created in Connect → the long-poll answering it, or its SSE frame
arriving), long-poll and SSE apart, may take at most twice the websocket's send → echo at p99;
daphne may hold at most 60 KiB of RSS per chat. Shown beside them, no targets: a REST
client's send → echo p99 against the websocket's, for all and per kind of reader (it adds the
POST that sends), and the REST wake-up p99 against the websocket's own wake-up (like for like).

A run whose load generator or direct path saturated measured the bench, not ChatBridge: it is
INVALID, and says why.
"""

import json
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.intervals import CONFIDENCE, Interval, ratio_interval, span_text
from bench.options import Options
from bench.plot import plot_latencies
from bench.stats import PhaseStats, percentile, summarize
from chatbridge.eventloop import chosen_loop

# (label, key in "ratios", limit, unit)
TARGETS = (
    ("added p50 / direct p50", "added_p50", 0.25, "x"),
    ("added p99 / direct p99", "added_p99", 0.5, "x"),
    ("added p99 while chats start / direct p99 then", "added_ramp_p99", 0.5, "x"),
    ("chat start p50 / direct start p50", "start_p50", 1.5, "x"),
    ("chat start p99 / direct start p99", "start_p99", 1.5, "x"),
    ("REST long-poll wake-up p99 / websocket p99", "rest_poll_wakeup_p99", 2.0, "x"),
    ("REST SSE wake-up p99 / websocket p99", "rest_sse_wakeup_p99", 2.0, "x"),
    ("daphne RSS per chat", "rss_per_chat_kib", 60.0, "KiB"),
)
# More CPU than this (% of one core) used by processes outside the bench spoils a run.
BUSY_NEIGHBOURS = 25.0
NAMES = {
    "direct": "direct (emulator)",
    "bridge": "through ChatBridge",
    "rest": "REST apps",
}
READERS = {"poll": "long-poll", "sse": "SSE"}


def phase_summary(stats: PhaseStats, options: Options) -> dict[str, Any]:
    # The seconds of the window that were this path's turns: its rates are per second of them.
    window = (stats.extra.get("window_s") or options.duration) / (stats.extra.get("turns") or 1)
    return {
        "planned_chats": stats.planned,
        "turns": stats.extra.get("turns", 1),
        "own_window_s": round(window, 2),
        "connected_at_window_start": stats.extra.get("connected_at_window_start", 0),
        "connected_peak": stats.connected_peak,
        "ramp_s": stats.extra.get("ramp_s"),
        "ramp_chats_per_s": stats.extra.get("ramp_chats_per_s"),
        "ramp_complete": stats.extra.get("ramp_complete"),
        "connect_failures": dict(stats.connect_failures),
        "errors": dict(stats.errors),
        "sent_in_window": stats.sent_in_window,
        "echoed_in_window": stats.echoed_in_window,
        "sent_total": stats.sent_total,
        "echoed_total": stats.echoed_total,
        "sent_per_s": round(stats.sent_in_window / window, 2),
        "echoed_per_s": round(stats.echoed_in_window / window, 2),
        "latency_ms": summarize(stats.latencies_ms),
        "ramp_latency_ms": summarize(stats.ramp_latencies_ms),
        "setup_ms": {step: summarize(values) for step, values in stats.setup_ms.items()},
        "send_request_ms": summarize(stats.samples.get("send_request_ms", [])),
        "send_requests_per_s": round(len(stats.samples.get("send_request_ms", [])) / window, 2),
        "wakeup_ms": summarize(stats.samples.get("wakeup_ms", [])),
        "readers": readers_summary(stats),
        "cpu_percent_of_one_core": stats.extra.get("cpu_percent", {}),
        "ramp_cpu_percent_of_one_core": stats.extra.get("ramp_stack_cpu_percent", {}),
        "bench_loop_lag_ms": stats.extra.get("loop_lag_ms", {}),
        "generators": stats.extra.get("generators", []),
        "break": find_break(stats, options.runaway_ms),
        "timeline": stats.timeline_rows(),
    }


def readers_summary(stats: PhaseStats) -> dict[str, Any]:
    """A REST phase's figures per kind of reader: its apps, their send → echo and their
    wake-up (agent message created → received); empty for the other phases."""
    return {
        kind: {
            "apps": apps,
            "latency_ms": summarize(stats.samples.get(f"echo_ms_{kind}", [])),
            "wakeup_ms": summarize(stats.samples.get(f"wakeup_ms_{kind}", [])),
        }
        for kind, apps in sorted(stats.extra.get("variants", {}).items())
    }


def find_break(stats: PhaseStats, runaway_ms: float) -> dict[str, Any] | None:
    """The first second with a connect failure, an error or a runaway median, and the load
    at that moment; None if the phase ran clean."""
    rows = stats.timeline_rows()
    for index, row in enumerate(rows):
        reasons = []
        if row["connect_failures"]:
            reasons.append(f"{row['connect_failures']} connect failure(s)")
        if row["errors"]:
            reasons.append(f"{row['errors']} error(s)")
        if row["p50_ms"] is not None and row["p50_ms"] > runaway_ms:
            reasons.append(f"median latency {row['p50_ms']:.0f} ms > {runaway_ms:.0f} ms")
        if reasons:
            recent = rows[max(0, index - 4) : index + 1]
            return {
                "t_s": row["t"],
                "connected_chats": row["connected"],
                "send_rate_per_s": round(sum(r["sent"] for r in recent) / len(recent), 1),
                "reasons": reasons,
            }
    return None


def _git_commit() -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    result = subprocess.run(
        [git, "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent,
        check=False,
    )
    return result.stdout.strip() or None


def _kib(value: int | None) -> float | None:
    return round(value / 1024, 1) if value is not None else None


def build(
    raw: dict[str, Any], options: Options, daphne_log: str, started_at: datetime
) -> dict[str, Any]:
    phases: dict[str, PhaseStats] = raw["phases"]
    summaries = {name: phase_summary(stats, options) for name, stats in phases.items()}
    rss = raw["rss"]
    comparison = _comparison(summaries)
    memory: dict[str, Any] = {
        key: _kib(value) for key, value in rss.items() if key != "connected_chats"
    }
    memory = {f"{key}_kib": value for key, value in memory.items()}
    chats = rss.get("connected_chats") or 0
    if chats and rss.get("connected") and rss.get("idle"):
        memory["per_chat_kib"] = round((rss["connected"] - rss["idle"]) / chats / 1024, 1)
        comparison["ratios"]["rss_per_chat_kib"] = memory["per_chat_kib"]
    memory["connected_chats"] = chats
    intervals = target_intervals(phases)
    targets = []
    for label, key, limit, unit in TARGETS:
        value = comparison["ratios"].get(key)
        interval = intervals.get(key) if value is not None else None
        targets.append(
            {
                "target": label,
                "key": key,
                "limit": limit,
                "unit": unit,
                "value": value,
                "result": "n/a" if value is None else ("PASS" if value <= limit else "FAIL"),
                "interval": interval.as_list() if interval is not None else None,
                "settled": interval.settled(limit) if interval is not None else None,
            }
        )
    invalid = invalid_reasons(summaries, options, raw["stack_alive"])
    log_lines = daphne_log.splitlines()
    return {
        "started_at": started_at.isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "commit": _git_commit(),
        "machine": {"cpus": _cpu_count(), "python": platform.python_version()},
        "options": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in asdict(options).items()
        },
        "method": {
            "phases": "direct and ChatBridge together, taking turns of --interval seconds "
            "(direct first): only the path whose turn it is starts chats and sends; then REST",
            "load_generator": f"{options.processes} processes per phase, each path's customers "
            "spread round-robin, one epoch and one window (whole rotations of the turns) for all",
            "server": f"python -m chatbridge.serve (daphne) on {chosen_loop()}",
            "direct_send": "httpx.AsyncClient POST /participant/message (SendMessage's REST call)",
            "direct_setup": "boto3 StartChatContact + CreateParticipantConnection in a thread pool",
            "bridge_start_chat": "chatbridge.chats.service.ChatService.start_chat in the bench",
            "latency": "send (ws send frame / HTTP POST) to the agent's echo (websocket, "
            "long-poll or SSE frame); the steady window's messages, and apart those sent "
            "during the ramp",
            "wakeup": "the agent message's AbsoluteTime (the emulator's, on the same clock) "
            "to its websocket frame's arrival, the long-poll's answer or the SSE frame's "
            "arrival",
            "targets": "ratios to the direct path of the same run",
            "intervals": f"{CONFIDENCE:.0%} confidence, from order statistics (bench.intervals)",
        },
        "valid": not invalid,
        "invalid_reasons": invalid,
        "phases": summaries,
        "comparison": comparison,
        "daphne_rss": memory,
        "targets": targets,
        "stack_alive_at_end": raw["stack_alive"],
        "daphne_log": {
            "lines": len(log_lines),
            "errors": sum(" ERROR " in line or "Traceback" in line for line in log_lines),
            "warnings": sum(" WARNING " in line for line in log_lines),
            "first_problems": [
                line for line in log_lines if " ERROR " in line or " WARNING " in line
            ][:10],
        },
    }


@dataclass(frozen=True, slots=True)
class TargetSamples:
    """The samples one ratio target compares: our `percent` quantile over theirs, less
    `minus` (1 where the target is what ours adds to theirs)."""

    ours: list[float]
    theirs: list[float]
    percent: float
    minus: float

    def value(self) -> float | None:
        """The ratio, as bench.stats.percentile reads each side; None without samples."""
        if not self.ours or not self.theirs:
            return None
        theirs = percentile(sorted(self.theirs), self.percent)
        if not theirs:
            return None
        return round(percentile(sorted(self.ours), self.percent) / theirs - self.minus, 2)

    def interval(self) -> Interval | None:
        if not self.ours or not self.theirs:
            return None
        return ratio_interval(self.ours, self.theirs, self.percent, minus=self.minus)


def target_samples(phases: dict[str, PhaseStats]) -> dict[str, TargetSamples]:
    """The samples behind each ratio target judged on samples; none for daphne's memory,
    one measurement."""
    direct, bridge, rest = phases.get("direct"), phases.get("bridge"), phases.get("rest")
    samples: dict[str, TargetSamples] = {}
    if direct is not None and bridge is not None:
        samples["added_p50"] = TargetSamples(bridge.latencies_ms, direct.latencies_ms, 50, 1.0)
        samples["added_p99"] = TargetSamples(bridge.latencies_ms, direct.latencies_ms, 99, 1.0)
        samples["added_ramp_p99"] = TargetSamples(
            bridge.ramp_latencies_ms, direct.ramp_latencies_ms, 99, 1.0
        )
        ours = bridge.setup_ms.get("start_chat", [])
        theirs = direct.setup_ms.get("start_chat", [])
        samples["start_p50"] = TargetSamples(ours, theirs, 50, 0.0)
        samples["start_p99"] = TargetSamples(ours, theirs, 99, 0.0)
    if rest is not None and bridge is not None:
        for kind in READERS:
            samples[f"rest_{kind}_wakeup_p99"] = TargetSamples(
                rest.samples.get(f"wakeup_ms_{kind}", []), bridge.latencies_ms, 99, 0.0
            )
    return samples


def target_intervals(phases: dict[str, PhaseStats]) -> dict[str, Interval]:
    """Each target's confidence interval from the samples behind it (bench.intervals)."""
    intervals = {key: s.interval() for key, s in target_samples(phases).items()}
    return {key: interval for key, interval in intervals.items() if interval is not None}


def _ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return round(value / reference, 2)


def _comparison(summaries: dict[str, Any]) -> dict[str, Any]:
    """Added latency in ms, and the ratios the targets are about."""
    comparison: dict[str, Any] = {"ratios": {}}
    ratios = comparison["ratios"]
    direct, bridge = summaries.get("direct"), summaries.get("bridge")
    if direct and bridge:
        ours, theirs = bridge["latency_ms"], direct["latency_ms"]
        if ours.get("count") and theirs.get("count"):
            for key in ("p50", "p95", "p99", "max"):
                comparison[f"added_{key}_ms"] = round(ours[key] - theirs[key], 3)
                comparison[f"ratio_{key}"] = _ratio(ours[key], theirs[key])
            ratios["added_p50"] = _ratio(comparison["added_p50_ms"], theirs["p50"])
            ratios["added_p99"] = _ratio(comparison["added_p99_ms"], theirs["p99"])
        ours, theirs = bridge["ramp_latency_ms"], direct["ramp_latency_ms"]
        if ours.get("count") and theirs.get("count"):
            comparison["added_ramp_p50_ms"] = round(ours["p50"] - theirs["p50"], 3)
            comparison["added_ramp_p99_ms"] = round(ours["p99"] - theirs["p99"], 3)
            ratios["added_ramp_p99"] = _ratio(comparison["added_ramp_p99_ms"], theirs["p99"])
        ours = bridge["setup_ms"].get("start_chat", {})
        theirs = direct["setup_ms"].get("start_chat", {})
        if ours.get("count") and theirs.get("count"):
            ratios["start_p50"] = _ratio(ours["p50"], theirs["p50"])
            ratios["start_p99"] = _ratio(ours["p99"], theirs["p99"])
    rest = summaries.get("rest")
    if rest and bridge and bridge["latency_ms"].get("count"):
        websocket = bridge["latency_ms"]["p99"]
        if rest["latency_ms"].get("count"):
            ratios["rest_p99"] = _ratio(rest["latency_ms"]["p99"], websocket)
        for kind, reader in rest["readers"].items():
            for figure, key in (
                ("latency_ms", f"rest_{kind}_p99"),
                ("wakeup_ms", f"rest_{kind}_wakeup_p99"),
            ):
                if reader[figure].get("count"):
                    ratios[key] = _ratio(reader[figure]["p99"], websocket)
            if reader["wakeup_ms"].get("count") and bridge["wakeup_ms"].get("count"):
                ratios[f"rest_{kind}_wakeup_p99_to_ws_wakeup"] = _ratio(
                    reader["wakeup_ms"]["p99"], bridge["wakeup_ms"]["p99"]
                )
    return comparison


def invalid_reasons(summaries: dict[str, Any], options: Options, alive: bool) -> list[str]:
    """Why the run measured the bench or a saturated emulator rather than ChatBridge."""
    reasons = []
    limit = options.generator_cpu_limit
    for name, phase in summaries.items():
        for index, generator in enumerate(phase["generators"]):
            for when in ("ramp", "window"):
                used = generator.get(f"{when}_cpu_percent")
                if used is not None and used > limit:
                    reasons.append(
                        f"{name}: load generator {index} used {used:.0f}% of a core during "
                        f"the {when} (limit {limit:g}%)"
                    )
    direct = summaries.get("direct")
    if direct is not None:
        errors = sum(direct["errors"].values()) + sum(direct["connect_failures"].values())
        if errors:
            reasons.append(f"direct path: {errors} error(s) or failed start(s)")
        p50 = direct["latency_ms"].get("p50")
        if p50 is None:
            reasons.append("direct path: no message measured")
        elif p50 > options.direct_p50_limit_ms:
            reasons.append(f"direct path: p50 {p50:.1f} ms > {options.direct_p50_limit_ms:g} ms")
    if not alive:
        reasons.append("a process of the stack died during the run")
    return reasons


def _cpu_count() -> int | None:
    import os

    return os.cpu_count()


def write(report: dict[str, Any], latencies: dict[str, list[float]], results_dir: Path) -> Path:
    """Writes <timestamp>.json, latest.json and latest.png; returns the timestamped path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = report["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    path = results_dir / f"{stamp}.json"
    text = json.dumps(report, indent=2)
    path.write_text(text)
    (results_dir / "latest.json").write_text(text)
    options = report["options"]
    title = (
        f"send → echo latency, {options['chats']} chats via ChatBridge / "
        f"{options['direct_chats']} direct, taking turns of {options['interval']:g} s"
    )
    if plot_latencies(latencies, title, results_dir / f"{stamp}.png"):
        shutil.copyfile(results_dir / f"{stamp}.png", results_dir / "latest.png")
    return path


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _rest_information(ratios: dict[str, Any]) -> list[str]:
    """REST ratios shown though no target: send → echo p99 against the websocket's, and the
    wake-up p99 against the websocket's own wake-up (like for like)."""
    lines = []
    for label, keys in (
        (
            "REST send → echo p99 / websocket p99",
            (("all apps", "rest_p99"), *((READERS[k], f"rest_{k}_p99") for k in READERS)),
        ),
        (
            "REST wake-up p99 / websocket wake-up p99",
            tuple((READERS[k], f"rest_{k}_wakeup_p99_to_ws_wakeup") for k in READERS),
        ),
    ):
        shown = [
            f"{name} {_fmt(ratios[key], 2)}x" for name, key in keys if ratios.get(key) is not None
        ]
        if shown:
            lines.append(f"  info  {label} (no target): {', '.join(shown)}")
    return lines


def _interval_note(target: dict[str, Any]) -> str:
    """What the samples allow: the interval, and "settled" when all of it is on one side of
    the limit (an end the samples cannot bound is "unbounded")."""
    interval = target.get("interval")
    if interval is None:
        return ""
    verdict = "settled" if target["settled"] else "not settled by these samples"
    return f", {CONFIDENCE:.0%} interval {span_text(interval, 'x')}: {verdict}"


def _latency_row(label: str, latency: dict[str, Any]) -> str:
    """A row of the latency tables: p50, p95, p99 and max of a summarize()."""
    return (
        f"  {label:<22}{_fmt(latency.get('p50'), 2):>8}{_fmt(latency.get('p95'), 2):>8}"
        f"{_fmt(latency.get('p99'), 2):>8}{_fmt(latency.get('max'), 1):>9}"
    )


def render(report: dict[str, Any]) -> str:
    options = report["options"]
    lines = [
        "",
        f"ChatBridge bench ({report['started_at']}, commit {report['commit']}, "
        f"{report['machine']['cpus']} CPUs)",
        f"  {options['chats']} chats through ChatBridge, {options['direct_chats']} direct; "
        f"{options['duration']:g} s steady window after a ramp of {options['ramp_rate']:g} "
        "chats/s in each path's turns; msg/s per second of the path's own turns",
        f"  direct and ChatBridge took turns of {options['interval']:g} s (each customer sends "
        "once in each of its path's turns), then the REST apps; customers spread over "
        f"{options['processes']} load generator processes",
        f"  ChatBridge served by {report['method'].get('server', 'daphne')}",
        *(
            ["  ChatBridge reached Redis through a unix socket"]
            if options.get("redis_socket")
            else []
        ),
        "",
        f"  {'send → echo (ms)':<22}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>9}"
        f"{'msg/s':>8}{'errors':>8}{'conn.fail':>10}",
    ]
    for name, phase in report["phases"].items():
        lines.append(
            _latency_row(NAMES.get(name, name), phase["latency_ms"])
            + f"{phase['echoed_per_s']:>8.1f}{sum(phase['errors'].values()):>8}"
            f"{sum(phase['connect_failures'].values()):>10}"
        )
        for kind, reader in phase.get("readers", {}).items():
            label = f"  {READERS.get(kind, kind)} ({reader['apps']})"
            lines.append(_latency_row(label, reader["latency_ms"]))
    comparison = report["comparison"]
    if "added_p50_ms" in comparison:
        lines.append(
            f"  {'added by ChatBridge':<22}"
            + "".join(
                f"{'+' + _fmt(comparison[f'added_{key}_ms'], 2):>{width}}"
                for key, width in (("p50", 8), ("p95", 8), ("p99", 8), ("max", 9))
            )
        )
        lines.append(
            f"  {'ratio':<22}"
            + "".join(
                f"{_fmt(comparison[f'ratio_{key}'], 1) + 'x':>{width}}"
                for key, width in (("p50", 8), ("p95", 8), ("p99", 8), ("max", 9))
            )
        )
    lines.append("")
    lines.append("  while chats start (messages sent during the ramp):")
    for name, phase in report["phases"].items():
        ramp = phase["ramp_latency_ms"]
        if ramp.get("count"):
            lines.append(
                _latency_row(NAMES.get(name, name), ramp) + f"  ({ramp['count']} messages)"
            )
    lines.append("")
    for name, phase in report["phases"].items():
        problems = {
            **phase["errors"],
            **{f"connect:{k}": v for k, v in phase["connect_failures"].items()},
        }
        if problems:
            lines.append(f"  {NAMES.get(name, name)} problems: {problems}")
        cpu = ", ".join(f"{k} {v:.0f}%" for k, v in phase["cpu_percent_of_one_core"].items())
        lag = phase["bench_loop_lag_ms"]
        over = ", in its own turns" if phase.get("turns", 1) > 1 else ""
        lines.append(
            f"  {NAMES.get(name, name)}: CPU (% of one core{over}) {cpu}; bench loop lag p99 "
            f"{_fmt(lag.get('p99'))} ms"
        )
        ramp_cpu = phase.get("ramp_cpu_percent_of_one_core") or {}
        if ramp_cpu:
            shares = ", ".join(f"{k} {v:.0f}%" for k, v in ramp_cpu.items())
            lines.append(f"    CPU while chats start (% of one core): {shares}")
        generators = ", ".join(
            f"{_fmt(g.get('ramp_cpu_percent'), 0)}/{_fmt(g.get('window_cpu_percent'), 0)}%"
            for g in phase["generators"]
        )
        lines.append(f"    load generators' CPU (ramp/window, % of one core): {generators}")
        pauses = ", ".join(f"{_fmt(g.get('gc_longest_ms'))}" for g in phase["generators"])
        after = ", ".join(
            f"{g.get('gc_after_objects', 0):,} in {_fmt(g.get('gc_after_ms'))} ms"
            for g in phase["generators"]
        )
        lines.append(
            f"    load generators' garbage collection: longest while customers ran {pauses} ms;"
            f" after the phase {after}"
        )
        setup = ", ".join(
            f"{step} p50 {_fmt(s.get('p50'))} / p99 {_fmt(s.get('p99'))} ms"
            for step, s in phase["setup_ms"].items()
        )
        lines.append(f"    setup: {setup}")
        if phase["send_request_ms"].get("count"):
            send = phase["send_request_ms"]
            lines.append(
                f"    REST: {phase['send_requests_per_s']} sends/s, POST .../messages p50 "
                f"{_fmt(send.get('p50'))} / p99 {_fmt(send.get('p99'))} ms"
            )
        wakeups = [("websocket", phase["wakeup_ms"])] if phase["wakeup_ms"].get("count") else []
        wakeups += [(READERS.get(k, k), r["wakeup_ms"]) for k, r in phase["readers"].items()]
        for name, wake in wakeups:
            lines.append(
                f"    {name} wake-up (agent message created → received) p50 "
                f"{_fmt(wake.get('p50'))} / p99 {_fmt(wake.get('p99'))} ms"
            )
        lines.append(
            f"    ramp: {phase['connected_at_window_start']} chats connected in {phase['ramp_s']} s "
            f"({phase['ramp_chats_per_s']} chats/s)"
        )
        if phase["break"]:
            broke = phase["break"]
            lines.append(
                f"    first trouble at t={broke['t_s']} s with {broke['connected_chats']} chats "
                f"connected, {broke['send_rate_per_s']} msg/s: {'; '.join(broke['reasons'])}"
            )
    memory = report["daphne_rss"]
    lines.append(
        f"  daphne RSS: cold {_fmt(memory.get('cold_idle_kib', 0) / 1024 if memory.get('cold_idle_kib') else None)} MiB, "
        f"idle after warm-up {_fmt((memory.get('idle_kib') or 0) / 1024)} MiB, "
        f"{memory.get('connected_chats')} chats connected "
        f"{_fmt((memory.get('connected_kib') or 0) / 1024)} MiB, end of window "
        f"{_fmt((memory.get('end_of_window_kib') or 0) / 1024)} MiB → "
        f"{_fmt(memory.get('per_chat_kib'))} KiB per chat"
    )
    log = report["daphne_log"]
    if log["errors"] or log["warnings"]:
        lines.append(
            f"  daphne log: {log['errors']} errors, {log['warnings']} warnings (bench/results/latest-daphne.log)"
        )
    lines.append("")
    lines.extend(_rest_information(comparison["ratios"]))
    for target in report["targets"]:
        lines.append(
            f"  {target['result']:<5} {target['target']}: {_fmt(target['value'], 2)}"
            f"{target['unit'] if target['unit'] == 'x' else ' ' + target['unit']} "
            f"(≤ {target['limit']:g}{target['unit'] if target['unit'] == 'x' else ' ' + target['unit']})"
            f"{_interval_note(target)}"
        )
    if options.get("runs", 1) == 1:
        lines.append(
            "  (one run: its intervals cover its own samples, and runs of one commit differ by "
            "more; --runs N judges several)"
        )
    busy = [
        name
        for name, phase in report["phases"].items()
        if phase["cpu_percent_of_one_core"].get("others", 0) > BUSY_NEIGHBOURS
    ]
    if busy:
        lines.append(
            f"  WARNING: other processes used more than {BUSY_NEIGHBOURS:g}% of a core during "
            f"{', '.join(busy)}: the figures are not representative; rerun on a quiet machine"
        )
    lines.append("")
    if report["valid"]:
        lines.append("  VALID: no load generator process nor the direct path saturated")
    else:
        lines.append("  INVALID: this run measured the bench, not ChatBridge:")
        lines.extend(f"    - {reason}" for reason in report["invalid_reasons"])
    return "\n".join(lines)
