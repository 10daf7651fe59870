"""SQL for the audit log."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry, AuditHead

# Serialises sealers across processes; writers never take it.
AUDIT_SEAL_LOCK = 0x4155444954  # "AUDIT"


def add(session: Session, entry: AuditEntry) -> None:
    session.add(entry)


def seal_lock(session: Session, *, wait: bool) -> bool:
    """The one sealer's lock, until the transaction ends; without ``wait``, False at once when
    another sealer holds it."""
    if wait:
        session.execute(select(func.pg_advisory_xact_lock(AUDIT_SEAL_LOCK)))
        return True
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(AUDIT_SEAL_LOCK))))


def head(session: Session, *, for_update: bool = False) -> AuditHead | None:
    query = select(AuditHead).where(AuditHead.id == 1)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def unsealed(session: Session, limit: int) -> Sequence[AuditEntry]:
    return session.scalars(
        select(AuditEntry)
        .where(AuditEntry.sequence.is_(None))
        .order_by(AuditEntry.recorded_at, AuditEntry.id)
        .limit(limit)
    ).all()


def seal(session: Session, chained: list[dict[str, object]], last: tuple[int, str]) -> None:
    session.execute(update(AuditEntry), chained)
    current = head(session)
    if current is None:
        session.add(AuditHead(id=1, sequence=last[0], hash=last[1]))
    else:
        current.sequence, current.hash = last
    session.flush()


def stream_sealed(session: Session) -> Iterator[AuditEntry]:
    yield from session.scalars(
        select(AuditEntry)
        .where(AuditEntry.sequence.is_not(None))
        .order_by(AuditEntry.sequence)
        .execution_options(yield_per=2000)
    )


def stream_pending(session: Session) -> Iterator[AuditEntry]:
    yield from session.scalars(
        select(AuditEntry)
        .where(AuditEntry.sequence.is_(None))
        .order_by(AuditEntry.recorded_at, AuditEntry.id)
        .execution_options(yield_per=2000)
    )


def sequence_of(session: Session, hash_: str) -> int | None:
    return session.scalar(select(AuditEntry.sequence).where(AuditEntry.hash == hash_).limit(1))


def page(
    session: Session,
    *,
    after: int | None,
    since: datetime | None,
    actor: str | None,
    limit: int,
) -> Sequence[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.sequence.is_not(None))
    if after is not None:
        query = query.where(AuditEntry.sequence > after)
    if since is not None:
        query = query.where(AuditEntry.recorded_at >= since)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    return session.scalars(query.order_by(AuditEntry.sequence).limit(limit)).all()
