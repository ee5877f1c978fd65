"""One response parser per protocol for every boto3 call: the one place that reaches into
botocore's internals.

botocore's own factory builds a new parser (two, for REST JSON) for every response, and each
holds bound methods of itself: a reference cycle that only the cyclic garbage collector frees.
At a hundred calls a second that garbage is what triggers its slow full collections. Parsers
keep no state between calls, so one per protocol serves them all. botocore offers no public
hook for this: a session keeps its botocore.parsers.ResponseParserFactory as the component
"response_parser_factory", and every client's endpoint asks that for a parser per response.

Should a botocore upgrade move either, the session is left as botocore made it: a parser per
response, correct, and more for the garbage collector to do. That is logged once per process,
as a warning.
"""

import functools
import logging
from typing import Any

import botocore.session

try:
    from botocore.parsers import ResponseParserFactory
except ImportError:  # share_parsers() falls back
    ResponseParserFactory = None

logger = logging.getLogger(__name__)

COMPONENT = "response_parser_factory"


@functools.cache
def _fell_back() -> None:
    logger.warning(
        "botocore has no %s component of its ResponseParserFactory (botocore changed?): "
        "each Connect response gets parsers of its own",
        COMPONENT,
    )


class SharedParserFactory(ResponseParserFactory or object):
    """botocore's parser factory, handing out one parser per protocol, made on first use."""

    def __init__(self) -> None:
        super().__init__()
        self._parsers: dict[str, Any] = {}

    def create_parser(self, protocol_name: str) -> Any:
        parser = self._parsers.get(protocol_name)
        if parser is None:
            parser = self._parsers[protocol_name] = super().create_parser(protocol_name)
        return parser

    def set_parser_defaults(self, **kwargs: Any) -> None:
        """botocore's customization of new parsers: the parsers made before are made again."""
        super().set_parser_defaults(**kwargs)
        self._parsers.clear()

    def handed_out(self) -> dict[str, Any]:
        """The parser of each protocol handed out so far."""
        return dict(self._parsers)


def share_parsers(session: botocore.session.Session) -> SharedParserFactory | None:
    """Has every client of `session` share one parser per protocol; the factory that hands
    them out, or None where botocore no longer works the way this relies on."""
    try:
        current = session.get_component(COMPONENT)
    except ValueError:
        current = None
    if ResponseParserFactory is None or not isinstance(current, ResponseParserFactory):
        _fell_back()
        return None
    factory = SharedParserFactory()
    session.register_component(COMPONENT, factory)
    return factory
