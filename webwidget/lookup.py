"""Enabled widgets as this process last read them, for at most WIDGET_CACHE_TTL seconds.

Starting a chat and every cross-origin API request look a widget up: without this, each of
them costs a query, and under ASGI a database connection of its own, whose objects are left
for the cyclic garbage collector. Saving or deleting a widget clears this process's copies
at once; other processes see the change within the TTL.
"""

import threading
import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from webwidget.models import Widget

WIDGET_CACHE_TTL = 30.0

_lock = threading.Lock()
_by_id: dict[str, tuple[float, Widget | None]] = {}
_with_origins: tuple[float, tuple[Widget, ...]] | None = None


def enabled_widget(widget_id: str) -> Widget | None:
    """The enabled widget with this id, or None."""
    now = time.monotonic()
    cached = _by_id.get(widget_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    widget = Widget.objects.filter(widget_id=widget_id, enabled=True).first()
    with _lock:
        if len(_by_id) >= 10_000:
            _by_id.clear()
        _by_id[widget_id] = (now + WIDGET_CACHE_TTL, widget)
    return widget


def enabled_widgets_with_origins() -> tuple[Widget, ...]:
    """Every enabled widget that lists allowed origins."""
    global _with_origins
    now = time.monotonic()
    cached = _with_origins
    if cached is not None and cached[0] > now:
        return cached[1]
    widgets = tuple(Widget.objects.filter(enabled=True).exclude(allowed_origins=""))
    _with_origins = (now + WIDGET_CACHE_TTL, widgets)
    return widgets


def forget() -> None:
    global _with_origins
    with _lock:
        _by_id.clear()
        _with_origins = None


@receiver(post_save, sender=Widget)
@receiver(post_delete, sender=Widget)
def _widget_changed(**kwargs: object) -> None:
    forget()
