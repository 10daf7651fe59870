"""artifacts remember the origin they were first declared with

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 01:00:00

A pipeline that re-declares a dataset version's original origin after someone corrected it is
re-posting what it always declared, not conflicting with the record. Rows recorded before this
migration take their current origin as the declared one: earlier declarations were not kept.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "artifacts", sa.Column("declared_origin", postgresql.JSONB(astext_type=sa.Text()))
    )
    op.execute(
        """
        UPDATE artifacts SET declared_origin = jsonb_build_object(
            'origin_human', origin_human,
            'origin_synthetic', origin_synthetic,
            'origin_unknown', origin_unknown,
            'origin_synthetic_depth', origin_synthetic_depth,
            'origin_digital_source_type', origin_digital_source_type
        )
        WHERE kind = 'dataset'
        """
    )


def downgrade() -> None:
    op.drop_column("artifacts", "declared_origin")
