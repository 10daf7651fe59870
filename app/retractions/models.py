from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.lineage.models import EdgeColumns


class Retraction(Base):
    """Lineage declared wrong, and why: one edge, or a whole version with every edge it had.

    A retracted version stays recorded (its composition as it was when retracted) but leaves the
    live graph: nothing derives from it and it is never "the newest version". Its edges move to
    ``retracted_edges``, so every query over ``edges`` sees the graph without them.
    """

    __tablename__ = "retractions"
    __table_args__ = (
        UniqueConstraint("artifact_id"),
        Index("ix_retractions_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # set when a whole version is retracted; None for the retraction of one edge
    artifact_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("artifacts.id", ondelete="CASCADE")
    )
    reason: Mapped[str] = mapped_column(Text)
    retracted_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )


class RetractedEdge(EdgeColumns, Base):
    """An edge as it was recorded, kept readable after its retraction."""

    __tablename__ = "retracted_edges"
    __table_args__ = (
        UniqueConstraint("child_id", "parent_id", "relation"),
        Index("ix_retracted_edges_parent", "parent_id"),
        Index("ix_retracted_edges_retraction", "retraction_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    retraction_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("retractions.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
