"""what was last found at each original human source

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "source_states",
        sa.Column("artifact_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=16), nullable=True),
        sa.Column("observed_checksum", sa.Text(), nullable=True),
        sa.Column("archive_uri", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('verified', 'changed', 'lost', 'unchecked')",
            name=op.f("ck_source_states_status"),
        ),
        sa.CheckConstraint(
            "answered_by IS NULL OR answered_by IN ('original', 'archive')",
            name=op.f("ck_source_states_answered_by"),
        ),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_source_states_artifact_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("artifact_id", name=op.f("pk_source_states")),
    )
    op.create_index("ix_source_states_status", "source_states", ["status"])


def downgrade() -> None:
    op.drop_index("ix_source_states_status", table_name="source_states")
    op.drop_table("source_states")
