"""`--kill-holder`: a process lost under the quotas.

Every chat's upstream (its Connect websocket) is held by the process that started it: with
`--kill-holder`, every chat starts on the first ASGI process and its customers' websockets go
to the others, as a load balancer might have spread them. `--kill-after` seconds into the
steady window, once every chat's upstream is connected, the process holding most upstreams (by the leases in Redis, whose value names
the holder's pid) is killed with SIGKILL, and the others take its chats over: each takeover
costs Connect a CreateParticipantConnection and a GetTranscript (the gap fill) at least, and
ChatBridge's budget paces them at background priority while customers keep sending.

Measured: when each of the dead holder's chats was live again (its upstream status in Redis
says "connected" by another holder, what the websocket's `upstream` frames tell customers),
the Connect calls the emulator counted between the kill and the last chat's recovery, the
least time the quotas allow for them, and the customers' sends while the storm lasted.
"""

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis

from bench.quotas.analysis import Matched, ms
from bench.quotas.emulator import ContactView, Quota
from bench.quotas.plan import Plan
from bench.quotas.records import SENT

# The operations every takeover spends, one call each at least.
TAKEOVER_OPERATIONS = ("CreateParticipantConnection", "GetTranscript")
# How often the chats' upstream status is read while the storm lasts.
POLL = 0.1
# Failure guard: a storm not over by then is reported as such.
GUARD = 600.0


@dataclass
class StormRecord:
    """What the watcher saw: the kill, each victim chat's recovery, the calls it cost."""

    process: str = ""
    pid: int = 0
    holders: dict[str, int] = field(default_factory=dict)  # holder -> leases held at the kill
    killed_at: float = 0.0
    victims: list[str] = field(default_factory=list)  # chat ids the dead process held
    recovered_at: dict[str, float] = field(default_factory=dict)  # chat id -> wall time
    calls_before: dict[str, dict[str, int]] = field(default_factory=dict)
    calls_after: dict[str, dict[str, int]] = field(default_factory=dict)
    error: str = ""
    live_at_kill: int = 0  # chats whose upstream was connected when the kill came

    @property
    def over_at(self) -> float | None:
        if not self.victims or len(self.recovered_at) < len(self.victims):
            return None
        return max(self.recovered_at.values())


def emulator_calls(emulator_url: str) -> dict[str, dict[str, int]]:
    return httpx.get(f"{emulator_url}/_emulator/quotas", timeout=30).json().get("calls", {})


class StormWatch:
    """Kills the holder at the planned moment, then watches its chats come back, in a thread
    of the coordinator (the load generator runs in processes of its own)."""

    def __init__(
        self,
        *,
        redis_url: str,
        emulator_url: str,
        processes: dict[str, int],
        prefix: str = "chatbridge",
        kill_after: float,
    ) -> None:
        self.redis = redis.Redis.from_url(redis_url)
        self.emulator_url = emulator_url
        self.processes = processes  # name -> pid, the ChatBridge processes that may be killed
        self.prefix = prefix
        self.kill_after = kill_after
        self.record = StormRecord()
        self.killed = threading.Event()
        self._thread: threading.Thread | None = None
        self.dead_holder = ""

    def start(self, plan: Plan) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, args=(plan,), daemon=True)
            self._thread.start()

    def join(self) -> StormRecord:
        if self._thread is not None:
            self._thread.join(timeout=GUARD)
        return self.record

    def _run(self, plan: Plan) -> None:
        try:
            time.sleep(max(0.0, plan.window_start + self.kill_after - time.time()))
            self._until_live(plan.window_end)
            self._kill()
            self._watch(min(plan.drain_end, self.record.killed_at + GUARD))
        except Exception as error:  # the run goes on; the report says what went wrong
            self.record.error = repr(error)
        finally:
            self.killed.set()

    def _leases(self) -> dict[str, str]:
        found = {}
        for key in self.redis.scan_iter(match=f"{self.prefix}:chat:*:lease", count=1000):
            holder = self.redis.get(key)
            if holder is not None:
                found[key.decode().split(":")[2]] = holder.decode()
        return found

    def _until_live(self, until: float) -> None:
        """Waits until every chat's upstream is connected, by the holder its lease names: a
        kill while upstreams still wait for the budget measures those waits too (a dead
        process's waiters hold the head of the queue until their lease lapses)."""
        while time.time() < until:
            leases = self._leases()
            chats = list(leases)
            statuses = self.redis.mget([f"{self.prefix}:chat:{c}:upstream-status" for c in chats])
            live = sum(
                status is not None and status.decode() == f"connected|{leases[chat]}"
                for chat, status in zip(chats, statuses, strict=True)
            )
            self.record.live_at_kill = live
            if chats and live == len(chats):
                return
            time.sleep(POLL)

    def _kill(self) -> None:
        leases = self._leases()
        held: dict[str, int] = {}
        for holder in leases.values():
            held[holder] = held.get(holder, 0) + 1
        by_pid = {pid: name for name, pid in self.processes.items()}
        candidates = {h: n for h, n in held.items() if _pid_of(h) in by_pid}
        if not candidates:
            raise RuntimeError("no process of the stack holds an upstream")
        holder = max(candidates, key=candidates.__getitem__)
        record = self.record
        record.holders = held
        record.pid = _pid_of(holder)
        record.process = by_pid[record.pid]
        record.victims = [chat for chat, owner in leases.items() if owner == holder]
        record.calls_before = emulator_calls(self.emulator_url)
        record.killed_at = time.time()
        os.kill(record.pid, signal.SIGKILL)
        self.dead_holder = holder

    def _watch(self, until: float) -> None:
        record = self.record
        keys = [f"{self.prefix}:chat:{chat}:upstream-status" for chat in record.victims]
        waiting = dict(zip(record.victims, keys, strict=True))
        while waiting and time.time() < until:
            chats = list(waiting)
            now = time.time()
            for chat, status in zip(
                chats, self.redis.mget([waiting[c] for c in chats]), strict=True
            ):
                if status is None:
                    continue
                state, _, holder = status.decode().partition("|")
                if state == "connected" and holder != self.dead_holder:
                    record.recovered_at[chat] = now
                    del waiting[chat]
            if waiting:
                time.sleep(POLL)
        record.calls_after = emulator_calls(self.emulator_url)


