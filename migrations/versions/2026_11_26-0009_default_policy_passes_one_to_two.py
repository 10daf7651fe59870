"""the default policy, next version: exactly 1:2 synthetic:real passes human_fraction

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 01:05:00

Bertrand et al. (ICLR 2024) find iterative retraining stable while synthetic:real stays at or
below 1:2, so a human share of exactly 2/3 passes (design section 4). The threshold sits a hair
below 2/3 so that a 1:2 mix passes whatever the last bit of its floating-point share. The new
version copies the newest default policy's rules and changes only that threshold; verdicts keep
naming the version that judged them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PASS_AT_LEAST = "0.6666666666"


def upgrade() -> None:
    op.execute(
        f"""
        INSERT INTO policies (id, name, version, description, rules)
        SELECT gen_random_uuid(), name, version + 1, description,
            jsonb_set(rules, '{{human_fraction,pass_at_least}}', '{PASS_AT_LEAST}'::jsonb)
        FROM policies
        WHERE name = 'default'
        ORDER BY version DESC
        LIMIT 1
        """
    )


def downgrade() -> None:
    op.execute(
        f"""
        DELETE FROM policies
        WHERE name = 'default'
          AND version = (SELECT max(version) FROM policies WHERE name = 'default')
          AND rules -> 'human_fraction' -> 'pass_at_least' = '{PASS_AT_LEAST}'::jsonb
        """
    )
