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


async def test_the_process_stays_in_the_chats_group_after_a_doorbell_for_the_next(runtime):
    # A mobile app long-polls again at once: leaving and joining again would cost its every
    # poll two round trips to the channel layer.
    group = chat_group("chat-2")
    groups = LayerGroups(get_channel_layer())
    async with Doorbell(runtime.relay, "chat-2"):
        pass
    assert runtime.relay.fanout.followers("chat-2") == 0
    assert await groups.count([group]) == {group: 1}
