from django.apps import AppConfig


class WebWidgetConfig(AppConfig):
    name = "webwidget"
    verbose_name = "Web widget"
