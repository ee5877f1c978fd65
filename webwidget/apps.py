from django.apps import AppConfig


class WebWidgetConfig(AppConfig):
    name = "webwidget"
    verbose_name = "Web widget"

    def ready(self) -> None:
        # lookup clears its copies when a widget changes; checks registers manage.py check's.
        from webwidget import checks, lookup  # noqa: F401
