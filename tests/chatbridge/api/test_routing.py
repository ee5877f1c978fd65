"""Routing per widget: each widget's Connect contact flow (or the one its pre-chat topic
picks), instance and region, with the settings as default; a chat in another region makes
every participant call in that region."""

from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from chatbridge.dev.services import EmulatorProcess
from chatbridge.redis import keys
from tests.support.continuity import say
from tests.support.emulator import EmulatorControl
from tests.support.rest import contact_id, start_chat, wait_for_agent_message

pytestmark = pytest.mark.django_db(transaction=True)

REGION = "eu-west-2"
INSTANCE = "instance-eu"


@pytest.fixture(scope="module")
def other_region() -> Iterator[EmulatorProcess]:
    """A second Connect, standing for another region's: it knows only its own instance."""
    server = EmulatorProcess(
        agent="none", quotas=False, extra_args=("--instance-id", INSTANCE)
    ).start()
    yield server
    server.stop()


async def _route(widget, **fields) -> None:
    for name, value in fields.items():
        setattr(widget, name, value)
    await sync_to_async(widget.save)()


async def test_a_widget_without_routing_uses_the_settings(api, widget, runtime, emulator):
    chat = await start_chat(api)

    contact = emulator.contact(await contact_id(runtime, chat))
    assert contact["contact_flow_id"] == settings.CONNECT_CONTACT_FLOW_ID
    assert contact["instance_id"] == settings.CONNECT_INSTANCE_ID


async def test_a_widget_routes_its_chats_to_its_own_flow(api, widget, runtime, emulator):
    await _route(widget, contact_flow_id="flow-shop", connect_instance_id="instance-shop")

    chat = await start_chat(api)

    contact = emulator.contact(await contact_id(runtime, chat))
    assert (contact["instance_id"], contact["contact_flow_id"]) == ("instance-shop", "flow-shop")


async def test_the_pre_chat_topic_picks_the_flow(api, widget, runtime, emulator):
    await _route(widget, contact_flow_id="flow-shop", topic_flows={"billing": "flow-billing"})

    billing = await start_chat(api, attributes={"topic": "billing"})
    other = await start_chat(api, attributes={"topic": "returns"})

    flows = [
        emulator.contact(await contact_id(runtime, chat))["contact_flow_id"]
        for chat in (billing, other)
    ]
    assert flows == ["flow-billing", "flow-shop"]


async def test_a_chat_in_another_region_talks_to_that_region_only(
    api, widget, runtime, emulator, settings, other_region
):
    settings.CONNECT_REGION_ENDPOINT_URLS = {REGION: other_region.url}
    far = EmulatorControl(other_region.url)
    far.reset()
    await _route(widget, connect_instance_id=INSTANCE, connect_region=REGION)

    chat = await start_chat(api)
    session = await runtime.service.store.load(chat["chat_id"])
    await say(api, chat, "hello from afar")
    far.agent_join(session.contact_id)
    far.agent_message(session.contact_id, "hello back")
    await wait_for_agent_message(api, chat, "hello back")

    assert (session.region, session.instance_id) == (REGION, INSTANCE)
    assert emulator.contacts() == []
    contact = far.contact(session.contact_id)
    assert contact["instance_id"] == INSTANCE


async def test_a_chat_in_another_region_spends_that_regions_budget(
    api, widget, runtime, settings, other_region, redis_client
):
    settings.CONNECT_REGION_ENDPOINT_URLS = {REGION: other_region.url}
    EmulatorControl(other_region.url).reset()
    await _route(widget, connect_instance_id=INSTANCE, connect_region=REGION)

    await start_chat(api)

    assert await redis_client.exists(keys().connect_budget("StartChatContact", region=REGION))
    assert not await redis_client.exists(keys().connect_budget("StartChatContact"))
