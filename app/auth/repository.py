"""SQL for tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app.auth.models import Token

# last_used_at is written at most once a minute per token, and never waits for a row lock:
# a busy token must not turn every request into an UPDATE of one hot row.
LAST_USED_RESOLUTION_S = 60


def add(session: Session, token: Token) -> Token:
    session.add(token)
    session.flush()
    session.refresh(token)
    return token


def by_hash(session: Session, secret_hash: str) -> Token | None:
    return session.scalars(select(Token).where(Token.secret_hash == secret_hash)).one_or_none()


def by_name(session: Session, name: str) -> Token | None:
    return session.scalars(select(Token).where(Token.name == name)).one_or_none()


def page(session: Session, after: str | None, limit: int) -> Sequence[Token]:
    query = select(Token).order_by(Token.name).limit(limit)
    if after is not None:
        query = query.where(Token.name > after)
    return session.scalars(query).all()


def revoke(session: Session, token: Token, at: datetime) -> None:
    session.execute(update(Token).where(Token.id == token.id).values(revoked_at=at))
    session.refresh(token)


def touch(session: Session, token_id: uuid.UUID) -> None:
    session.execute(
        text(
            "UPDATE tokens SET last_used_at = clock_timestamp() WHERE id = ("
            " SELECT id FROM tokens WHERE id = :id AND (last_used_at IS NULL"
            f" OR last_used_at < clock_timestamp() - interval '{LAST_USED_RESOLUTION_S} seconds')"
            " FOR UPDATE SKIP LOCKED)"
        ),
        {"id": token_id},
    )
