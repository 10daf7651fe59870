"""The Headwater application: routers, problem+json errors, lifespan."""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import text

from app import migrate, web
from app.artifacts.router import router as artifacts_router
from app.audit.router import router as audit_router
from app.audit.sealer import AuditSealer
from app.auth import security
from app.auth.router import router as tokens_router
from app.composition.router import router as propagations_router
from app.config import Settings, get_settings
from app.db import Database
from app.embedded import EmbeddedPostgres
from app.errors import PROBLEM_RESPONSES, install_handlers, problem, unavailable
from app.group_commit import GroupCommit
from app.http import AccessLogMiddleware, InFlightLimitMiddleware, RequestBodyMiddleware
from app.lineage.router import router as lineage_router
from app.logs import configure
from app.metrics import router as metrics_router
from app.policies.router import router as policies_router
from app.problems import router as problems_router
from app.provenance.router import router as provenance_router
from app.retractions.router import router as retractions_router
from app.sources.router import router as sources_router
from app.training.gate_router import router as gate_router
from app.training.router import router as training_router
from app.worker import PropagationWorker

log = logging.getLogger("headwater")


def create_app(
    database_url: str | None = None,
    *,
    settings: Settings | None = None,
    run_migrations: bool = False,
    run_worker: bool = True,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        embedded: EmbeddedPostgres | None = None
        url = database_url or settings.database_url
        if url is None:
            embedded = EmbeddedPostgres(settings.data_dir)
            url = embedded.start()
        if run_migrations:
            migrate.upgrade(url)
        database = Database.connect(
            url,
            pool_timeout=settings.db_pool_timeout,
            connect_timeout=settings.db_connect_timeout,
        )
        app.state.database = database
        group_commit = GroupCommit(database.transaction, settings.group_commit_max_events)
        app.state.group_commit = group_commit
        worker = PropagationWorker(database) if run_worker else None
        if worker is not None:
            worker.start()
        sealer = AuditSealer(database) if run_worker else None
        if sealer is not None:
            sealer.start()
        # Everything loaded so far lives as long as the process: out of the collector's sight,
        # a request that allocates much (a gate over thousands of compositions) no longer
        # pays for full collections that walk every module, class and schema.
        gc.freeze()
        log.info("headwater ready", extra={"embedded": embedded is not None})
        try:
            yield
        finally:
            # the events still waiting are committed and answered before the pool goes
            await group_commit.close()
            if worker is not None:
                worker.stop()
            if sealer is not None:
                sealer.stop()
            database.dispose()
            if embedded is not None:
                embedded.stop()

    # Swagger UI and ReDoc from assets the fastapi-offline package ships: /docs works offline
    app = FastAPIOffline(
        static_url="/docs/assets",
        title="Headwater",
        version="0.2.0",
        summary="How human, how synthetic, and how many model generations deep your data is.",
        lifespan=lifespan,
    )
    install_handlers(app)
    security.install(app, settings)
    app.add_middleware(RequestBodyMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(InFlightLimitMiddleware, limit=settings.max_in_flight)
    app.add_middleware(AccessLogMiddleware)
    app.include_router(artifacts_router, tags=["artifacts"])
    app.include_router(lineage_router)
    app.include_router(policies_router, tags=["policies"])
    app.include_router(gate_router, tags=["policies"])
    app.include_router(training_router)
    app.include_router(propagations_router)
    app.include_router(problems_router)
    app.include_router(metrics_router)
    app.include_router(tokens_router)
    app.include_router(audit_router)
    app.include_router(retractions_router)
    app.include_router(provenance_router)
    app.include_router(sources_router)
    web.install(app)  # pages for people, outside /api/v1

    @app.get("/healthz", tags=["health"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="The database is reachable and migrated",
        responses={503: PROBLEM_RESPONSES[503]},
    )
    def readyz(request: Request) -> JSONResponse:
        database: Database = request.app.state.database
        try:
            with database.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current = migrate.current_revision(database.engine)
        except Exception as exc:
            log.warning("readiness check failed", extra={"error": repr(exc)})
            return unavailable("The database is unreachable.")
        head = migrate.head_revision()
        if current != head:
            return problem(
                503,
                "Not ready",
                f"The database is at migration {current}, not {head}; run `headwater migrate`.",
                "not-ready",
            )
        return JSONResponse({"status": "ready", "migration": current})

    return app


def from_environment() -> FastAPI:
    """The app of one of several worker processes (``HEADWATER_WORKERS``): settings from the
    environment, the database already migrated by the process that started them."""
    stop_with_supervisor()
    settings = get_settings()
    configure(settings.log_level)
    return create_app(settings=settings)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def stop_with_supervisor() -> None:
    """In a worker process the supervisor spawned: be sent SIGTERM (a clean stop) when the
    supervisor dies, so that a supervisor killed or crashed does not leave its workers serving
    on its port with nobody to stop them. On Linux; elsewhere workers outlive it as before."""
    supervisor = multiprocessing.parent_process()
    if supervisor is None or not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor.pid:  # it died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)
