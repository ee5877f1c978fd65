"""Business hours: whether a widget is open at a moment, and when it next opens.

A widget's hours are a weekly schedule (any number of intervals per weekday, in the widget's
IANA time zone) minus its holidays (whole days, or part of a day). A widget without a single
weekly interval is open around the clock, except on its holidays: most widgets never set
hours, and they must keep taking chats.

Everything here is plain data and arithmetic, so the config endpoint, the chat start and the
tests all ask the same question the same way. Local times become instants through zoneinfo
(a time in a spring daylight-saving gap is read with the offset before the change, so it moves
forward by the gap; a time repeated in the autumn fold is its first occurrence).
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# How far ahead next_open is looked for: a year and a week covers a yearly holiday list.
HORIZON_DAYS = 373
CHUNK_DAYS = 8
MIDNIGHT = time(0, 0)


@dataclass(frozen=True, slots=True)
class Interval:
    """Open from `opens` until `closes` on a weekday (0 Monday … 6 Sunday); `closes` 00:00
    means midnight at the end of the day."""

    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True, slots=True)
class Closure:
    """Closed on `day` from `start` (None: the day's start) until `end` (None: its end)."""

    day: date
    start: time | None = None
    end: time | None = None


@dataclass(frozen=True, slots=True)
class Availability:
    """What a client is told: open now, and when that changes."""

    open: bool
    next_open: datetime | None
    closes_at: datetime | None
    time_zone: str

    def as_dict(self) -> dict[str, object]:
        return {
            "open": self.open,
            "next_open": _iso(self.next_open),
            "closes_at": _iso(self.closes_at),
            "time_zone": self.time_zone,
        }


def valid_time_zone(name: str) -> bool:
    if name == "UTC":  # the default needs no time zone database
        return True
    if name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class Schedule:
    time_zone: str = "UTC"
    intervals: tuple[Interval, ...] = ()
    closures: tuple[Closure, ...] = field(default=())

    @property
    def always_open(self) -> bool:
        return not self.intervals and not self.closures

    def availability(self, now: datetime | None = None) -> Availability:
        now = (now or datetime.now(UTC)).astimezone(UTC)
        if self.always_open:
            return Availability(True, None, None, self.time_zone)
        zone = _zone(self.time_zone)
        first = now.astimezone(zone).date() - timedelta(days=1)
        spans: list[tuple[datetime, datetime]] = []
        # A week at a time: most answers lie within the first one, and a year of days costs
        # milliseconds that every chat start would pay.
        for offset in range(0, HORIZON_DAYS, CHUNK_DAYS):
            spans = _merged(
                spans + self._open_spans(zone, first + timedelta(days=offset), CHUNK_DAYS)
            )
            horizon = _at(first + timedelta(days=offset + CHUNK_DAYS), MIDNIGHT, zone)
            current = next(((start, end) for start, end in spans if end > now), None)
            if current is None:
                continue
            start, end = current
            if start > now:
                return Availability(False, start, None, self.time_zone)
            if end < horizon:  # an open span reaching the horizon may go on beyond it
                return Availability(True, None, end, self.time_zone)
        if current is not None:  # open as far ahead as it looks
            return Availability(True, None, None, self.time_zone)
        return Availability(False, None, None, self.time_zone)

    def _open_spans(self, zone: tzinfo, first: date, days: int) -> list[tuple[datetime, datetime]]:
        """The open spans (UTC, merged, in order) of `days` local days from `first`."""
        by_weekday: dict[int, list[Interval]] = {}
        for interval in self.intervals:
            by_weekday.setdefault(interval.weekday, []).append(interval)
        closed_on: dict[date, list[Closure]] = {}
        for closure in self.closures:
            closed_on.setdefault(closure.day, []).append(closure)
        spans: list[tuple[datetime, datetime]] = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            if self.intervals:
                day_spans = [
                    (_at(day, i.opens, zone), _end_of(day, i.closes, zone))
                    for i in by_weekday.get(day.weekday(), ())
                ]
            else:  # open around the clock, holidays aside
                day_spans = [(_at(day, MIDNIGHT, zone), _end_of(day, MIDNIGHT, zone))]
            for closure in closed_on.get(day, ()):
                cut = (
                    _at(day, closure.start or MIDNIGHT, zone),
                    _end_of(day, closure.end or MIDNIGHT, zone),
                )
                day_spans = [piece for span in day_spans for piece in _minus(span, cut)]
            spans.extend(span for span in day_spans if span[0] < span[1])
        return _merged(spans)


def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


def _at(day: date, moment: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def _end_of(day: date, moment: time, zone: tzinfo) -> datetime:
    """An interval's end: 00:00 is the midnight that ends the day."""
    if moment == MIDNIGHT:
        return _at(day + timedelta(days=1), MIDNIGHT, zone)
    return _at(day, moment, zone)


def _minus(
    span: tuple[datetime, datetime], cut: tuple[datetime, datetime]
) -> list[tuple[datetime, datetime]]:
    start, end = span
    pieces = []
    if cut[0] > start:
        pieces.append((start, min(end, cut[0])))
    if cut[1] < end:
        pieces.append((max(start, cut[1]), end))
    return [piece for piece in pieces if piece[0] < piece[1]]


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
