"""training runs waiting to be re-judged, in order

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 01:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rejudge_queue",
        sa.Column("model_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("structural", sa.Boolean(), nullable=False),
        sa.Column(
            "enqueued_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["artifacts.id"],
            name=op.f("fk_rejudge_queue_model_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_rejudge_queue")),
    )
    op.create_index(op.f("ix_rejudge_queue_seq"), "rejudge_queue", ["seq"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rejudge_queue_seq"), table_name="rejudge_queue")
    op.drop_table("rejudge_queue")
