"""index human-origin sources

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 15:05:57.462393
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_artifacts_human_sources",
        "artifacts",
        [sa.literal_column("size DESC"), sa.literal_column("created_at DESC")],
        unique=False,
        postgresql_where=sa.text("kind = 'dataset' AND human_fraction >= 0.999999999"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_artifacts_human_sources",
        table_name="artifacts",
        postgresql_where=sa.text("kind = 'dataset' AND human_fraction >= 0.999999999"),
    )
