"""Enabled widgets as this process last read them, for at most WIDGET_CACHE_TTL seconds.

Starting a chat and every cross-origin API request look a widget up (with its business
hours, read once per cached instance): without this, each of
them costs a query, and under ASGI a database connection of its own, whose objects are left
for the cyclic garbage collector. Saving or deleting a widget clears this process's copies
at once; other processes see the change within the TTL.
"""

import threading
import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from webwidget.models import Holiday, OpeningHours, Widget

WIDGET_CACHE_TTL = 30.0

_lock = threading.Lock()
_by_id: dict[str, tuple[float, Widget | None]] = {}
_enabled: tuple[float, tuple[Widget, ...]] | None = None


def cached_widget(widget_id: str) -> tuple[bool, Widget | None]:
    """(True, the enabled widget or None) while this process's copy is fresh; (False, None)
    when only enabled_widget() can tell. Safe on the event loop: no query, so a chat start
    that finds its widget here skips the hop to a worker thread."""
    cached = _by_id.get(widget_id)
    if cached is not None and cached[0] > time.monotonic():
        return True, cached[1]
    return False, None


def enabled_widget(widget_id: str) -> Widget | None:
    """The enabled widget with this id, or None."""
    now = time.monotonic()
    cached = _by_id.get(widget_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    widget = Widget.objects.filter(widget_id=widget_id, enabled=True).first()
    if widget is not None:
        widget.schedule()  # read here, in a sync caller: async callers then only compute
    with _lock:
        if len(_by_id) >= 10_000:
            _by_id.clear()
        _by_id[widget_id] = (now + WIDGET_CACHE_TTL, widget)
    return widget


def cached_widgets() -> tuple[Widget, ...] | None:
    """Every enabled widget while this process's copy is fresh, else None (only
    enabled_widgets() can tell): like cached_widget(), safe on the event loop."""
    cached = _enabled
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    return None


def enabled_widgets() -> tuple[Widget, ...]:
    """Every enabled widget (one with no origins of its own follows the settings')."""
    global _enabled
    now = time.monotonic()
    cached = _enabled
    if cached is not None and cached[0] > now:
        return cached[1]
    widgets = tuple(Widget.objects.filter(enabled=True))
    _enabled = (now + WIDGET_CACHE_TTL, widgets)
    return widgets


def forget() -> None:
    global _enabled
    with _lock:
        _by_id.clear()
        _enabled = None


@receiver(post_save, sender=Widget)
@receiver(post_delete, sender=Widget)
@receiver(post_save, sender=OpeningHours)
@receiver(post_delete, sender=OpeningHours)
@receiver(post_save, sender=Holiday)
@receiver(post_delete, sender=Holiday)
def _widget_changed(**kwargs: object) -> None:
    forget()
