"""Where a widget's webhooks may go: what the URL says is judged when the widget is saved.

Nothing here resolves a name or opens a connection: saving judges the URL alone; what names
resolve to is judged at delivery (tests/chatbridge/streams/test_webhook_transport.py).
"""

from ipaddress import ip_address

import pytest
from django.contrib.admin.sites import site
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import RequestFactory

from webwidget.admin import WidgetAdmin
from webwidget.models import Widget
from webwidget.webhook_targets import AllowList, TargetRefused, address_refusal, check_address

pytestmark = pytest.mark.django_db


def widget(url: str) -> Widget:
    return Widget(widget_id="shop", name="Shop", webhook_url=url)


def refusal_codes(url: str) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        widget(url).full_clean()
    return [error.code for error in caught.value.error_dict["webhook_url"]]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://127.0.0.1/hooks", "loopback"),
        ("https://127.8.9.10/hooks", "loopback"),
        ("https://[::1]/hooks", "loopback"),
        ("https://10.0.0.5/hooks", "private"),
        ("https://172.16.3.4/hooks", "private"),
        ("https://192.168.1.1/hooks", "private"),
        ("https://[fd00::1]/hooks", "unique local"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[fe80::1]/hooks", "link-local"),
        ("https://100.64.0.1/hooks", "shared (carrier-grade NAT)"),
        ("https://0.0.0.0/hooks", "unspecified"),
        ("https://[::]/hooks", "unspecified"),
        ("https://0.1.2.3/hooks", "'this network'"),
        ("https://224.0.0.1/hooks", "multicast"),
        ("https://[ff02::1]/hooks", "multicast"),
        ("https://240.0.0.1/hooks", "reserved"),
        ("https://255.255.255.255/hooks", "reserved"),
        ("https://192.0.2.1/hooks", "documentation"),
        ("https://198.18.0.1/hooks", "benchmarking"),
        ("https://[fec0::1]/hooks", "site-local"),
    ],
)
def test_a_non_public_address_is_refused_with_its_kind(url, kind):
    with pytest.raises(ValidationError) as caught:
        widget(url).full_clean()
    [message] = [m for m in caught.value.message_dict["webhook_url"] if "address" in m]
    assert f"a {kind} address" in message
    assert "CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS" in message or kind in {"unspecified", "multicast"}


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://[::ffff:127.0.0.1]/hooks", "loopback"),
        ("https://[::ffff:10.0.0.5]/hooks", "private"),
        ("https://[::ffff:169.254.169.254]/hooks", "link-local"),
    ],
)
def test_an_ipv4_mapped_address_is_judged_as_the_ipv4_address_it_carries(url, kind):
    with pytest.raises(ValidationError) as caught:
        widget(url).full_clean()
    assert f"a {kind} address" in caught.value.message_dict["webhook_url"][0]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://[2002:7f00:1::]/hooks", "loopback"),  # 6to4 of 127.0.0.1
        ("https://[64:ff9b::a00:5]/hooks", "private"),  # NAT64 of 10.0.0.5
        ("https://[::7f00:1]/hooks", "IPv4-compatible"),
    ],
)
def test_an_ipv6_address_leading_to_a_non_public_ipv4_address_is_refused(url, kind):
    with pytest.raises(ValidationError) as caught:
        widget(url).full_clean()
    assert kind in caught.value.message_dict["webhook_url"][0]


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost/hooks",
        "https://api.localhost/hooks",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://printer.local/hooks",
        "https://router.home.arpa/hooks",
        "https://LOCALHOST./hooks",
    ],
)
def test_a_name_that_can_only_be_local_is_refused(url):
    assert "webhook_host_refused" in refusal_codes(url)


def test_http_is_refused_with_debug_off(settings):
    settings.DEBUG = False
    assert refusal_codes("http://hooks.example.com/x") == ["webhook_scheme_refused"]


