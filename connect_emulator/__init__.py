"""A local emulator of the Amazon Connect chat side (the ``connect`` StartChatContact and
StopContact calls, the Connect Participant Service and its websocket).

ChatBridge talks to it through the very same boto3 clients by setting ``endpoint_url``, so a
developer needs no AWS account and integration tests have a faithful peer. Production code
never imports this package.
"""

__all__: list[str] = []
