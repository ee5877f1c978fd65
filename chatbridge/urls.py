from django.contrib import admin
from django.urls import include, path

from chatbridge import health
from chatbridge.api.app import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("", include("webwidget.urls")),
]
