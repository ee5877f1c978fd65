from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path

from chatbridge import health, metrics_endpoint
from chatbridge.api.app import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_endpoint.metrics, name="metrics"),
    path("api/v1/", api.urls),
    path("", include("webwidget.urls")),
]
# The admin's own assets under a plain ASGI server while DEBUG is on (the widget serves its own).
urlpatterns += staticfiles_urlpatterns()
