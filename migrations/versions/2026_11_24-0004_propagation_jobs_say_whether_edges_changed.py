"""propagation jobs say whether edges changed

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 15:31:28.267542
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "propagation_jobs",
        sa.Column("structural", sa.Boolean(), server_default="true", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("propagation_jobs", "structural")
