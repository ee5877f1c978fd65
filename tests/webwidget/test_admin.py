"""The widgets' admin says why a widget would be refused where it runs, naming the setting."""

import pytest
from django.contrib.messages import get_messages

from webwidget.models import Widget

pytestmark = pytest.mark.django_db


@pytest.fixture
def nowhere(settings) -> Widget:
    settings.CHATBRIDGE_ALLOWED_ORIGINS = []
    settings.CHATBRIDGE_PUBLIC_ORIGIN = ""
    return Widget.objects.create(widget_id="nowhere", name="Nowhere")


def told(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def test_a_widgets_page_warns_when_no_site_may_embed_it(admin_client, nowhere):
    response = admin_client.get(f"/admin/webwidget/widget/{nowhere.pk}/change/")
    assert response.status_code == 200
    ((level, text),) = told(response)
    assert level == "warning"
    assert "Nowhere (nowhere)" in text and "CHATBRIDGE_ALLOWED_ORIGINS" in text


def test_the_widget_list_warns_about_enabled_widgets_only(admin_client, nowhere):
    Widget.objects.create(widget_id="off", name="Off", enabled=False)
    response = admin_client.get("/admin/webwidget/widget/")
    assert response.status_code == 200
    assert [text.split(":", 1)[0] for _, text in told(response)] == ["Nowhere (nowhere)"]
    assert "settings: none" in response.content.decode()


def test_a_widget_in_good_order_gets_no_warning(admin_client, settings):
    settings.CHATBRIDGE_ALLOWED_ORIGINS = ["https://shop.example.com"]
    settings.CHATBRIDGE_PUBLIC_ORIGIN = ""
    fine = Widget.objects.create(widget_id="fine", name="Fine")
    response = admin_client.get(f"/admin/webwidget/widget/{fine.pk}/change/")
    assert told(response) == []
