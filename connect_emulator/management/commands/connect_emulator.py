"""``python manage.py connect_emulator --port 8900 --agent echo``: the same options and the
same runner as ``python -m connect_emulator``."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from connect_emulator.cli import add_arguments, config_from, quotas_from
from connect_emulator.runner import run


class Command(BaseCommand):
    help = "Run the local Amazon Connect emulator."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = config_from(options)
            quotas = quotas_from(options)
        except ValueError as error:
            raise CommandError(str(error)) from None
        run(options["host"], options["port"], config, quotas)
