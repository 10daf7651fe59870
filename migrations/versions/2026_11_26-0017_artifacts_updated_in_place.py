"""recomputed compositions can be written as HOT updates

A correction's job rewrites the composition columns of every descendant (55,000 rows on the
benchmark). `ix_artifacts_human_sources` was predicated on `human_fraction`, so every row whose
fraction moved at all (from 0.3 to 0.2 as much as from 1 to 0.9) could not be updated HOT: its
new version went into every index of `artifacts`. The index is now predicated on
`human_source`, a flag the database derives from `human_fraction`: PostgreSQL compares an
indexed column's old and new values, so only a row that becomes or stops being all human
updates the indexes. A fillfactor below 100 leaves room in each page for a row's next version,
which a HOT update needs (pages written before keep none until their rows move).

Adding a stored generated column rewrites the table once, under an exclusive lock.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALL_HUMAN = "human_fraction >= 0.999999999"
ORDER = [sa.literal_column("size DESC"), sa.literal_column("created_at DESC")]


def upgrade() -> None:
    op.drop_index(
        "ix_artifacts_human_sources",
        table_name="artifacts",
        postgresql_where=sa.text(f"kind = 'dataset' AND {ALL_HUMAN}"),
    )
    op.add_column(
        "artifacts",
        sa.Column(
            "human_source", sa.Boolean(), sa.Computed(ALL_HUMAN, persisted=True), nullable=False
        ),
    )
    op.create_index(
        "ix_artifacts_human_sources",
        "artifacts",
        ORDER,
        unique=False,
        postgresql_where=sa.text("kind = 'dataset' AND human_source"),
    )
    op.execute("ALTER TABLE artifacts SET (fillfactor = 80)")


def downgrade() -> None:
    op.execute("ALTER TABLE artifacts RESET (fillfactor)")
    op.drop_index(
        "ix_artifacts_human_sources",
        table_name="artifacts",
        postgresql_where=sa.text("kind = 'dataset' AND human_source"),
    )
    op.drop_column("artifacts", "human_source")
    op.create_index(
        "ix_artifacts_human_sources",
        "artifacts",
        ORDER,
        unique=False,
        postgresql_where=sa.text(f"kind = 'dataset' AND {ALL_HUMAN}"),
    )
