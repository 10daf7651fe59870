"""Creating, listing and revoking tokens, and turning a bearer token into a principal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth import repository
from app.auth.core import Principal, new_secret, same_hash, secret_hash
from app.auth.models import Token
from app.auth.schemas import TokenCreate, TokenRead
from app.errors import Conflict, NotFound, Unauthenticated
from app.pagination import Page, PageRequest

LAST_USED_EVERY = timedelta(seconds=repository.LAST_USED_RESOLUTION_S)


def create(session: Session, body: TokenCreate, *, actor: str) -> tuple[Token, str]:
    """A new token and its secret, which is returned this once and never stored."""
    if repository.by_name(session, body.name) is not None:
        raise Conflict(f"A token is already named {body.name!r}; names are unique.")
    secret = new_secret()
    expires_at = (
        datetime.now(UTC) + timedelta(days=body.expires_in_days)
        if body.expires_in_days is not None
        else None
    )
    token = repository.add(
        session,
        Token(
            name=body.name,
            secret_hash=secret_hash(secret),
            scopes=sorted(set(body.scopes)),
            namespaces=list(dict.fromkeys(body.namespaces)),
            created_by=actor,
            expires_at=expires_at,
        ),
    )
    audit.record(
        session,
        actor,
        "token.create",
        {
            "name": token.name,
            "scopes": token.scopes,
            "namespaces": token.namespaces,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, secret


def listing(session: Session, requested: PageRequest) -> Page[TokenRead]:
    """Tokens by name, from just after the one the cursor names."""
    return requested.by_name(
        lambda after, n: repository.page(session, after, n),
        lambda rows: [TokenRead.model_validate(t) for t in rows],
    )


def revoke(session: Session, name: str, *, actor: str) -> Token:
    token = repository.by_name(session, name)
    if token is None:
        raise NotFound(f"No token is named {name!r}.", missing={"token": name})
    if token.revoked_at is None:
        repository.revoke(session, token, datetime.now(UTC))
        audit.record(session, actor, "token.revoke", {"name": name})
    return token


def valid_token(session: Session, secret: str) -> Token:
    """The token a bearer secret names, or ``Unauthenticated`` saying why not."""
    digest = secret_hash(secret)
    token = repository.by_hash(session, digest)
    if token is None or not same_hash(token.secret_hash, digest):
        raise Unauthenticated("The bearer token is not one this service issued.")
    if token.revoked_at is not None:
        raise Unauthenticated(f"The token {token.name!r} was revoked.")
    if token.expires_at is not None and token.expires_at <= datetime.now(UTC):
        raise Unauthenticated(
            f"The token {token.name!r} expired at {token.expires_at.isoformat()}."
        )
    return token


def principal_of(token: Token) -> Principal:
    return Principal(token.name, frozenset(token.scopes), tuple(token.namespaces))


def principal_for(session: Session, secret: str) -> Principal:
    """The principal a bearer token stands for, or ``Unauthenticated`` saying why not.

    The web pages call this too, so every way in shares one notion of a valid token."""
    return principal_of(valid_token(session, secret))


def last_use_due(token: Token) -> bool:
    """Whether the token's ``last_used_at`` is older than its resolution (a minute)."""
    return token.last_used_at is None or token.last_used_at < datetime.now(UTC) - LAST_USED_EVERY


def record_use(session: Session, token_id: uuid.UUID) -> None:
    repository.touch(session, token_id)
