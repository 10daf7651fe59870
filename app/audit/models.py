from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, SmallInteger, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class AuditEntry(Base):
    """One accepted write. Inserted by the write's own transaction with the hash of its content;
    ``sequence``, ``previous_hash`` and ``hash`` are filled in by the sealer, which chains
    committed entries in the order it finds them (see ``app.audit.service.seal``)."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index(
            "ix_audit_entries_unsealed", "recorded_at", "id", postgresql_where="sequence IS NULL"
        ),
        Index("ix_audit_entries_actor", "actor", "sequence"),
        Index("ix_audit_entries_recorded", "recorded_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(Text)
    operation: Mapped[str] = mapped_column(Text)
    # canonical JSON text, hashed byte for byte (JSONB would re-render numbers and key order)
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The end of the sealed chain, so that removing the newest entries is noticed too."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    sequence: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
