"""Lets Django projects list the emulator in INSTALLED_APPS for its management command.
Only Django loads this module; the emulator itself runs without Django."""

from django.apps import AppConfig


class ConnectEmulatorConfig(AppConfig):
    name = "connect_emulator"
    verbose_name = "Amazon Connect emulator"
