"""Domain errors that carry their HTTP status, rendered as RFC 9457 problem documents."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import db

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/api/v1/problems/"


class Problem(BaseModel):
    """An RFC 9457 problem document, as every error answers."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For invalid requests: each field, where and why."
    )


_PROBLEM_SCHEMA = Problem.model_json_schema()


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("A malformed request: invalid gzip, or a cursor of another list"),
    404: _problem_response("A referenced resource is not recorded; `missing` names it"),
    409: _problem_response("A conflict with what is recorded (`differences`, or a cycle's `path`)"),
    413: _problem_response("The body is over HEADWATER_MAX_BODY_BYTES"),
    415: _problem_response("The body is not sent as application/json"),
    401: _problem_response("No token, or one that is unknown, expired or revoked"),
    403: _problem_response("The token lacks the scope or the namespace that `missing` names"),
    429: _problem_response("Too many failed authentications from this client; see Retry-After"),
    422: _problem_response("The request is not valid; `errors` lists each field"),
    503: {
        **_problem_response("The database is unreachable or busy; retry after `Retry-After`"),
        "headers": {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        },
    },
}

# Seconds a client should wait before retrying when the database is unreachable or busy.
RETRY_AFTER_SECONDS = 2


class ProblemError(Exception):
    """An error a client can act on. Each kind is declared by its class line: the HTTP status
    (else its base's), the slug that names its problem type, its title, and any headers."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"
    headers: dict[str, str] = {}  # noqa: RUF012 - read-only defaults; instances override

    def __init_subclass__(
        cls,
        *,
        slug: str,
        title: str,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.slug, cls.title = slug, title
        if status is not None:
            cls.status = status
        if headers is not None:
            cls.headers = headers

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any):
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        if headers is not None:
            self.headers = headers


class NotFound(ProblemError, status=404, slug="not-found", title="Not found"):
    """A referenced resource is not recorded; ``missing`` names it."""


class Conflict(ProblemError, status=409, slug="conflict", title="Conflict"):
    """What was sent disagrees with what is recorded."""


class CycleRefused(Conflict, slug="cycle", title="Edge would close a cycle"):
    """The edge would make a version its own ancestor; ``path`` is the cycle."""


class Unauthenticated(
    ProblemError,
    status=401,
    slug="unauthenticated",
    title="Unauthenticated",
    headers={"WWW-Authenticate": "Bearer"},
):
    """No token, or one that is unknown, expired or revoked."""


class Forbidden(ProblemError, status=403, slug="forbidden", title="Forbidden"):
    """The token is valid but lacks a scope or a namespace; ``missing`` names which."""


class TooManyFailures(
    ProblemError, status=429, slug="too-many-failures", title="Too many failed authentications"
):
    """Too many failed authentications from one client; ``Retry-After`` says for how long."""


class InvalidInput(ProblemError, status=422, slug="invalid-input", title="Invalid input"):
    """The request is well formed but says something that cannot be; ``errors`` says where."""

    @classmethod
    def at(cls, loc: str, msg: str, detail: str) -> InvalidInput:
        """A 422 about one field: ``loc`` says where (``body.parents.0``), ``msg`` what is
        wrong there, ``detail`` the whole sentence."""
        return cls(detail, errors=[{"loc": loc, "msg": msg, "type": "value_error"}])


class PayloadTooLarge(
    ProblemError, status=413, slug="payload-too-large", title="Payload too large"
):
    """A request too large to take (the body limit answers this type from app.http)."""


class TooManyEdges(PayloadTooLarge, slug="too-many-edges", title="Too many edges for one request"):
    """One request would record more edges than the limit allows."""


def problem(
    status: int,
    title: str,
    detail: str,
    slug: str,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def unavailable(detail: str) -> JSONResponse:
    return problem(
        503,
        "Service unavailable",
        f"{detail} Retry shortly.",
        "unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    return [
        {"loc": _location(tuple(e.get("loc", ()))), "msg": e.get("msg", ""), "type": e.get("type")}
        for e in errors
    ]


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem(
            exc.status, exc.title, exc.detail, exc.slug, headers=exc.headers, **exc.extensions
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc.errors())
        fields = ", ".join(sorted({e["loc"] for e in errors})) or "the request"
        return problem(
            422,
            "Invalid request",
            f"The request is not valid: check {fields}.",
            "validation",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {
            400: "Bad request",
            404: "Not found",
            405: "Method not allowed",
            413: "Payload too large",
        }
        title = titles.get(exc.status_code, "HTTP error")
        return problem(
            exc.status_code,
            title,
            str(exc.detail),
            title.lower().replace(" ", "-"),
        )

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # SQLSTATE class 22: the value itself cannot be stored (a NUL character in text, a
        # number out of range); the request carried it, so it is the client's to fix
        code = getattr(exc.orig, "sqlstate", None)
        detail = (
            "The request contains text PostgreSQL cannot store (a NUL character)."
            if code in ("22021", "22P05")
            else "The request contains a value PostgreSQL cannot store."
        )
        return problem(422, "Invalid request", detail, "unstorable-value", sqlstate=code)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeout)
    async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        # nothing was committed, and a retry can succeed: the pool replaces connections the
        # server closed (db.discard_if_closed_by_server) and, after a broken one, every older
        # one, so recovery needs no restart
        if isinstance(exc, PoolTimeout):
            return unavailable("Every database connection is busy; nothing was written.")
        error = str(exc).splitlines()[0] if str(exc) else ""
        if db.unavailable(exc):
            # the connection failed or broke: the server is down, restarting or refusing
            logging.getLogger("headwater").warning("database unavailable", extra={"error": error})
            return unavailable("The database is unreachable or restarting; nothing was written.")
        # the transaction lost a conflict past every retry, or ran out of time
        logging.getLogger("headwater").warning("transaction abandoned", extra={"error": error})
        return unavailable("The database abandoned the transaction; nothing was written.")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logging.getLogger("headwater").exception("unhandled error", exc_info=exc)
        return problem(500, "Internal error", "The service failed; it has been logged.", "internal")
