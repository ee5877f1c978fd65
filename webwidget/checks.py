"""`manage.py check` warnings about where widgets may run, naming the setting to change.

The settings' checks always run; the widgets' own (`check --database default`) read the
database, as Django runs database checks only when asked.
"""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ValidationError
from django.db import DatabaseError

from webwidget.origins import PUBLIC_SETTING, SETTING, configured_origins, normalize_origin


@checks.register(checks.Tags.security)
def check_configured_origins(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    values = [*getattr(settings, SETTING, []), getattr(settings, PUBLIC_SETTING, "") or ""]
    for value in filter(None, (v.strip() for v in values)):
        try:
            normalize_origin(value)
        except ValidationError:
            found.append(
                checks.Warning(
                    f"{value!r} in {SETTING} or {PUBLIC_SETTING} is not an origin, so it allows "
                    "nothing.",
                    hint="Write origins like https://www.example.com (scheme, host, port).",
                    id="webwidget.W003",
                )
            )
    origins = configured_origins()
    if not origins:
        found.append(
            checks.Warning(
                f"{SETTING} and {PUBLIC_SETTING} are empty: the widget frame's websocket is "
                "refused and widgets without origins of their own can be embedded nowhere.",
                hint=f"Set {PUBLIC_SETTING} to ChatBridge's origin and {SETTING} to your sites.",
                id="webwidget.W002",
            )
        )
    insecure = [origin for origin in origins if origin.startswith("http://")]
    if insecure and not settings.DEBUG:
        found.append(
            checks.Warning(
                f"{SETTING} / {PUBLIC_SETTING} list http origins while DEBUG is off: "
                f"{', '.join(insecure)}.",
                hint="Serve ChatBridge and the sites embedding the widget over https.",
                id="webwidget.W001",
            )
        )
    return found


@checks.register(checks.Tags.database)
def check_widget_origins(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    if not databases:
        return []
    from webwidget.models import Widget

    try:
        widgets = list(Widget.objects.filter(enabled=True))
    except DatabaseError:  # not migrated yet: `migrate` runs the database checks first
        return []
    found: list[checks.CheckMessage] = []
    for widget in widgets:
        for finding in widget.origin_findings():
            if finding.level == "warning":
                found.append(
                    checks.Warning(
                        f"Widget {widget.widget_id!r}: {finding.text}",
                        obj=widget,
                        id="webwidget.W004",
                    )
                )
    return found
