"""Authentication and scopes for every /api/v1 endpoint, enforced here and nowhere else.

An endpoint declares its scope with ``requires(scope)`` (or takes a ``Principal`` typed as
``Writer``, ``Admin``…); the scope shows in the OpenAPI document as a requirement of the
``bearer`` security scheme. Off (``HEADWATER_AUTH=off``, loopback only) every request acts as
``anonymous`` with every scope.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
import uuid
from collections import OrderedDict, deque
from typing import Annotated, Any, Literal

from fastapi import BackgroundTasks, Depends, FastAPI, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import service
from app.auth.core import NOBODY_IN_PARTICULAR, SCOPE_MEANINGS, Principal, Scope
from app.config import Settings
from app.db import Database, SessionDep
from app.errors import Forbidden, TooManyFailures, Unauthenticated

AuthMode = Literal["required", "off"]

log = logging.getLogger("headwater.auth")

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="`Authorization: Bearer <token>`; create one with `headwater tokens create`."
    " Scopes: " + "; ".join(f"`{k}`: {v}" for k, v in SCOPE_MEANINGS.items()) + ".",
)


class AuthMisconfigured(ValueError):
    """Authentication is off on an address other machines can reach."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def auth_mode(settings: Settings) -> AuthMode:
    """``HEADWATER_AUTH``, defaulting to off on a loopback address and required elsewhere."""
    loopback = is_loopback(settings.host)
    if settings.auth is None:
        return "off" if loopback else "required"
    if settings.auth == "off" and not loopback:
        raise AuthMisconfigured(
            f"HEADWATER_AUTH=off, but the service would listen on {settings.host}, which other"
            " machines can reach: a provenance service that anyone on the network can rewrite is"
            " worth nothing. Listen on 127.0.0.1, or set HEADWATER_AUTH=required and create a"
            " token with `headwater tokens create --name NAME --scope admin`."
        )
    return settings.auth


class FailureLimiter:
    """Failed authentications per client address in a sliding window; past the limit the
    client is refused (429) until its oldest failure leaves the window. Per process: with N
    workers a guesser gets at most N times the limit, still hopeless against 256-bit secrets."""

    def __init__(self, max_failures: int, window_seconds: float, max_clients: int = 10_000):
        self.max_failures = max_failures
        self.window = window_seconds
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
        return failures

    def retry_after(self, client: str) -> int | None:
        """Seconds until the client may try again, or None if it may now."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent(client, now)
            if len(failures) < self.max_failures:
                return None
            return max(1, math.ceil(failures[-self.max_failures] + self.window - now))

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            failures = self._failures.setdefault(client, deque())
            failures.append(now)
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)


def install(app: FastAPI, settings: Settings) -> None:
    """Decide the mode once, at start (refusing a reachable service without authentication)."""
    app.state.auth_mode = auth_mode(settings)
    app.state.auth_failures = FailureLimiter(settings.auth_max_failures, 60.0)


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def record_use(database: Database, token_id: uuid.UUID) -> None:
    """After the response, in a transaction of its own: the request's transaction may be long
    (a correction), and must not hold the token's row meanwhile (a revocation would wait)."""
    try:
        with database.sessions() as session, session.begin():
            service.record_use(session, token_id)
    except Exception:
        log.warning("could not record a token's last use", exc_info=True)


def refuse_while_throttled(request: Request, attempts: str) -> None:
    """A client whose ``attempts`` (with a token) failed too often lately must wait (429)."""
    limiter: FailureLimiter = request.app.state.auth_failures
    wait = limiter.retry_after(client_address(request))
    if wait is not None:
        raise TooManyFailures(
            f"Too many failed {attempts} from this client; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


def count_failure(request: Request) -> None:
    limiter: FailureLimiter = request.app.state.auth_failures
    limiter.failed(client_address(request))


def token_principal(session: Session, secret: str) -> tuple[Principal, uuid.UUID, bool]:
    """The principal a bearer secret stands for, its token's id, and whether the token's last
    use is due to be recorded; or ``Unauthenticated``."""
    token = service.valid_token(session, secret)
    return service.principal_of(token), token.id, service.last_use_due(token)


async def authorise(
    request: Request,
    security_scopes: SecurityScopes,
    session: SessionDep,
    background: BackgroundTasks,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, if its token is valid and has every scope the endpoint declares: the first
    step of every write (authorise, record, propagate, re-judge, audit) and of every read.

    Async: with authentication off, or without a token, the answer needs no hop to a worker
    thread; only the token's lookup (a query) runs in one."""
    if request.app.state.auth_mode == "off":
        return NOBODY_IN_PARTICULAR
    refuse_while_throttled(request, "authentications")
    if credentials is None:
        raise Unauthenticated(
            "This endpoint needs `Authorization: Bearer <token>`;"
            " create a token with `headwater tokens create`."
        )
    try:
        principal, token_id, use_due = await run_in_threadpool(
            token_principal, session, credentials.credentials
        )
    except Unauthenticated:
        count_failure(request)
        raise
    if use_due:
        background.add_task(record_use, request.app.state.database, token_id)
    for scope in security_scopes.scopes:
        if not principal.has(scope):
            raise Forbidden(
                f"The token {principal.name!r} lacks the scope {scope!r}.",
                missing={"scope": scope},
            )
    return principal


def requires(scope: Scope) -> Any:
    """The dependency an endpoint declares its scope with."""
    return Security(authorise, scopes=[scope])


Reader = Annotated[Principal, requires("read")]
Writer = Annotated[Principal, requires("write")]
Gatekeeper = Annotated[Principal, requires("gate")]
PolicyAuthor = Annotated[Principal, requires("policy")]
Admin = Annotated[Principal, requires("admin")]
