"""`make bench`: ChatBridge's added latency and memory, measured against Connect directly.

The bench starts a private stack (redis-server, the Connect emulator with an instant echo
agent, daphne serving ChatBridge), then drives two populations of simulated customers through
the same chat: one through ChatBridge's /ws/chat/, one straight at the emulator as a browser
running amazon-connect-chatjs would. The difference between the two is what ChatBridge costs.
"""
