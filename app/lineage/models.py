from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, get_args

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.composition.core import Relation
from app.db import Base

RELATIONS = get_args(Relation)  # in the order the CHECK constraint names them


class EdgeColumns:
    """What an edge records: the live edge and a retracted edge's kept copy hold the same."""

    child_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("artifacts.id", ondelete="CASCADE")
    )
    parent_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("artifacts.id", ondelete="CASCADE")
    )
    relation: Mapped[str] = mapped_column(String(32))
    amount: Mapped[float | None] = mapped_column(Double)
    # where an OpenLineage amount was read (``inputStatistics.rowCount``); None: posted natively
    amount_source: Mapped[str | None] = mapped_column(Text)

    def recorded(self) -> dict[str, Any]:
        """What this edge records, by column: a copy of it (a retracted edge's) or a row of a
        bulk insert carries each one."""
        return {name: getattr(self, name) for name in RECORDED}


# declared once, above: every annotation of EdgeColumns is a column
RECORDED = tuple(EdgeColumns.__annotations__)


class Edge(EdgeColumns, Base):
    """A derivation, child ← parent, with the amount of the parent that went into the child."""

    __tablename__ = "edges"
    __table_args__ = (
        UniqueConstraint("child_id", "parent_id", "relation"),
        CheckConstraint(
            "relation IN (" + ", ".join(f"'{r}'" for r in RELATIONS) + ")", name="relation"
        ),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_non_negative"),
        CheckConstraint("child_id <> parent_id", name="no_self_loop"),
        Index("ix_edges_parent", "parent_id"),
    )
    # read created_at back from the INSERT (RETURNING), so a new edge answers with it
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )


class LineageEvent(Base):
    """An accepted OpenLineage event, stored raw so lineage can be audited and replayed."""

    __tablename__ = "lineage_events"
    __table_args__ = (
        UniqueConstraint("fingerprint"),
        Index("ix_lineage_events_run", "run_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    fingerprint: Mapped[str] = mapped_column(String(64))
    event_kind: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str | None] = mapped_column(String(16))
    run_id: Mapped[str | None] = mapped_column(Text)
    job_namespace: Mapped[str | None] = mapped_column(Text)
    job_name: Mapped[str | None] = mapped_column(Text)
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    producer: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )


class Alias(Base):
    """Another identifier of the same dataset (OpenLineage's ``symlinks`` facet): a Hive table
    that Spark names by its location, say. Versions are recorded under the canonical identifier;
    an alias only leads to it."""

    __tablename__ = "aliases"
    __table_args__ = (
        CheckConstraint("kind IN ('dataset', 'model')", name="kind"),
        CheckConstraint(
            "(namespace, name) <> (canonical_namespace, canonical_name)", name="not_itself"
        ),
        Index("ix_aliases_canonical", "kind", "canonical_namespace", "canonical_name"),
    )

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    namespace: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    canonical_namespace: Mapped[str] = mapped_column(Text)
    canonical_name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
