"""A widget's origins, extensions and public configuration."""

import pytest
from django.core.exceptions import ValidationError

from webwidget.models import Widget

pytestmark = pytest.mark.django_db


def widget(**fields) -> Widget:
    return Widget(widget_id="shop", name="Shop", **fields)


def test_the_default_widget_exists_for_the_demo_site():
    default = Widget.objects.get(widget_id="default")
    assert default.allows_origin("http://localhost:8000")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://www.example.com", True),
        ("HTTPS://WWW.EXAMPLE.COM", True),
        ("https://www.example.com:443", False),
        ("http://www.example.com", False),
        ("https://evil.example.com", False),
        ("null", False),
        ("", False),
        (None, False),
    ],
)
def test_only_listed_origins_are_allowed(origin, allowed):
    assert widget(allowed_origins="https://www.example.com\n").allows_origin(origin) is allowed


def test_clean_normalizes_origins():
    shop = widget(allowed_origins=" https://Shop.Example.com/ \n\nhttp://localhost:8000")
    shop.clean()
    assert shop.allowed_origins == "https://shop.example.com\nhttp://localhost:8000"


@pytest.mark.parametrize("bad", ["shop.example.com", "ftp://example.com", "https://x.com/path"])
def test_clean_refuses_what_is_not_an_origin(bad):
    with pytest.raises(ValidationError) as caught:
        widget(allowed_origins=bad).clean()
    assert "allowed_origins" in caught.value.message_dict


def test_extensions_are_normalized():
    assert widget(attachment_types=".PDF png  png").extensions() == ["pdf", "png"]


def test_public_config_carries_no_secret():
    config = widget().public_config()
    assert "identity_secret" not in config
    assert "webhook_secret" not in config
    assert "webhook_url" not in config
    assert config["attachment_types"]
