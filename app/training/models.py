from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

VERDICTS = "('pass', 'warn', 'fail')"


class TrainingRun(Base):
    """The activity that produced a model version: its training set, composition and verdict."""

    __tablename__ = "training_runs"
    __table_args__ = (
        UniqueConstraint("model_id"),
        CheckConstraint(f"verdict IS NULL OR verdict IN {VERDICTS}", name="verdict"),
        Index("ix_training_runs_verdict", "verdict", "created_at", "id"),
        Index("ix_training_runs_created", "created_at", "id"),
        Index("ix_training_runs_judged", "judged_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    model_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("artifacts.id", ondelete="CASCADE")
    )
    composition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    total_amount: Mapped[float | None] = mapped_column(Double)
    weights_assumed: Mapped[bool] = mapped_column(default=False, server_default="false")
    verdict: Mapped[str | None] = mapped_column(String(8))
    policy_name: Mapped[str | None] = mapped_column(Text)
    policy_version: Mapped[int | None] = mapped_column(Integer)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    remediation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    previous_generation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    judged_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )


class VerdictRecord(Base):
    """One entry of a training run's verdict history: the old verdict stays beside the new one."""

    __tablename__ = "training_run_verdicts"
    __table_args__ = (
        CheckConstraint(f"verdict IN {VERDICTS}", name="verdict"),
        Index("ix_training_run_verdicts_run", "training_run_id", "judged_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    training_run_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("training_runs.id", ondelete="CASCADE")
    )
    verdict: Mapped[str] = mapped_column(String(8))
    policy_name: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[int] = mapped_column(Integer)
    composition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    cause: Mapped[str] = mapped_column(Text)
    judged_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )


class RejudgeRequest(Base):
    """A training run waiting to be judged again after its lineage changed, in ``seq`` order
    (upstream before downstream: a run is judged against its previous generation's). Its
    verdict reads ``rejudging`` until a worker has judged it."""

    __tablename__ = "rejudge_queue"
    __table_args__ = (Index("ix_rejudge_queue_seq", "seq"),)

    model_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=False))
    cause: Mapped[str] = mapped_column(Text)
    structural: Mapped[bool] = mapped_column(Boolean)
    enqueued_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
