from django.contrib import admin
from django.urls import include, path

from chatbridge import health, metrics_endpoint
from chatbridge.api.app import api
from chatbridge.archive.login import throttled_login

urlpatterns = [
    # Ahead of the admin's own login route, at the same address: reverse("admin:login") is it.
    path("admin/login/", throttled_login),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_endpoint.metrics, name="metrics"),
    path("api/v1/", api.urls),
    path("", include("webwidget.urls")),
]
