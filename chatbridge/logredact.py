"""Log redaction: no signed URL, Connect token or bearer credential reaches a log line.

Secrets travel through libraries that log them. httpx logs every request's URL at INFO: the
pre-signed attachment upload URLs (``sig=``, ``X-Amz-Signature=``) and webhook URLs with their
query strings. At DEBUG, websockets logs the handshake's request line, and the Connect
participant websocket URL carries ``X-Amz-Security-Token`` in its query string; botocore logs
its requests' headers and bodies and Connect's answers, with the ConnectionToken and
ParticipantToken (the ``X-Amz-Bearer`` header, JSON fields); urllib3 and daphne log request
lines. Our own REST API's clients send bearer tokens.

RedactingFilter sits on every handler of settings.LOGGING, so it sees each record of every
logger that reaches a handler, whoever logged it. It formats the message once (``msg % args``),
redacts the text and stores it back without args; a record's traceback and stack are formatted
and redacted the same way, so a formatter only ever sees redacted text. What it replaces with
``[redacted]``:

- the query string of every URL and of every request line's path (the scheme, host and path
  stay: a line still says which endpoint was called);
- the userinfo (``user:password@``) of every URL;
- the value of credential-bearing fields, in each shape they are logged in: ``Name: value``
  headers, ``'Name': 'value'`` reprs, ``"Name": "value"`` JSON, ``Name=value`` parameters
  (names ending in token, secret, password, signature, credential or bearer, and
  Authorization, Cookie and ``sig``);
- bearer credentials wherever they appear: ``Bearer <token>``, JWTs, ChatBridge's session and
  history tokens.
"""

import logging
import re

REDACTED = "[redacted]"

# A URL's or a request path's query string. An absolute URL's base runs from its scheme; a bare
# path counts where a request line or a quoted value would start it.
_QUERY = re.compile(
    r"""(?P<base>
        \b[a-z][a-z0-9+.\-]*://[^\s/?#"'<>\\]+[^\s?#"'<>\\]*
      | (?<![^\s"'(\[=])/[^\s?#"'<>\\]*
    )\?(?P<query>[^\s"'<>]+)""",
    re.IGNORECASE | re.VERBOSE,
)
_USERINFO = re.compile(r"(?<=://)[^\s/?#@\"'<>]+@")

# A credential-bearing field's name, what separates it from its value, and the value: quoted
# (JSON, a repr, bytes, or JSON escaped inside a string) or bare, up to where a header, query
# parameter or list item ends. A bare Authorization value keeps its scheme.
_FIELD = re.compile(
    r"""(?P<name>(?<![\w-])
        (?:[\w-]*(?:token|secret|password|signature|credential|bearer)|authorization|cookie|sig)
    (?![\w-]))
    (?P<sep>(?:\\*["'])?\s*[:=]\s*)
    (?:
        (?P<open>(?-i:b)?(?P<escape>\\*)(?P<quote>["']))(?P<quoted>.*?)(?P=escape)(?P=quote)
      | (?P<bare_open>(?-i:b)?\\*["']?)(?P<scheme>(?:Bearer|Basic|Digest|Token|AWS4-HMAC-SHA256)\s+)?+
        (?P<bare>[^\s"'&,;<>(){}\[\]\\]+)
    )""",
    re.IGNORECASE | re.VERBOSE,
)

# Credentials recognisable by their shape alone.
_BEARER = re.compile(r"\b(?P<scheme>Bearer)\s+[A-Za-z0-9\-._~+/]{20,}=*", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# ChatBridge's session tokens (cbs_…) and history tokens (cbh_…, signed with ':' separators).
_CHATBRIDGE_TOKEN = re.compile(r"\bcb[sh]_[A-Za-z0-9_\-.:]{16,}")


def _field(match: re.Match[str]) -> str:
    head = match["name"] + match["sep"]
    if match["open"] is not None:
        return f"{head}{match['open']}{REDACTED}{match['escape']}{match['quote']}"
    return f"{head}{match['bare_open']}{match['scheme'] or ''}{REDACTED}"


def redact(text: str) -> str:
    """The text with every secret this module knows the shape of replaced by [redacted]."""
    text = _QUERY.sub(lambda match: f"{match['base']}?{REDACTED}", text)
    text = _USERINFO.sub(f"{REDACTED}@", text)
    text = _FIELD.sub(_field, text)
    text = _BEARER.sub(lambda match: f"{match['scheme']} {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    return _CHATBRIDGE_TOKEN.sub(REDACTED, text)


_TRACEBACKS = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Rewrites each record into its redacted message; never drops one.

    A handler's filter runs before its formatter, so the record the formatter receives holds
    text only: msg is the formatted, redacted message and args is empty; exc_text and
    stack_info are redacted too (the formatter uses exc_text rather than formatting exc_info
    again). A message whose args do not fit is logged with them shown, redacted, instead of
    the "--- Logging error ---" report that would print them as they are.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg!s} (unformattable arguments: {record.args!r})"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
