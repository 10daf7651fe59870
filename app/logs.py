"""Structured logs: one JSON object per line, one line per request."""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger import json as jsonlogger

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",
}


# Secrets never reach a log line, whatever logged them: API tokens (``hw_`` + 43 characters),
# bearer credentials, and passwords in URLs such as DATABASE_URL.
_SECRETS = (
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=\-]+"), r"\1\2[redacted]"),
    (re.compile(r"hw_[A-Za-z0-9_\-]{16,}"), "hw_[redacted]"),
    (re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@\"']*:)[^@\s/\"']*@"), r"\1[redacted]@"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(jsonlogger.JsonFormatter):
    """python-json-logger's formatter, in our fields: the time (UTC, to the millisecond), the
    level, the logger and the message first, then the record's extras, any traceback as
    ``error``; secrets redacted from the whole line."""

    def __init__(self) -> None:
        super().__init__(
            ["created", "levelname", "name", "message"],
            rename_fields={
                "created": "time",
                "levelname": "level",
                "name": "logger",
                "exc_info": "error",
            },
            reserved_attrs=_RESERVED,
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        created = datetime.fromtimestamp(log_data["time"], UTC)
        log_data["time"] = created.isoformat(timespec="milliseconds")
        log_data["level"] = log_data["level"].lower()
        return log_data

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        return redact(super().jsonify_log_record(log_data))


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # warnings, too, become JSON lines instead of bare text on stderr
    logging.captureWarnings(True)
