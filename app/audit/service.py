"""The record of writes: append in the write's transaction, seal into a chain, verify it.

Writers only insert a row with its own content hash, so the audit log adds no lock that every
write must queue on. A sealer (one at a time, across every process) then numbers committed
entries and chains their hashes in the order it finds them. An acknowledged write is therefore
always in the log, and a rolled-back one never is; it joins the chain within a second.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.audit import chain, repository
from app.audit.models import AuditEntry
from app.audit.schemas import AuditEntryRead
from app.db import row_as
from app.pagination import Page, PageRequest, invalid_cursor, page

SEAL_BATCH = 5_000


def record(session: Session, actor: str, operation: str, content: Any) -> None:
    """Append one accepted write, in the caller's transaction."""
    text = chain.canonical(content)
    at = datetime.now(UTC)
    repository.add(
        session,
        AuditEntry(
            recorded_at=at,
            actor=actor,
            operation=operation,
            content=text,
            content_hash=chain.content_hash(at, actor, operation, text),
        ),
    )


def seal(session: Session, limit: int = SEAL_BATCH, *, wait: bool = False) -> int:
    """Chain the committed entries not sealed yet; how many (0 when another sealer is busy).
    With ``wait``, a busy sealer is waited for instead: once it has committed, this one seals
    what it left, so every entry committed before the call is sealed when it returns (each
    statement of a read-committed transaction sees what committed before it began)."""
    if not repository.seal_lock(session, wait=wait):
        return 0
    rows = repository.unsealed(session, limit)
    if not rows:
        return 0
    head = repository.head(session, for_update=True)
    sequence, previous = (head.sequence, head.hash) if head is not None else (0, chain.GENESIS)
    chained: list[dict[str, object]] = []
    for row in rows:
        sequence += 1
        digest = chain.link(previous, row.content_hash)
        chained.append(
            {"id": row.id, "sequence": sequence, "previous_hash": previous, "hash": digest}
        )
        previous = digest
    repository.seal(session, chained, (sequence, previous))
    for row in rows:
        session.expire(row)
    return len(rows)


def as_entry(row: AuditEntry) -> chain.Entry:
    return row_as(chain.Entry, row, id=str(row.id))


def verify(session: Session) -> chain.Verdict:
    """Recompute the whole chain from what is stored (run it in a snapshot transaction)."""
    head = repository.head(session)
    return chain.verify(
        (as_entry(row) for row in repository.stream_sealed(session)),
        (as_entry(row) for row in repository.stream_pending(session)),
        (head.sequence, head.hash) if head is not None else None,
        lambda hash_: repository.sequence_of(session, hash_),
    )


def after(cursor: str | None) -> int | None:
    """The sequence number a cursor of the audit log stands for (None: the first page)."""
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise invalid_cursor()
    return int(cursor)


def listing(
    session: Session, requested: PageRequest, *, since: datetime | None, actor: str | None
) -> Page[AuditEntryRead]:
    """One page of the sealed entries, oldest first; writes acknowledged a moment ago are
    sealed first, so they are listed too, not only those the sealer reached (if the background
    sealer is sealing them at that moment, the listing waits for it rather than miss them)."""
    seal(session, wait=True)
    start = after(requested.cursor)
    return page(
        lambda n: repository.page(session, after=start, since=since, actor=actor, limit=n),
        requested.limit,
        lambda rows: [AuditEntryRead.model_validate(row) for row in rows],
        lambda row: str(row.sequence),
    )
