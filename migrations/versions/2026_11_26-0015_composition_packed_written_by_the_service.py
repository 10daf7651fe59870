"""the packed composition is written by the service, no longer derived by the database

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 09:20:00

As a stored generated column, `artifacts.composition_packed` was recomputed by
`pack_composition` for every row a correction's job updated (10.9 s of UPDATEs instead of
6.3 s on the benchmark's 60,000 descendants). The service now packs each vector in Python as it
writes the JSON (`app.composition.core.packed`), in the same statement; `DROP EXPRESSION`
keeps every stored value, and `NOT NULL` keeps a writer that forgets it from storing a row the
gate cannot read. `pack_composition` stays, as the independent check that every stored packed
vector is its JSON's.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE artifacts ALTER COLUMN composition_packed DROP EXPRESSION")
    op.execute("ALTER TABLE artifacts ALTER COLUMN composition_packed SET NOT NULL")


def downgrade() -> None:
    # PostgreSQL 15 cannot make a plain column generated again: it is added anew
    op.execute(
        "ALTER TABLE artifacts DROP COLUMN composition_packed,"
        " ADD COLUMN composition_packed bytea"
        " GENERATED ALWAYS AS (pack_composition(composition)) STORED"
    )
