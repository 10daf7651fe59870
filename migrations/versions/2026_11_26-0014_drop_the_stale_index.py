"""drop the partial index on stale compositions

Nothing reads it (a job finds its stale nodes by walking down from its roots), and while it
exists every flip of ``composition_stale`` (a large correction marks tens of thousands of rows
stale, then its job writes them current) must update every index of ``artifacts`` instead of
being a HOT update.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 06:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(
        "ix_artifacts_stale", table_name="artifacts", postgresql_where="composition_stale"
    )


def downgrade() -> None:
    op.create_index(
        "ix_artifacts_stale",
        "artifacts",
        ["id"],
        unique=False,
        postgresql_where="composition_stale",
    )
