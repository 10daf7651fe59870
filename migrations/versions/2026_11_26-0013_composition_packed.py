"""each composition also as packed doubles, derived by the database from the JSON

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 06:40:00

`artifacts.composition_packed` is a stored generated column: the unknown mass, then depth and
mass of each bucket, as big-endian doubles (`float8send`), in the JSON's order. A reader that
mixes many compositions at once (the gate) takes it as one byte string per version instead of
parsing a JSON document into lists; the writers keep writing the JSON only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PACK = """
CREATE FUNCTION pack_composition(composition jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT float8send((composition ->> 'u')::float8)
        || coalesce(
            string_agg(
                float8send((bucket ->> 0)::float8) || float8send((bucket ->> 1)::float8),
                ''::bytea ORDER BY position
            ),
            ''::bytea
        )
    FROM jsonb_array_elements(composition -> 'b') WITH ORDINALITY AS b(bucket, position)
$$
"""


def upgrade() -> None:
    op.execute(PACK)
    op.add_column(
        "artifacts",
        sa.Column(
            "composition_packed",
            sa.LargeBinary(),
            sa.Computed("pack_composition(composition)", persisted=True),
            nullable=True,
        ),
    )


def downgrade() -> None:
    op.drop_column("artifacts", "composition_packed")
    op.execute("DROP FUNCTION pack_composition(jsonb)")
