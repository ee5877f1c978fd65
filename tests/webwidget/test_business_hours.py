"""Business hours: open or closed at a moment, and when the widget next opens or closes."""

from datetime import UTC, date, datetime, time

from webwidget.business_hours import Closure, Interval, Schedule

MON, TUE, SAT, SUN = 0, 1, 5, 6
NINE_TO_FIVE = tuple(Interval(day, time(9), time(17)) for day in range(5))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_widget_without_hours_is_always_open():
    availability = Schedule("Europe/Paris").availability(utc(2026, 12, 6, 3))
    assert availability.open and availability.next_open is None and availability.closes_at is None


def test_inside_an_interval_it_is_open_until_the_interval_ends():
    schedule = Schedule("Europe/Paris", NINE_TO_FIVE)
    availability = schedule.availability(utc(2026, 12, 7, 9, 30))  # Monday 10:30 in Paris
    assert availability.open
    assert availability.closes_at == utc(2026, 12, 7, 16)  # 17:00 Paris (UTC+1)


def test_hours_are_read_in_the_widgets_time_zone():
    schedule = Schedule("America/New_York", NINE_TO_FIVE)
    # Monday 13:30 UTC is 08:30 in New York: not yet open.
    availability = schedule.availability(utc(2026, 12, 7, 13, 30))
    assert not availability.open
    assert availability.next_open == utc(2026, 12, 7, 14)


def test_after_friday_closing_it_next_opens_on_monday():
    schedule = Schedule("UTC", NINE_TO_FIVE)
    availability = schedule.availability(utc(2026, 12, 4, 18))  # Friday
    assert not availability.open
    assert availability.next_open == utc(2026, 12, 7, 9)


def test_several_intervals_of_a_day_leave_the_gap_between_them_closed():
    schedule = Schedule(
        "UTC", (Interval(MON, time(9), time(12)), Interval(MON, time(14), time(18)))
    )
    lunch = schedule.availability(utc(2026, 12, 7, 12, 30))
    assert not lunch.open and lunch.next_open == utc(2026, 12, 7, 14)
    assert schedule.availability(utc(2026, 12, 7, 15)).open


def test_an_interval_closing_at_midnight_runs_to_the_end_of_the_day():
    schedule = Schedule("UTC", (Interval(SAT, time(20), time(0)),))
    availability = schedule.availability(utc(2026, 12, 5, 23, 59))
    assert availability.open and availability.closes_at == utc(2026, 12, 6, 0)


def test_a_holiday_closes_a_day_that_would_be_open():
    schedule = Schedule("UTC", NINE_TO_FIVE, (Closure(date(2026, 12, 7)),))
    availability = schedule.availability(utc(2026, 12, 7, 10))
    assert not availability.open
    assert availability.next_open == utc(2026, 12, 8, 9)


def test_a_partial_holiday_closes_only_its_part_of_the_day():
    schedule = Schedule("UTC", NINE_TO_FIVE, (Closure(date(2026, 12, 24), start=time(13)),))
    morning = schedule.availability(utc(2026, 12, 24, 12))
    assert morning.open and morning.closes_at == utc(2026, 12, 24, 13)
    afternoon = schedule.availability(utc(2026, 12, 24, 14))
    assert not afternoon.open and afternoon.next_open == utc(2026, 12, 25, 9)


def test_a_holiday_closes_a_widget_that_is_otherwise_always_open():
    schedule = Schedule("UTC", (), (Closure(date(2026, 12, 25), time(8), time(20)),))
    availability = schedule.availability(utc(2026, 12, 25, 9))
    assert not availability.open and availability.next_open == utc(2026, 12, 25, 20)
    assert schedule.availability(utc(2026, 12, 25, 21)).open


def test_opening_hours_follow_daylight_saving_time():
    schedule = Schedule("Europe/Paris", NINE_TO_FIVE)
    # Friday 27 March 2026 closes at 16:00 UTC (CET); Monday 30 March opens at 07:00 UTC (CEST).
    availability = schedule.availability(utc(2026, 3, 27, 16, 30))
    assert not availability.open and availability.next_open == utc(2026, 3, 30, 7)


def test_no_opening_ahead_says_so():
    schedule = Schedule("UTC", (Interval(SUN, time(9), time(10)),))
    everything = tuple(
        Closure(date.fromordinal(date(2026, 12, 5).toordinal() + n)) for n in range(400)
    )
    availability = Schedule("UTC", schedule.intervals, everything).availability(
        utc(2026, 12, 5, 12)
    )
    assert not availability.open and availability.next_open is None


def test_availability_is_told_in_utc_iso_8601():
    schedule = Schedule("Asia/Tokyo", NINE_TO_FIVE)
    told = schedule.availability(utc(2026, 12, 5, 12)).as_dict()  # Saturday
    assert told == {
        "open": False,
        "next_open": "2026-12-07T00:00:00Z",  # Monday 09:00 in Tokyo
        "closes_at": None,
        "time_zone": "Asia/Tokyo",
    }


def test_an_always_open_week_never_closes():
    schedule = Schedule("UTC", tuple(Interval(day, time(0), time(0)) for day in range(7)))
    availability = schedule.availability(utc(2026, 12, 5, 12))
    assert availability.open and availability.closes_at is None


def test_a_widget_open_until_a_holiday_weeks_ahead_closes_then():
    schedule = Schedule("UTC", (), (Closure(date(2026, 12, 25)),))
    availability = schedule.availability(utc(2026, 12, 5, 12))
    assert availability.open and availability.closes_at == utc(2026, 12, 25)


def test_an_interval_written_backwards_outside_the_admin_is_ignored():
    # The admin refuses it; a row saved from code is not checked, and must not open the widget.
    schedule = Schedule("UTC", (Interval(MON, time(17), time(9)), Interval(TUE, time(9), time(17))))
    availability = schedule.availability(utc(2026, 12, 7, 8))  # Monday 08:00
    assert not availability.open and availability.next_open == utc(2026, 12, 8, 9)
