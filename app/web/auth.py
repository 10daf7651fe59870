"""Who is looking at the pages: the token a person signs in with, kept for the browser session.

The pages are plain navigations (links and GET forms), which cannot carry an
``Authorization`` header, so a token lives in a cookie: ``HttpOnly`` (page scripts cannot read
it), ``SameSite=Strict`` (no other site's page can make the browser send it) and without
``Max-Age``/``Expires`` (the browser forgets it when the session ends). Only the pages read it;
the API under ``/api/v1`` keeps to bearer tokens.

``get_verifier`` is the single point where the service's token check plugs in. While the
service has no authentication, everyone is an anonymous reader and the sign-in form never shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.auth import service as auth_service
from app.auth.security import count_failure, refuse_while_throttled
from app.db import SessionDep
from app.errors import Unauthenticated

COOKIE = "headwater_token"

ALL_SCOPES = frozenset({"read", "write", "gate", "policy", "admin"})


@dataclass(frozen=True)
class Principal:
    """Who a request acts for, and what it may do."""

    name: str | None
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


ANONYMOUS = Principal(name=None, scopes=ALL_SCOPES)


class TokenRequired(Exception):
    """Authentication is on and the request carries no token."""


class TokenRejected(Exception):
    """The token is unknown, expired or revoked."""


class ScopeMissing(Exception):
    def __init__(self, scope: str) -> None:
        super().__init__(f"This page needs a token with the `{scope}` scope.")
        self.scope = scope


Verifier = Callable[[Request, str | None], Principal]


def open_access(request: Request, token: str | None) -> Principal:
    """Authentication is off: every request, with a token or without, is an anonymous reader."""
    return ANONYMOUS


def get_verifier(request: Request, session: SessionDep) -> Verifier:
    """The token check; a dependency, so that a test can swap it. With authentication on it is
    the API's own (``app.auth``): the same tokens, scopes, expiry, revocation and limit on
    failed attempts."""
    if request.app.state.auth_mode == "off":
        return open_access

    def with_service_tokens(request: Request, token: str | None) -> Principal:
        if token is None:
            raise TokenRequired
        refuse_while_throttled(request, "sign-ins")
        try:
            found = auth_service.principal_for(session, token)
        except Unauthenticated as exc:
            count_failure(request)
            raise TokenRejected from exc
        return Principal(found.name, found.scopes)

    return with_service_tokens


def principal(request: Request, verify: Annotated[Verifier, Depends(get_verifier)]) -> Principal:
    """The person behind a page request; raises TokenRequired or TokenRejected."""
    return verify(request, request.cookies.get(COOKIE) or None)


def requires(scope: str) -> Callable[[Principal], Principal]:
    def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.may(scope):
            raise ScopeMissing(scope)
        return who

    return check
