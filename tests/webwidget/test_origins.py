"""Where a widget may run: its own origins, or the configured ones as settings are now; what
the admin and `manage.py check` say about it."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from webwidget.checks import check_configured_origins
from webwidget.models import Widget
from webwidget.origins import configured_origins


@pytest.fixture
def configured(settings):
    settings.CHATBRIDGE_ALLOWED_ORIGINS = ["https://shop.example.com", "HTTPS://B.example/"]
    settings.CHATBRIDGE_PUBLIC_ORIGIN = "https://chat.example.com"
    return settings


def widget(allowed_origins: str = "") -> Widget:
    return Widget(widget_id="shop", name="Shop", allowed_origins=allowed_origins)


def texts(widget: Widget, level: str = "warning") -> list[str]:
    return [f.text for f in widget.origin_findings() if f.level == level]


def test_the_configured_origins_are_the_allowed_ones_and_the_public_one(configured):
    assert configured_origins() == [
        "https://shop.example.com",
        "https://b.example",
        "https://chat.example.com",
    ]


def test_a_widget_without_origins_of_its_own_follows_the_settings_when_asked(configured):
    follows = widget()
    assert follows.follows_settings()
    assert follows.allows_origin("https://b.example")
    configured.CHATBRIDGE_ALLOWED_ORIGINS = ["https://elsewhere.example"]
    assert not follows.allows_origin("https://b.example")
    assert follows.allows_origin("https://elsewhere.example")
    assert follows.allows_origin("https://chat.example.com")


def test_a_widget_with_origins_of_its_own_ignores_the_settings(configured):
    own = widget("https://own.example")
    assert own.origins() == ["https://own.example"]
    assert not own.allows_origin("https://shop.example.com")


def test_a_widget_following_the_settings_in_good_order_gets_no_finding(configured):
    configured.DEBUG = False
    assert widget().origin_findings() == []


def test_a_widget_allowed_nowhere_is_warned_about_naming_the_setting(settings):
    settings.CHATBRIDGE_ALLOWED_ORIGINS = []
    settings.CHATBRIDGE_PUBLIC_ORIGIN = ""
    (warning,) = texts(widget())
    assert "No site may embed this widget" in warning
    assert "CHATBRIDGE_ALLOWED_ORIGINS" in warning


def test_http_origins_in_production_are_warned_about(configured):
    configured.DEBUG = False
    (warning,) = texts(widget("http://shop.example.com\nhttps://chat.example.com"))
    assert "http://shop.example.com" in warning and "DEBUG is off" in warning
    configured.DEBUG = True
    assert texts(widget("http://shop.example.com\nhttps://chat.example.com")) == []


def test_origins_without_chatbridges_own_are_told_as_information(configured):
    (info,) = texts(widget("https://own.example"), "info")
    assert "https://chat.example.com" in info and "CHATBRIDGE_PUBLIC_ORIGIN" in info


def test_manage_py_check_warns_about_http_origins_in_production(settings):
    settings.DEBUG = False
    settings.CHATBRIDGE_ALLOWED_ORIGINS = ["http://shop.example.com"]
    settings.CHATBRIDGE_PUBLIC_ORIGIN = "https://chat.example.com"
    (warning,) = check_configured_origins()
    assert warning.id == "webwidget.W001"
    assert "CHATBRIDGE_ALLOWED_ORIGINS" in warning.msg and "http://shop.example.com" in warning.msg


def test_manage_py_check_warns_when_no_origin_is_configured(settings):
    settings.CHATBRIDGE_ALLOWED_ORIGINS = []
    settings.CHATBRIDGE_PUBLIC_ORIGIN = ""
    assert [w.id for w in check_configured_origins()] == ["webwidget.W002"]


def test_manage_py_check_warns_about_a_setting_that_is_no_origin(configured):
    configured.CHATBRIDGE_ALLOWED_ORIGINS = ["shop.example.com"]
    assert [w.id for w in check_configured_origins()] == ["webwidget.W003"]


@pytest.mark.django_db
def test_manage_py_check_with_the_database_names_a_widget_allowed_nowhere(settings):
    settings.CHATBRIDGE_ALLOWED_ORIGINS = []
    settings.CHATBRIDGE_PUBLIC_ORIGIN = ""
    Widget.objects.create(widget_id="lonely", name="Lonely")
    with pytest.raises(SystemCheckError) as refused:
        call_command("check", "--database", "default", "--fail-level", "WARNING")
    assert "webwidget.W004" in str(refused.value)
    assert "'lonely'" in str(refused.value)
