"""From what the customers saw and what Connect (the emulator) holds to the run's figures.

Losses and doubles compare three records of each message: what the customer sent and heard
back (its CustomerRecord), the emulator's own items for the contact, and the events the
customer received. The theoretical minimum latency replays the customers' actual send times
through a token bucket with the quota's rate and burst (minimum_delays).
"""

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.quotas.emulator import ContactView, Quota
from bench.quotas.plan import Plan
from bench.quotas.records import SENT, CustomerRecord
from bench.stats import summarize

THROTTLING = ("throttled", "rate_limited")


def minimum_delays(arrivals: list[float], quota: Quota) -> list[float]:
    """Each request's least possible wait (seconds), in arrival order, had a perfect sender
    spent every token of a bucket of `quota.burst` tokens refilled at `quota.per_second`
    (full at the first request) on the requests in the order they came.

    Taking requests in order gives every request the earliest token it can have without
    taking one from an earlier request; no order makes the slowest request faster."""
    order = sorted(range(len(arrivals)), key=arrivals.__getitem__)
    delays = [0.0] * len(arrivals)
    tokens, clock, last = float(quota.burst), -math.inf, -math.inf
    for index in order:
        at = max(arrivals[index], last)
        if clock == -math.inf:
            clock = at
        tokens = min(float(quota.burst), tokens + (at - clock) * quota.per_second)
        clock = at
        if tokens < 1:
            at += (1 - tokens) / quota.per_second
            tokens, clock = 1.0, at
        tokens -= 1
        last = at
        delays[index] = at - arrivals[index]
    return delays


def ms(values: list[float]) -> dict[str, float | int]:
    return summarize([value * 1000 for value in values])


@dataclass
class Matched:
    record: CustomerRecord
    contacts: list[ContactView]

    def times_in_connect(self, mid: str) -> list[float]:
        return [t for contact in self.contacts for t in contact.messages.get(mid, [])]

    def echoes_in_connect(self, mid: str) -> int:
        return sum(len(contact.echoes.get(mid, [])) for contact in self.contacts)

    @property
    def typing_in_connect(self) -> int:
        return sum(contact.typing for contact in self.contacts)

    def read_in_connect(self, item_id: str) -> bool:
        return any(item_id in contact.read_by_customer for contact in self.contacts)


def match(
    records: list[CustomerRecord], contacts: list[ContactView]
) -> tuple[list[Matched], list[ContactView]]:
    """Each customer with its contacts (by its unique display name), and the contacts no
    started chat owns: Connect started them, but the customer never got its chat."""
    by_name: dict[str, list[ContactView]] = {}
    for contact in contacts:
        by_name.setdefault(contact.display_name, []).append(contact)
    matched = []
    orphans = []
    for record in records:
        found = by_name.pop(record.display_name, [])
        if record.started:
            matched.append(Matched(record, found))
        else:
            orphans += found
    for leftover in by_name.values():
        orphans += leftover
    return matched, orphans


def analyse(
    plan: Plan,
    records: list[CustomerRecord],
    contacts: list[ContactView],
    quotas: dict[str, Quota],
) -> dict[str, Any]:
    matched, orphans = match(records, contacts)
    return {
        "population": population(records, plan, orphans),
        "burst": burst(matched, quotas["StartChatContact"]),
        "messages": messages(matched, quotas["SendMessage"]),
        "typing": typing(matched),
        "receipts": receipts(matched),
        "throttling_reaching_clients": throttling(records),
        "offered_per_s": offered(records, plan),
    }


def population(
    records: list[CustomerRecord], plan: Plan, orphans: list[ContactView]
) -> dict[str, Any]:
    failures = Counter(
        _start_error(record.starts[-1])
        for record in records
        if record.starts and not record.started
    )
    return {
        "planned": len(records),
        "started": sum(record.started for record in records),
        "websocket_ready": sum(record.ready_at is not None for record in records),
        "ready_by_window_start": sum(
            record.ready_at is not None and record.ready_at <= plan.window_start
            for record in records
        ),
        "upstream_connected": sum(record.upstream_at is not None for record in records),
        "start_failures": dict(failures),
        "start_429s": {
            "burst": sum(a.status == 429 for r in records if r.burst for a in r.starts),
            "ramp": sum(a.status == 429 for r in records if not r.burst for a in r.starts),
        },
        "ramp_first_attempt_errors": dict(
            Counter(
                _start_error(r.starts[0])
                for r in records
                if not r.burst and r.starts and r.starts[0].status != 201
            )
        ),  # fmt: skip
        "all_started_within_s": round(
            max((r.starts[-1].answered_at for r in records if r.started), default=plan.epoch)
            - plan.epoch,
            2,
        ),
        "websocket_closed": dict(Counter(r.closed for r in records if r.closed)),
        "contacts_without_a_chat": len(orphans),
    }