def _pid_of(holder: str) -> int:
    """Lease values are host:pid:random (chatbridge.realtime.leases.process_identity)."""
    try:
        return int(holder.split(":")[1])
    except (IndexError, ValueError):
        return -1


def least_seconds(chats: int, quotas: dict[str, Quota]) -> float:
    """The least time `chats` takeovers take under the quotas, one call of each takeover
    operation per chat, every bucket full at the kill: (chats - burst) / rate, the slowest
    operation's."""
    return max(
        max(0.0, (chats - quotas[name].burst) / quotas[name].per_second)
        for name in TAKEOVER_OPERATIONS
        if name in quotas
    )


def figures(
    window_start: float,
    record: StormRecord,
    matched: list[Matched],
    contacts: list[ContactView],
    quotas: dict[str, Quota],
) -> dict[str, Any]:
    """The storm's figures for the report."""
    victims = len(record.victims)
    over_at = record.over_at
    end = over_at if over_at is not None else max(record.recovered_at.values(), default=0.0)
    calls = {}
    for name in sorted(set(record.calls_before) | set(record.calls_after)):
        before = record.calls_before.get(name, {})
        after = record.calls_after.get(name, {})
        spent = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in after}
        if any(spent.values()):
            calls[name] = spent
    per_chat = {
        name: round(calls.get(name, {}).get("admitted", 0) / victims, 2) if victims else 0.0
        for name in TAKEOVER_OPERATIONS
    }
    sends = [
        (entry.record, mid, message)
        for entry in matched
        for mid, message in entry.record.messages.items()
        if record.killed_at <= message.sent_at <= end
    ]
    in_connect = []
    for entry in matched:
        for mid, message in entry.record.messages.items():
            if record.killed_at <= message.sent_at <= end:
                times = entry.times_in_connect(mid)
                if times:
                    in_connect.append(min(times) - message.sent_at)
    outcomes: dict[str, int] = {}
    for _, _, message in sends:
        outcomes[message.outcome] = outcomes.get(message.outcome, 0) + 1
    return {
        "process": record.process,
        "holders_at_kill": len(record.holders),
        "upstreams_lost": victims,
        "live_at_kill": record.live_at_kill,
        "killed_after_window_start_s": round(record.killed_at - window_start, 2),
        "recovered": len(record.recovered_at),
        "all_recovered": over_at is not None,
        "recovery_s": round(end - record.killed_at, 2) if record.recovered_at else None,
        "recovery_ms": ms([at - record.killed_at for at in record.recovered_at.values()]),
        "least_s": round(least_seconds(victims, quotas), 2),
        "series": [
            {
                "chat": n,
                "live_s": round(at - record.killed_at, 3),
                "least_s": least_seconds(n, quotas),
            }
            for n, at in enumerate(sorted(record.recovered_at.values()), start=1)
        ],
        "connect_calls": calls,
        "calls_per_chat": per_chat,
        "websocket_peak": max((c.websocket_peak for c in contacts), default=0),
        "websockets_refused": sum(c.websockets_refused for c in contacts),
        "sends": {
            "count": len(sends),
            "outcomes": outcomes,
            "ack_ms": ms(
                [m.acked_at - m.sent_at for _, _, m in sends if m.outcome == SENT and m.acked_at]
            ),
            "latency_to_connect_ms": ms(in_connect),
        },
        "error": record.error,
    }
