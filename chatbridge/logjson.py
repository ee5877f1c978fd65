"""One JSON object per log line, for log pipelines (LOG_FORMAT=json).

Keys: `timestamp` (ISO 8601, UTC, milliseconds), `level`, `logger`, `message`, then, when
there is one, `chat_id` (chatbridge.logcontext), `exception` (the traceback) and `stack`.

The formatter writes what the record holds when it gets it: the handler's filters have run
by then, so the message, traceback and stack are the redacted ones (chatbridge.logredact); it
uses the record's `exc_text` rather than formatting its exception again.
"""

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        chat_id = getattr(record, "chat_id", None)
        if chat_id is not None:
            line["chat_id"] = chat_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)
