"""The API's middleware also works under WSGI (Django's test client, scripts)."""

import pytest

from webwidget.models import Widget

pytestmark = pytest.mark.django_db


def test_pages_pass_through_under_wsgi(client):
    assert client.get("/admin/login/").status_code == 200


def test_the_api_answers_with_cors_under_wsgi(client):
    Widget.objects.create(widget_id="shop", name="Shop", allowed_origins="https://any.example")
    response = client.get("/api/v1/widgets/shop/config", HTTP_ORIGIN="https://any.example")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"


def test_api_errors_are_problems_under_wsgi(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
