from django.apps import AppConfig


class ChatBridgeConfig(AppConfig):
    name = "chatbridge"
    verbose_name = "ChatBridge"

    def ready(self) -> None:
        from chatbridge import checks  # noqa: F401 (registers manage.py check's checks)
