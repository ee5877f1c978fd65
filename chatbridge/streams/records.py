"""What the stream workers keep in Redis between attempts (a webhook delivery, a transcript
e-mail waiting for the archive): small frozen dataclasses stored as compact JSON.

They are written and read back only by ChatBridge's own workers, so reading one trusts its
fields; what comes from outside (feed entries) is checked where it is parsed
(chatbridge.chats.feed, chatbridge.chats.aftercare).
"""

import dataclasses
import json
from typing import Self


class JsonRecord:
    """A base for ``@dataclass(frozen=True, slots=True)`` records whose fields are plain JSON
    values: ``to_json`` writes them compactly, ``from_json`` makes the record again."""

    __slots__ = ()

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        return cls(**json.loads(raw))
