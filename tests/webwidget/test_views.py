"""The widget's pages: the frame's embedding policy and revalidation, its files, the demo site."""

import json

import pytest
from django.conf import settings
from django.test import AsyncClient

from bench import sizes
from webwidget.models import Widget

pytestmark = pytest.mark.django_db(transaction=True)


def policy(response) -> dict[str, str]:
    parts = (p.strip().split(" ", 1) for p in response["Content-Security-Policy"].split(";"))
    return {name: value for name, value in parts}


async def test_the_frame_may_be_embedded_only_by_the_widgets_origins():
    await Widget.objects.acreate(
        widget_id="shop", name="Shop", allowed_origins="https://shop.example.com\nhttps://b.example"
    )
    response = await AsyncClient().get("/widget/shop/frame")
    assert response.status_code == 200
    assert policy(response)["frame-ancestors"] == "https://shop.example.com https://b.example"
    assert policy(response)["script-src"] == "'self'"
    assert "X-Frame-Options" not in response
    config = json.loads(
        response.content.decode()
        .split('data-config="', 1)[1]
        .split('"', 1)[0]
        .replace("&quot;", '"')
    )
    assert config["widget_id"] == "shop"
    assert config["allowed_origins"] == ["https://shop.example.com", "https://b.example"]
    assert "identity_secret" not in config and "webhook_secret" not in config


def frame_config(response) -> dict:
    return json.loads(
        response.content.decode()
        .split('data-config="', 1)[1]
        .split('"', 1)[0]
        .replace("&quot;", '"')
    )


async def test_a_widget_without_origins_of_its_own_follows_the_settings_as_they_are_now(settings):
    await Widget.objects.acreate(widget_id="follows", name="Follows")
    settings.CHATBRIDGE_ALLOWED_ORIGINS = ["https://shop.example.com"]
    settings.CHATBRIDGE_PUBLIC_ORIGIN = "https://chat.example.com"
    response = await AsyncClient().get("/widget/follows/frame")
    assert policy(response)["frame-ancestors"] == (
        "https://shop.example.com https://chat.example.com"
    )
    assert frame_config(response)["allowed_origins"] == [
        "https://shop.example.com",
        "https://chat.example.com",
    ]


async def test_the_frame_is_told_which_origins_may_open_its_websocket(settings):
    await Widget.objects.acreate(widget_id="shop", name="Shop", allowed_origins="https://a.example")
    settings.CHATBRIDGE_ALLOWED_ORIGINS = ["https://b.example"]
    settings.CHATBRIDGE_PUBLIC_ORIGIN = "https://chat.example.com"
    config = frame_config(await AsyncClient().get("/widget/shop/frame"))
    assert config["socket_origins"] == ["https://b.example", "https://chat.example.com"]


async def test_a_widget_without_origins_cannot_be_embedded_when_no_origin_is_configured(settings):
    settings.CHATBRIDGE_ALLOWED_ORIGINS = []
    settings.CHATBRIDGE_PUBLIC_ORIGIN = ""
    await Widget.objects.acreate(widget_id="nowhere", name="Nowhere")
    response = await AsyncClient().get("/widget/nowhere/frame")
    assert policy(response)["frame-ancestors"] == "'none'"


async def test_a_disabled_widget_is_gone():
    await Widget.objects.acreate(widget_id="off", name="Off", enabled=False)
    assert (await AsyncClient().get("/widget/off/frame")).status_code == 404


async def test_the_config_in_the_frame_is_escaped():
    await Widget.objects.acreate(widget_id="esc", name="Esc", title='"><script>alert(1)</script>')
    body = (await AsyncClient().get("/widget/esc/frame")).content.decode()
    assert "<script>alert(1)" not in body


async def test_an_unchanged_frame_answers_not_modified_with_its_own_policy():
    await Widget.objects.acreate(widget_id="shop", name="Shop", allowed_origins="https://a.example")
    client = AsyncClient()
    first = await client.get("/widget/shop/frame")

    again = await client.get("/widget/shop/frame", headers={"If-None-Match": first["ETag"]})

    assert first["Cache-Control"] == "no-cache"
    assert again.status_code == 304
    assert again.content == b""
    assert policy(again)["frame-ancestors"] == "https://a.example"
    assert again["Referrer-Policy"] == "no-referrer"
    assert "X-Frame-Options" not in again


async def test_a_changed_widget_changes_its_frames_validator():
    widget = await Widget.objects.acreate(
        widget_id="shop", name="Shop", allowed_origins="https://a.example"
    )
    client = AsyncClient()
    before = (await client.get("/widget/shop/frame"))["ETag"]
    widget.allowed_origins = "https://a.example\nhttps://b.example"
    await widget.asave()

    changed = await client.get("/widget/shop/frame", headers={"If-None-Match": before})

    assert changed.status_code == 200
    assert changed["ETag"] != before
    assert policy(changed)["frame-ancestors"] == "https://a.example https://b.example"


async def test_the_widgets_files_are_served_from_their_sources_and_revalidated():
    """Development serves static/ as it is (production: tests/chatbridge/test_staticfiles.py)."""
    client = AsyncClient()
    plain = await client.get("/static/webwidget/loader.js")
    assert plain.status_code == 200
    assert plain["Content-Type"].startswith("text/javascript")
    assert plain["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert plain["Cache-Control"] == "max-age=0, public"
    assert (
        b"".join([chunk async for chunk in plain.streaming_content])
        == (settings.BASE_DIR / "static" / "webwidget" / "loader.js").read_bytes()
    )
    again = await client.get(
        "/static/webwidget/loader.js", headers={"If-None-Match": plain["ETag"]}
    )
    assert again.status_code == 304
    assert (await client.get("/static/webwidget/nothing.js")).status_code == 404
    assert (await client.get("/static/webwidget/../README.md")).status_code == 404


async def test_the_demo_site_carries_the_tag_under_a_strict_policy():
    response = await AsyncClient().get("/")
    body = response.content.decode()
    assert 'data-chatbridge-widget="default"' in body
    assert "/static/webwidget/loader.js" in body
    assert "<script>" not in body and " style=" not in body and " onclick" not in body
    assert policy(response)["script-src"] == "'self'"
    assert policy(response)["frame-ancestors"] == "'none'"


def test_the_widget_fits_its_size_budgets():
    measured = sizes.measure()
    assert measured["loader_gzip"] <= sizes.LOADER_BUDGET
    assert measured["widget_gzip"] <= sizes.WIDGET_BUDGET
    assert "loader.js" in sizes.render(measured)
