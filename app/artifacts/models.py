from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    Double,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

# A dataset version at least this human counts as a human-origin source.
HUMAN_SOURCE_MIN = 0.999999999

# The hash of a version's natural key, the text ``app.db.scope_text`` makes of it (so it is also
# the advisory lock key a writer of that key takes): one int8 to probe where the unique index
# compares four text columns under the database's collation.
NATURAL_KEY_HASH = (
    "hashtextextended('artifact' || chr(31) || kind || chr(31) || namespace || chr(31) || name"
    " || chr(31) || version, 0)"
)


class Artifact(Base):
    """An immutable artifact version — a dataset version or a model version — and its composition.

    The composition columns are derived state, maintained by the propagation engine; everything
    else is what a pipeline declared.
    """

    __tablename__ = "artifacts"
    __table_args__ = (
        UniqueConstraint("kind", "namespace", "name", "version"),
        CheckConstraint("kind IN ('dataset', 'model')", name="kind"),
        CheckConstraint("size IS NULL OR size >= 0", name="size_non_negative"),
        CheckConstraint(
            "origin_human IS NULL OR origin_human BETWEEN 0 AND 1", name="origin_human_fraction"
        ),
        CheckConstraint(
            "origin_synthetic IS NULL OR origin_synthetic BETWEEN 0 AND 1",
            name="origin_synthetic_fraction",
        ),
        CheckConstraint(
            "origin_unknown IS NULL OR origin_unknown BETWEEN 0 AND 1",
            name="origin_unknown_fraction",
        ),
        CheckConstraint(
            "origin_synthetic_depth IS NULL OR origin_synthetic_depth >= 1",
            name="origin_synthetic_depth",
        ),
        CheckConstraint(
            "(origin_human IS NULL) = (origin_synthetic IS NULL)"
            " AND (origin_human IS NULL) = (origin_unknown IS NULL)",
            name="origin_complete",
        ),
        CheckConstraint("kind = 'dataset' OR origin_human IS NULL", name="origin_on_datasets"),
        CheckConstraint("total_amount IS NULL OR total_amount >= 0", name="total_non_negative"),
        Index("ix_artifacts_listing", "kind", "namespace", "name", "created_at", "id"),
        Index("ix_artifacts_created", "kind", "created_at", "id"),
        Index("ix_artifacts_natural_key_hash", "natural_key_hash"),
        # remediation's candidate sources: the largest all-human dataset versions. No index of
        # this table may read a column that a recomputed composition writes (only the flag
        # derived from one, which PostgreSQL compares by value): the job's UPDATEs after a
        # correction (tens of thousands of rows) are then heap-only (HOT) and write no index.
        Index(
            "ix_artifacts_human_sources",
            text("size DESC"),
            text("created_at DESC"),
            postgresql_where=text("kind = 'dataset' AND human_source"),
        ),
        # room in each page for a row's next version, which a HOT update needs
        {"postgresql_with": {"fillfactor": 80}},
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    namespace: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    # derived by the database, and read only by lookups of many keys at once (the gate's):
    # deferred, so that loading a version never fetches it
    natural_key_hash: Mapped[int] = mapped_column(
        BigInteger, Computed(NATURAL_KEY_HASH, persisted=True), deferred=True
    )
    size: Mapped[float | None] = mapped_column(Double)
    uri: Mapped[str | None] = mapped_column(Text)
    checksum: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    facets: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")

    origin_human: Mapped[float | None] = mapped_column(Double)
    origin_synthetic: Mapped[float | None] = mapped_column(Double)
    origin_unknown: Mapped[float | None] = mapped_column(Double)
    origin_synthetic_depth: Mapped[int | None] = mapped_column(Integer)
    origin_digital_source_type: Mapped[str | None] = mapped_column(Text)
    # The origin columns as the dataset version was first recorded with them (None values: no
    # origin declared). Corrections change the columns above, never this: re-declaring the
    # original origin is then recognised as a re-post, not as a conflicting one.
    declared_origin: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # who declared the origin (a token's name) and when: at registration or the last correction
    origin_declared_by: Mapped[str | None] = mapped_column(Text)
    origin_declared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    composition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # the same vector as packed doubles (core.packed), written with the JSON in the same
    # statement: what a reader mixing thousands of compositions at once takes instead of it
    # (required, so that a writer that forgets it fails at once; every test's graph check also
    # compares it with pack_composition(composition))
    composition_packed: Mapped[bytes] = mapped_column(LargeBinary)
    total_amount: Mapped[float | None] = mapped_column(Double)
    weights_assumed: Mapped[bool] = mapped_column(default=False, server_default="false")
    human_fraction: Mapped[float] = mapped_column(Double)
    synthetic_fraction: Mapped[float] = mapped_column(Double)
    unknown_fraction: Mapped[float] = mapped_column(Double)
    composition_stale: Mapped[bool] = mapped_column(default=False, server_default="false")
    # entirely human-made (what remediation's index is predicated on): derived by the database,
    # so that a composition's writer cannot forget it
    human_source: Mapped[bool] = mapped_column(
        Computed(f"human_fraction >= {HUMAN_SOURCE_MIN!r}", persisted=True)
    )

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    composition_updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