def test_http_is_accepted_with_debug_on(settings):
    settings.DEBUG = True
    widget("http://hooks.example.com/x").full_clean()


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/x?token=1",
        "https://93.184.216.34/x",
        "https://[2606:4700::1111]/",
    ],
)
def test_a_public_https_target_is_accepted(url):
    widget(url).full_clean()


def test_an_allow_listed_network_accepts_its_addresses_only(settings):
    settings.CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS = ["10.1.0.0/16", "[::1]"]
    widget("https://10.1.2.3/hooks").full_clean()
    widget("https://[::1]:8443/hooks").full_clean()
    assert refusal_codes("https://10.2.0.1/hooks") == ["webhook_address_refused"]
    assert refusal_codes("https://127.0.0.1/hooks") == ["webhook_address_refused"]


def test_an_allow_listed_host_name_is_accepted(settings):
    settings.CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS = ["hooks.corp.internal"]
    widget("https://hooks.corp.internal/x").full_clean()
    assert "webhook_host_refused" in refusal_codes("https://other.corp.internal/x")


def test_the_allow_list_never_admits_unspecified_or_multicast_addresses(settings):
    settings.CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS = ["0.0.0.0/0", "::/0"]
    widget("https://10.0.0.5/hooks").full_clean()
    for url in (
        "https://0.0.0.0/x",
        "https://224.0.0.1/x",
        "https://[::]/x",
        "https://[ff02::1]/x",
    ):
        assert refusal_codes(url) == ["webhook_address_refused"]


def test_the_allow_list_does_not_lift_the_https_rule(settings):
    settings.DEBUG = False
    settings.CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS = ["10.0.0.0/8"]
    assert refusal_codes("http://10.0.0.5/hooks") == ["webhook_scheme_refused"]


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "hooks example", "fe80::zz"])
def test_a_malformed_allow_list_entry_is_a_configuration_error(settings, entry):
    settings.CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS = [entry]
    with pytest.raises(ImproperlyConfigured, match="CHATBRIDGE_WEBHOOK_ALLOWED_TARGETS"):
        widget("https://hooks.example.com/x").full_clean()


def test_save_refuses_a_non_public_target_too():
    with pytest.raises(ValidationError) as caught:
        widget("https://169.254.169.254/latest/meta-data/").save()
    assert "webhook_url" in caught.value.message_dict
    assert not Widget.objects.filter(widget_id="shop").exists()


def admin_form(admin_user, webhook_url: str):
    request = RequestFactory().get("/admin/webwidget/widget/add/")
    request.user = admin_user
    form_class = WidgetAdmin(Widget, site).get_form(request)
    return form_class(
        data={
            "name": "Shop",
            "widget_id": "shop",
            "enabled": "on",
            "title": "Chat",
            "primary_color": "#1f6feb",
            "text_color": "#ffffff",
            "position": "right",
            "locale": "auto",
            "time_zone": "UTC",
            "prechat_fields": "[]",
            "attachment_types": "png",
            "survey_scale": "stars",
            "identity_secret": "s" * 43,
            "webhook_url": webhook_url,
            "webhook_secret": "w" * 43,
        }
    )


def test_the_admin_form_shows_the_refusal_under_the_field(admin_user):
    form = admin_form(admin_user, "https://10.0.0.5/hooks")
    assert not form.is_valid()
    assert list(form.errors) == ["webhook_url"]
    assert "10.0.0.5 is a private address" in form.errors["webhook_url"][0]


def test_the_admin_takes_a_url_without_scheme_as_https(admin_user):
    form = admin_form(admin_user, "hooks.example.com/x")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["webhook_url"] == "https://hooks.example.com/x"


def test_the_refusal_names_the_address_never_the_path_or_query():
    with pytest.raises(TargetRefused) as caught:
        check_address(ip_address("10.0.0.5"), host="hooks.example.com", allow=AllowList())
    assert caught.value.message.startswith("hooks.example.com (10.0.0.5) is a private address")


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34"])
def test_a_global_unicast_address_has_no_refusal(address):
    assert address_refusal(ip_address(address)) is None
