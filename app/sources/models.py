from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

SourceStatus = Literal["verified", "changed", "lost", "unchecked"]
Copy = Literal["original", "archive"]
# A checked source is one whose copy answered or was found gone; `unchecked` says nothing.
CHECKED_STATUSES = ("verified", "changed", "lost")


class SourceState(Base):
    """What was last found at a source's `uri` (or its preserved copy), and where that copy is.

    A dataset version that declares human data and a `uri` is a source whether or not it has a
    row here; the row appears when a preserved copy is named or a check is reported. Checks run
    where the storage credentials are (``headwater sources verify``), not in the service.
    """

    __tablename__ = "source_states"
    __table_args__ = (
        CheckConstraint("status IN ('verified', 'changed', 'lost', 'unchecked')", name="status"),
        CheckConstraint(
            "answered_by IS NULL OR answered_by IN ('original', 'archive')", name="answered_by"
        ),
        Index("ix_source_states_status", "status"),
    )

    artifact_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default="unchecked")
    reason: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(16))
    observed_checksum: Mapped[str | None] = mapped_column(Text)
    archive_uri: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
