"""No secret in a log line, whatever logged it."""

from __future__ import annotations

import logging

from app.auth.core import new_secret
from app.logs import JsonFormatter, redact


def test_tokens_bearer_credentials_and_url_passwords_are_redacted() -> None:
    secret = new_secret()
    line = redact(
        f"Authorization: Bearer {secret} token={secret} basic dXNlcjpwYXNz"
        " postgresql://headwater:s3cr%40t@db:5432/headwater"
        " postgresql+psycopg://user@127.0.0.1/plain"
    )
    assert secret not in line and secret[3:] not in line
    assert "s3cr" not in line and "dXNlcjpwYXNz" not in line
    assert "postgresql://headwater:[redacted]@db:5432/headwater" in line
    assert "postgresql+psycopg://user@127.0.0.1/plain" in line


def test_the_formatter_redacts_messages_extras_and_tracebacks() -> None:
    secret = new_secret()
    try:
        raise RuntimeError(f"connect to postgresql://u:pw@h/db failed with {secret}")
    except RuntimeError as exc:
        record = logging.LogRecord(
            "headwater", logging.ERROR, __file__, 1, "failed: %s", (secret,), (type(exc), exc, None)
        )
    record.headers = {"authorization": f"Bearer {secret}"}
    record.query = f"token={secret}"
    line = JsonFormatter().format(record)
    assert secret not in line and ":pw@" not in line
    assert "hw_[redacted]" in line and "Bearer [redacted]" in line
