"""Schemathesis against the OpenAPI document: no request, however odd, gets a 5xx, and every
answer is one the document lists, with the content type it states. Bounded: a few dozen
examples per operation, so the run takes minutes at most."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from app.db import Database
from app.main import create_app
from tests.conftest import serve_from

# seconds: a generated batch may fill the item limit (thousands of identical models), which a
# machine busy with other work records slower than schemathesis' default read timeout of 10 s
REQUEST_TIMEOUT = 120

schema = schemathesis.openapi.from_dict(create_app(run_worker=False).openapi())


@pytest.fixture
def fuzzed_app(database_url: str, session: Session) -> Iterator[FastAPI]:
    """The app with every request inside the test's rolled-back transaction."""
    app = create_app(database_url, run_worker=False)
    app.state.database = Database.connect(database_url, pool_size=1)
    serve_from(app, session)
    yield app
    app.state.database.dispose()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_request_is_a_server_error(case: schemathesis.Case, fuzzed_app: FastAPI) -> None:
    case.call_and_validate(
        app=fuzzed_app,
        timeout=REQUEST_TIMEOUT,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance],
    )
