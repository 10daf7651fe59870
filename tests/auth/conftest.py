"""An app with authentication required, and tokens issued inside the test's transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.schemas import TokenCreate
from app.config import Settings
from app.main import create_app
from tests.conftest import serve_from

Issue = Callable[..., str]


@pytest.fixture
def secured(database_url: str, session: Session) -> Iterator[TestClient]:
    settings = Settings(auth="required", auth_max_failures=1000)
    app = create_app(database_url, settings=settings, run_worker=False)
    serve_from(app, session)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def issue(session: Session) -> Issue:
    """``issue(name, scope, …, namespaces=[…])``: a token's secret."""

    def issue(
        name: str,
        *scopes: str,
        namespaces: Sequence[str] = (),
        expires_in_days: float | None = None,
    ) -> str:
        body = TokenCreate.model_validate(
            {
                "name": name,
                "scopes": list(scopes),
                "namespaces": list(namespaces),
                "expires_in_days": expires_in_days,
            }
        )
        _, secret = auth_service.create(session, body, actor="test")
        # released into the test's transaction: a refused request's rollback keeps the token
        session.commit()
        return secret

    return issue


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
