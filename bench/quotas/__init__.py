"""`make bench-quotas`: ChatBridge as deployed, with the Connect emulator enforcing AWS's
default quotas, under a start burst and then many chats that type, send and read.

It measures, through ChatBridge's public websocket and REST protocol only, what reaches
Connect (the emulator's own transcript of each contact) against what customers sent and
received: messages, typing and read receipts lost or doubled, throttling errors that reach
clients, and each message's latency from send to Connect against the least the quota allows
for the same send times. See docs/performance.md#under-connects-quotas.
"""
