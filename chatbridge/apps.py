from django.apps import AppConfig


class ChatBridgeConfig(AppConfig):
    name = "chatbridge"
    verbose_name = "ChatBridge"
