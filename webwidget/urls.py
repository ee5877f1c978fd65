"""The widget's URLs: the chat frame and the demo host site (its files are static files)."""

from django.urls import path

from webwidget import views

app_name = "webwidget"

urlpatterns = [
    path("", views.demo, name="demo"),
    path("widget/<slug:widget_id>/frame", views.frame, name="frame"),
]
