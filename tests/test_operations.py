"""What an operator sees: quiet readiness probes, JSON logs."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient


def test_readiness_probes_log_only_their_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        assert client.get("/readyz").status_code == 200
    assert [r.name for r in caplog.records if r.name.startswith(("headwater", "alembic"))] == [
        "headwater.http"
    ]
