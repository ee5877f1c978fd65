from django.apps import AppConfig


class WebWidgetConfig(AppConfig):
    name = "webwidget"
    verbose_name = "Web widget"

    def ready(self) -> None:
        from webwidget import lookup  # noqa: F401  (clears its copies when a widget changes)
