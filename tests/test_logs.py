"""A log line is one JSON object: time, level, logger and message first, then what the record
carries besides."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from app.logs import JsonFormatter


def record(**extra: object) -> logging.LogRecord:
    try:
        raise ValueError("no such dataset")
    except ValueError:
        exc_info = sys.exc_info()
    made = logging.LogRecord(
        "headwater.lineage", logging.WARNING, __file__, 1, "rejected %s", ("an event",), exc_info
    )
    made.created = datetime(2026, 3, 1, 12, 30, 5, 250_000, tzinfo=UTC).timestamp()
    made.__dict__.update(extra)
    return made


def test_a_line_names_time_level_logger_and_message_first_then_the_extras() -> None:
    line = json.loads(JsonFormatter().format(record(route="/api/v1/lineage", status=422)))
    assert list(line)[:4] == ["time", "level", "logger", "message"]
    assert line["time"] == "2026-03-01T12:30:05.250+00:00"
    assert line["level"] == "warning"
    assert line["logger"] == "headwater.lineage"
    assert line["message"] == "rejected an event"
    assert line["route"] == "/api/v1/lineage" and line["status"] == 422
    assert line["error"].startswith("Traceback") and "ValueError: no such dataset" in line["error"]
    # nothing of the record's own bookkeeping, such as its source line or its thread
    assert not {"lineno", "pathname", "thread", "args", "msg", "exc_info"} & set(line)


def test_extras_json_cannot_hold_are_converted_not_dropped() -> None:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    line = json.loads(JsonFormatter().format(record(at=when, peer=("127.0.0.1", 5432), x=object())))
    assert line["at"] == "2026-03-01T00:00:00+00:00"
    assert line["peer"] == ["127.0.0.1", 5432]
    assert line["x"].startswith("<object object at")
