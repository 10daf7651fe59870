"""the default policy asks that original human sources stay verified

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 00:45:00

A new version of the default policy: the latest version's rules as they stand, plus the
`sources_preserved` rule (design section 4). Built from the latest version rather than a copy
of it, so that versions written before this one keep their thresholds.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RULE = "sources_preserved"
THRESHOLDS: dict[str, Any] = {
    "pass_at_least": 0.9,
    "reference": "keeping access to the original human data is a remedy for model collapse: "
    "Shumailov et al., Nature 631 (2024)",
}
SENTENCE = (
    " It also asks that the original human sources stay within reach: most of the human data "
    "whose sources were checked must still verify."
)

policies = sa.table(
    "policies",
    sa.column("id", sa.UUID()),
    sa.column("name", sa.Text()),
    sa.column("version", sa.Integer()),
    sa.column("description", sa.Text()),
    sa.column("rules", postgresql.JSONB()),
)


def upgrade() -> None:
    latest = (
        op.get_bind()
        .execute(
            sa.select(policies.c.version, policies.c.description, policies.c.rules)
            .where(policies.c.name == "default")
            .order_by(policies.c.version.desc())
            .limit(1)
        )
        .first()
    )
    if latest is None or RULE in latest.rules:
        return
    description = latest.description or ""
    op.execute(
        policies.insert().values(
            id=sa.text("gen_random_uuid()"),
            name="default",
            version=latest.version + 1,
            description=description if SENTENCE.strip() in description else description + SENTENCE,
            rules={**latest.rules, RULE: THRESHOLDS},
        )
    )


def downgrade() -> None:
    # Only the version this migration wrote: the newest, if it is the first to have the rule.
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(policies.c.id, policies.c.rules)
        .where(policies.c.name == "default")
        .order_by(policies.c.version.desc())
        .limit(2)
    ).all()
    if rows and RULE in rows[0].rules and (len(rows) == 1 or RULE not in rows[1].rules):
        bind.execute(sa.delete(policies).where(policies.c.id == rows[0].id))
