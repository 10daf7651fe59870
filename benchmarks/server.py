"""The service exactly as ``headwater serve`` runs it, plus one route: ``POST /bench/discard``.

The discard route parses its JSON body the way ``POST /api/v1/lineage`` does (a FastAPI body
parameter, a sync handler on the same thread pool, behind the same middleware) and answers 204
without touching the database: the HTTP ceiling the OpenLineage endpoint is measured against,
on the same server process.

Run as ``python -m benchmarks.server`` with the same environment as ``headwater serve``
(``DATABASE_URL``, ``HEADWATER_PORT``, ``HEADWATER_LOG_LEVEL``). ``HEADWATER_BENCH_AUDIT=off``
makes ``app.audit.service.record`` do nothing, so that ``benchmarks.audit`` can measure what
the audit log costs; the service itself has no such switch.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import uvicorn
from fastapi import Body, FastAPI, Response

from app import migrate
from app.config import get_settings
from app.logs import configure
from app.main import create_app


def bench_app(*, run_migrations: bool = True) -> FastAPI:
    if os.environ.get("HEADWATER_BENCH_AUDIT") == "off":
        from app.audit import service as audit

        audit.record = lambda *args, **kwargs: None  # type: ignore[assignment]
    settings = get_settings()
    app = create_app(settings=settings, run_migrations=run_migrations)

    @app.post("/bench/discard", status_code=204, include_in_schema=False)
    def discard(event: Annotated[dict[str, Any], Body()]) -> Response:
        return Response(status_code=204)

    return app


def worker_app() -> FastAPI:
    """One of HEADWATER_WORKERS processes (the database already migrated)."""
    configure(get_settings().log_level)
    return bench_app(run_migrations=False)


def main() -> None:
    # the same steps and uvicorn options as app.cli.serve
    settings = get_settings()
    configure(settings.log_level)
    if settings.workers > 1:
        assert settings.database_url is not None, "benchmarks run against DATABASE_URL"
        migrate.upgrade(settings.database_url)
        uvicorn.run(
            "benchmarks.server:worker_app",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        return
    uvicorn.run(
        bench_app(),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