def _start_error(attempt: Any) -> str:
    return f"{attempt.status} {attempt.code}".strip()


def burst(matched: list[Matched], quota: Quota) -> dict[str, Any]:
    """The start burst: each customer's time from its first request to its chat started
    (retries included), against the least StartChatContact's bucket allows; and whether the
    chats started in the order asked, as the customers saw it and as Connect did."""
    starters = [m.record for m in matched if m.record.burst and m.record.starts]
    in_connect = {
        m.record.index: min(c.started_at for c in m.contacts)
        for m in matched
        if m.record.burst and m.record.starts and m.contacts
    }
    if not starters:
        return {"chats": 0}
    first_requests = [record.starts[0].requested_at for record in starters]
    minimum = minimum_delays(first_requests, quota)
    to_started = [
        record.starts[-1].answered_at - record.starts[0].requested_at
        for record in starters
        if record.started
    ]
    first = min(first_requests)
    answered = [record.starts[-1].answered_at for record in starters if record.started]
    least_finish = max(at + least for at, least in zip(first_requests, minimum, strict=True))
    tolerance = 1 / quota.per_second
    return {
        "chats": len(starters),
        "requested_within_s": round(max(first_requests) - first, 2),
        "finished_s": round(max(answered) - first, 2) if answered else None,
        "least_finish_s": round(least_finish - first, 2),
        "overtaken": overtaken(
            [(r.starts[0].requested_at, r.starts[-1].answered_at) for r in starters if r.started],
            tolerance,
        ),
        "overtaken_in_connect": overtaken(
            [
                (r.starts[0].requested_at, in_connect[r.index])
                for r in starters
                if r.index in in_connect
            ],
            tolerance,
        ),
        "overtaken_tolerance_ms": round(tolerance * 1000),
        "started_first_time": sum(record.starts[0].status == 201 for record in starters),
        "started_after_retries": sum(
            record.started and record.starts[0].status != 201 for record in starters
        ),
        "failed": sum(not record.started for record in starters),
        "first_attempt_errors": dict(
            Counter(_start_error(r.starts[0]) for r in starters if r.starts[0].status != 201)
        ),
        "final_errors": dict(
            Counter(_start_error(r.starts[-1]) for r in starters if not r.started)
        ),
        "time_to_started_ms": ms(to_started),
        "minimum_ms": ms(minimum),
        "quota": f"{quota.per_second:g}/s, burst {quota.burst}",
        "series": [
            {
                "requested_s": record.starts[0].requested_at - min(first_requests),
                "minimum_s": least,
                "started_s": record.starts[-1].answered_at - record.starts[0].requested_at
                if record.started
                else None,
            }
            for record, least in zip(starters, minimum, strict=True)
        ],
    }


def overtaken(starts: list[tuple[float, float]], tolerance: float) -> int:
    """Of `starts` (requested, done), those that a start requested after them overtook: done
    more than `tolerance` (one token-interval: the processes take turns independently)
    before them."""
    done = sorted(starts)
    count, earliest_later = 0, math.inf
    for _, answered in reversed(done):
        if earliest_later < answered - tolerance:
            count += 1
        earliest_later = min(earliest_later, answered)
    return count


def messages(matched: list[Matched], quota: Quota) -> dict[str, Any]:
    offered = [(m, mid, msg) for m in matched for mid, msg in m.record.messages.items()]
    minimum = minimum_delays([msg.sent_at for _, _, msg in offered], quota)
    outcomes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    latency, ack_latency, added, minimum_of_delivered = [], [], [], []
    behind: dict[bool, list[float]] = {True: [], False: []}
    for (m, mid, msg), least in zip(offered, minimum, strict=True):
        outcomes[msg.outcome] += 1
        times = m.times_in_connect(mid)
        in_connect = bool(times)
        counts["in_connect"] += in_connect
        counts["doubled_in_connect"] += len(times) > 1
        if msg.outcome == SENT:
            counts["acked_but_missing_in_connect"] += not in_connect
            ack_latency.append(msg.acked_at - msg.sent_at if msg.acked_at else 0.0)
        elif msg.outcome.startswith("error:"):
            counts["refused_yet_in_connect"] += in_connect
        else:
            counts["unanswered"] += 1
            counts["unanswered_yet_in_connect"] += in_connect
        if in_connect:
            reached = min(times) - msg.sent_at
            latency.append(reached)
            behind[msg.behind_typing].append(reached)
            minimum_of_delivered.append(least)
            added.append(reached - least)
            counts["own_event_missing"] += msg.own_seen == 0
            counts["own_event_doubled"] += msg.own_seen > 1
        echoes = m.echoes_in_connect(mid)
        counts["echoes_in_connect"] += echoes
        counts["echo_missing_at_client"] += max(0, echoes - msg.echo_seen)
        counts["echo_doubled_at_client"] += max(0, msg.echo_seen - echoes)
    return {
        "offered": len(offered),
        "outcomes": dict(outcomes),
        **{name: counts[name] for name in _MESSAGE_COUNTS},
        "lost": len(offered) - counts["in_connect"],
        "latency_to_connect_ms": ms(latency),
        "minimum_ms": ms(minimum),
        "minimum_of_delivered_ms": ms(minimum_of_delivered),
        "added_over_minimum_ms": ms(added),
        "ack_ms": ms(ack_latency),
        "latency_behind_unanswered_typing_ms": ms(behind[True]),
        "latency_otherwise_ms": ms(behind[False]),
        "quota": f"{quota.per_second:g}/s, burst {quota.burst}",
        "series": [
            {
                "sent_at": msg.sent_at,
                "minimum_s": least,
                "reached_s": (min(m.times_in_connect(mid)) - msg.sent_at)
                if m.times_in_connect(mid)
                else None,
                "outcome": msg.outcome,
            }
            for (m, mid, msg), least in zip(offered, minimum, strict=True)
        ],
    }


