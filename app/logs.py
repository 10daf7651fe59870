"""Structured logs: one JSON object per line, one line per request."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


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
