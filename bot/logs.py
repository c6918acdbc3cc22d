"""Log lines for people (text) or for a log pipeline (JSON, `LOG_FORMAT=json`).

The rule is the same in both: the code logs ids, never the text of cards or messages, and
whatever slips through anyway has every personal identity code replaced by [HETU]: the
message, its arguments, an exception's text and its traceback, and extra fields alike.

JSON comes from python-json-logger: a plain `logging.Formatter`, so every library's log
calls stay as they are (structlog would ask the code to log through it), and it is
maintained, typed and dependency-free.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from consultations.privacy import redact_identity_codes

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    """Defence in depth: no personal identity code reaches a log line, whatever logged it."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_identity_codes(super().format(record))


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, any extra
    fields, and the traceback as `exc_info`.

    Redaction runs on the finished line: an identity code is ASCII letters, digits and a
    sign, none of which JSON escapes, and [HETU] needs no escaping either, so the line stays
    valid JSON."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            # UTF-8 as written ("Työkykytiimi"); a log pipeline reads JSON as UTF-8 anyway.
            json_ensure_ascii=False,
        )

    def format(self, record: logging.LogRecord) -> str:
        return redact_identity_codes(super().format(record))


def formatter(log_format: str) -> logging.Formatter:
    return RedactingJsonFormatter() if log_format == "json" else RedactingFormatter(TEXT_FORMAT)


def configure(log_format: str, level: str, stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to one stream (stderr) in the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # The dispatch tick runs every few seconds; its INFO lines would drown everything else.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # One line per HTTP request is the proxy's job; keep the access log for DEBUG.
    logging.getLogger("aiohttp.access").setLevel(
        logging.DEBUG if level == "DEBUG" else logging.WARNING
    )
    return handler
