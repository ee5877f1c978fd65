"""A request's own doorbell: a fresh channel in the chat's group, left when the request ends."""

from channels.layers import get_channel_layer

from chatbridge.realtime.doorbell import Doorbell
from chatbridge.realtime.layer_groups import LayerGroups
from chatbridge.realtime.relay import chat_group


async def test_the_doorbell_hears_the_chats_group_while_it_lasts(redis_client):
    layer = get_channel_layer()
    group = chat_group("chat-1")
    groups = LayerGroups(layer)
    async with Doorbell("chat-1") as bell:
        assert await groups.count([group]) == {group: 1}
        await layer.group_send(group, {"type": "chat.event", "seq": 1})
        assert (await bell.ring(10))["seq"] == 1
        assert await bell.ring(0) is None
    assert await groups.count([group]) == {group: 0}
