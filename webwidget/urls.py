"""The widget's URLs: its assets, the chat frame and the demo host site."""

from django.urls import path

from webwidget import views

app_name = "webwidget"

urlpatterns = [
    path("", views.demo, name="demo"),
    path("widget/<slug:widget_id>/frame", views.frame, name="frame"),
    path("static/webwidget/<path:name>", views.asset, name="asset"),
]
