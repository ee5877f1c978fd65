"""Business hours in the widget's admin: rows are checked, overlapping intervals refused, the
time zone picked from IANA's list, and the widget list shows which widgets are open now."""

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.forms import inlineformset_factory

from webwidget.admin import OpeningHoursFormSet
from webwidget.models import Holiday, OpeningHours, Widget

pytestmark = pytest.mark.django_db

HoursFormSet = inlineformset_factory(
    Widget, OpeningHours, formset=OpeningHoursFormSet, fields=["weekday", "opens", "closes"]
)


def hours_form(widget: Widget, *rows: tuple[int, str, str]) -> OpeningHoursFormSet:
    data = {
        "opening_hours-TOTAL_FORMS": str(len(rows)),
        "opening_hours-INITIAL_FORMS": "0",
    }
    for n, (weekday, opens, closes) in enumerate(rows):
        data |= {
            f"opening_hours-{n}-weekday": str(weekday),
            f"opening_hours-{n}-opens": opens,
            f"opening_hours-{n}-closes": closes,
        }
    return HoursFormSet(data, instance=widget, prefix="opening_hours")


@pytest.fixture
def widget() -> Widget:
    return Widget.objects.create(widget_id="shop", name="Shop", time_zone="Europe/Paris")


def test_two_intervals_of_a_day_with_a_break_are_accepted(widget):
    assert hours_form(widget, (0, "09:00", "12:00"), (0, "14:00", "18:00")).is_valid()


def test_overlapping_intervals_of_a_day_are_refused(widget):
    form = hours_form(widget, (0, "09:00", "12:00"), (0, "11:00", "18:00"))
    assert not form.is_valid()
    assert "overlap" in form.non_form_errors()[0]


def test_an_interval_closing_at_midnight_overlaps_a_later_one(widget):
    assert not hours_form(widget, (0, "20:00", "00:00"), (0, "22:00", "23:00")).is_valid()


def test_an_interval_that_closes_before_it_opens_is_refused(widget):
    row = OpeningHours(widget=widget, weekday=0, opens=time(17), closes=time(9))
    with pytest.raises(ValidationError, match="after opening"):
        row.full_clean()
    OpeningHours(widget=widget, weekday=0, opens=time(20), closes=time(0)).full_clean()


def test_a_partial_holiday_must_end_after_it_starts(widget):
    with pytest.raises(ValidationError, match="end after it starts"):
        Holiday(
            widget=widget,
            date=datetime(2026, 12, 24).date(),
            closed_from=time(13),
            closed_until=time(9),
        ).full_clean()
    Holiday(widget=widget, date=datetime(2026, 12, 24).date(), closed_from=time(13)).full_clean()


def test_a_time_zone_that_is_not_iana_is_refused_even_without_a_form(widget):
    widget.time_zone = "Mars/Olympus"
    with pytest.raises(ValidationError) as refused:
        widget.save()
    assert "time_zone" in refused.value.message_dict


def test_the_widget_page_edits_hours_and_holidays_and_lists_time_zones(admin_client, widget):
    page = admin_client.get(f"/admin/webwidget/widget/{widget.pk}/change/").content.decode()
    assert 'name="opening_hours-TOTAL_FORMS"' in page and 'name="holidays-TOTAL_FORMS"' in page
    assert '<option value="Europe/Paris" selected>' in page


def test_the_widget_list_shows_which_widgets_are_open_now(admin_client, widget):
    Widget.objects.create(widget_id="always", name="Always")
    Holiday.objects.create(widget=widget, date=datetime.now(ZoneInfo("Europe/Paris")).date())
    page = admin_client.get("/admin/webwidget/widget/").content.decode()
    rows = re.findall(
        r'class="field-widget_id">([^<]*)</td><td class="field-enabled">.*?'
        r'class="field-open_now"><img src="[^"]*icon-(yes|no)',
        page,
    )
    assert ("shop", "no") in rows and ("always", "yes") in rows
