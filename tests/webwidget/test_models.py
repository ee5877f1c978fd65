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


@pytest.mark.parametrize("field", ["identity_secret", "webhook_secret"])
def test_full_clean_refuses_a_short_secret(field):
    shop = widget(**{field: "a" * 31})
    with pytest.raises(ValidationError) as caught:
        shop.full_clean()
    assert "token_urlsafe(32)" in caught.value.message_dict[field][0]


@pytest.mark.parametrize("field", ["identity_secret", "webhook_secret"])
def test_save_refuses_a_short_secret(field):
    with pytest.raises(ValidationError) as caught:
        widget(**{field: "a"}).save()
    assert field in caught.value.message_dict
    assert not Widget.objects.filter(widget_id="shop").exists()


def test_generated_and_32_byte_secrets_are_accepted():
    shop = widget(webhook_secret="é" * 16)  # 16 characters, 32 bytes
    shop.full_clean()
    shop.save()
    assert len(shop.identity_secret.encode()) >= 32


def test_admin_help_says_how_to_generate_a_secret():
    for name in ("identity_secret", "webhook_secret"):
        help_text = str(Widget._meta.get_field(name).help_text)
        assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in help_text


def test_a_widget_without_routing_leaves_it_to_the_settings():
    assert widget().connect_route({}) == ("", "", "")


def test_a_widget_routes_by_its_own_instance_flow_and_region():
    routed = widget(
        contact_flow_id="flow-shop", connect_instance_id="instance-eu", connect_region="eu-west-2"
    )

    assert routed.connect_route({"topic": "other"}) == ("instance-eu", "flow-shop", "eu-west-2")


def test_the_topic_answer_picks_its_flow():
    routed = widget(contact_flow_id="flow-shop", topic_flows={"billing": "flow-billing"})

    assert routed.connect_route({"topic": "billing"})[1] == "flow-billing"


@pytest.mark.parametrize("flows", [["flow-billing"], {"billing": ""}, {"billing": 7}])
def test_topic_flows_must_map_answers_to_flows(flows):
    with pytest.raises(ValidationError) as refused:
        widget(topic_flows=flows).clean()

    assert "topic_flows" in refused.value.message_dict


def test_a_region_must_look_like_one():
    with pytest.raises(ValidationError) as refused:
        widget(connect_region="Europe").full_clean()

    assert "connect_region" in refused.value.message_dict
