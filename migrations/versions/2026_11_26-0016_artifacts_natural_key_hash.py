"""artifacts carry the hash of their natural key, indexed

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 16:30:00

The gate finds up to 100,000 dataset versions by (namespace, name, version): a probe of the
unique index on four text columns compares them with the database's collation (libc's, slower
than memcmp) at every level of the tree. A probe of an int8 index on the key's hash, the text
columns then checked for equality on the one row found, costs less. A stored generated column:
every writer (the ORM, the set-based inserts, COPY) has it without knowing of it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as the migration wrote it, not as the model may say it later
NATURAL_KEY_HASH = (
    "hashtextextended('artifact' || chr(31) || kind || chr(31) || namespace || chr(31) || name"
    " || chr(31) || version, 0)"
)


def upgrade() -> None:
    op.add_column(
        "artifacts",
        sa.Column(
            "natural_key_hash",
            sa.BigInteger(),
            sa.Computed(NATURAL_KEY_HASH, persisted=True),
            nullable=False,
        ),
    )
    op.create_index("ix_artifacts_natural_key_hash", "artifacts", ["natural_key_hash"])


def downgrade() -> None:
    op.drop_index("ix_artifacts_natural_key_hash", table_name="artifacts")
    op.drop_column("artifacts", "natural_key_hash")
