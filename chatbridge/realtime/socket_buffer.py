"""Whether a websocket holds its next frame already: the one place that reads websockets'
internals.

The upstream logs the frames Connect sent together in one append, one Redis round trip for a
burst instead of one per frame. websockets' API can only wait for the next message; its
connection keeps the frames received and not yet read in `recv_messages.frames` (the queue of
websockets.asyncio.messages.Assembler), and while that holds one, recv() returns at once.

Should a websockets upgrade move that queue, the answer falls back to "nothing buffered":
every frame is then relayed alone, in order, one append each. That is logged once per
process, as a warning.
"""

import functools
import logging

from websockets.asyncio.connection import Connection

logger = logging.getLogger(__name__)


@functools.cache
def _fell_back() -> None:
    logger.warning(
        "websockets keeps no recv_messages.frames (websockets changed?): Connect's frames are "
        "relayed one at a time"
    )


def has_buffered(socket: Connection) -> bool:
    """Whether the socket holds another frame already, so that recv() returns at once."""
    try:
        return len(socket.recv_messages.frames) > 0
    except (AttributeError, TypeError):
        _fell_back()
        return False
