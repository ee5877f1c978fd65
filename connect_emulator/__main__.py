"""``python -m connect_emulator --port 8900 --agent echo``"""

from .cli import main

main()
