"""edges say where an OpenLineage amount was read

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("edges", sa.Column("amount_source", sa.Text(), nullable=True))
    op.add_column("retracted_edges", sa.Column("amount_source", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("retracted_edges", "amount_source")
    op.drop_column("edges", "amount_source")