_MESSAGE_COUNTS = (
    "in_connect",
    "doubled_in_connect",
    "acked_but_missing_in_connect",
    "refused_yet_in_connect",
    "unanswered",
    "unanswered_yet_in_connect",
    "own_event_missing",
    "own_event_doubled",
    "echoes_in_connect",
    "echo_missing_at_client",
    "echo_doubled_at_client",
)


def typing(matched: list[Matched]) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    answers: list[float] = []
    lost = extra = in_connect = 0
    for m in matched:
        outcomes.update(m.record.typing)
        answers += m.record.typing_answer_s
        forwarded = sum(outcome == "sent" for outcome in m.record.typing)
        lost += max(0, forwarded - m.typing_in_connect)
        extra += max(0, m.typing_in_connect - forwarded)
        in_connect += m.typing_in_connect
    return {
        "frames": sum(outcomes.values()),
        "outcomes": dict(outcomes),
        "in_connect": in_connect,
        "acked_sent_but_missing_in_connect": lost,
        "in_connect_beyond_acked_sent": extra,
        "answer_ms": ms(answers),
    }


def receipts(matched: list[Matched]) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    late_errors: Counter[str] = Counter()
    for m in matched:
        late_errors.update(m.record.async_errors)
        for mid, outcome in m.record.receipts.items():
            outcomes[outcome] += 1
            read = m.read_in_connect(m.record.messages[mid].echo_event_id)
            counts["in_connect"] += read
            if outcome == "acked":
                counts["acked_but_missing_in_connect"] += not read
    return {
        "frames": sum(outcomes.values()),
        "outcomes": dict(outcomes),
        "in_connect": counts["in_connect"],
        "acked_but_missing_in_connect": counts["acked_but_missing_in_connect"],
        "later_error_frames": dict(late_errors),
    }


def throttling(records: list[CustomerRecord]) -> dict[str, Any]:
    """Error frames with code throttled or rate_limited, by what the client had sent, and
    HTTP 429 answers of the REST API."""
    frames: Counter[str] = Counter()
    rest: Counter[str] = Counter()
    for record in records:
        for attempt in record.starts:
            if attempt.status == 429:
                rest[f"POST /chats {attempt.code}"] += 1
        for kind, outcomes in (
            ("send", [message.outcome for message in record.messages.values()]),
            ("typing", record.typing),
            ("receipt", list(record.receipts.values())),
        ):
            for outcome in outcomes:
                code = outcome.removeprefix("error:")
                if outcome.startswith("error:") and code in THROTTLING:
                    frames[f"{kind} {code}"] += 1
        for code, count in record.async_errors.items():
            if code in THROTTLING:
                frames[f"later (no ref) {code}"] += count
    return {
        "websocket_error_frames": dict(frames),
        "rest_429": dict(rest),
        "total": sum(frames.values()) + sum(rest.values()),
    }


def offered(records: list[CustomerRecord], plan: Plan) -> dict[str, float]:
    """What the customers asked of Connect per second of the steady window."""
    window = plan.duration
    messages = sum(len(record.messages) for record in records)
    typing_frames = sum(len(record.typing) for record in records)
    receipt_frames = sum(len(record.receipts) for record in records)
    return {
        "SendMessage": round(messages / window, 2),
        "SendEvent (typing + read receipts)": round((typing_frames + receipt_frames) / window, 2),
    }
