"""A request's own doorbell: a follower of the chat in the process's relay while it lasts."""

from channels.layers import get_channel_layer

from chatbridge.realtime.doorbell import Doorbell
from chatbridge.realtime.layer_groups import LayerGroups
from chatbridge.realtime.relay import chat_group


async def test_the_doorbell_hears_what_another_process_logs_while_it_lasts(runtime):
    layer = get_channel_layer()
    group = chat_group("chat-1")
    groups = LayerGroups(layer)
    async with Doorbell(runtime.relay, "chat-1") as bell:
        assert runtime.relay.fanout.followers("chat-1") == 1
        assert await groups.count([group]) == {group: 1}
        await layer.group_send(
            group, {"type": "chat.event", "seq": 1, "chat": "chat-1", "origin": "elsewhere"}
        )
        assert (await bell.next(10))["seq"] == 1
        assert await bell.next(0) is None
    assert runtime.relay.fanout.followers("chat-1") == 0
    assert await groups.count([group]) == {group: 0}
