"""the default collapse-risk policy, version 1

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 14:20:00

The policy is data: later changes are new versions written through the API, and this migration
seeds only the first one (design section 4).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DESCRIPTION = (
    "Headwater's default collapse-risk policy. It keeps real, human-made data in every "
    "training mix, accumulates it rather than replacing it from one model generation to the "
    "next, adds fresh human data at least as fast as synthetic data, keeps synthetic data "
    "shallow in model generations, and asks that the origin of most data be known. Thresholds"
    " follow the published evidence named in each rule; where the literature gives no number "
    "(depth_load, deep_tail) they are design choices."
)

RULES: dict[str, Any] = {
    "replace": {
        "warn_below_ratio": 1.0,
        "reference": "Shumailov et al., Nature 631 (2024); Gerstgrasser et al. "
        "(2024); Kazdan et al. (2024)",
    },
    "fresh_real": {"min_ratio": 1.0, "reference": "Alemohammad et al., ICLR 2024"},
    "human_fraction": {
        "pass_at_least": 0.67,
        "fail_below": 0.1,
        "reference": "Bertrand et al., ICLR 2024; Shumailov et al., Nature 631 (2024)",
    },
    "depth_load": {
        "pass_at_most": 0.25,
        "fail_above": 1.0,
        "reference": "Shumailov et al., Nature 631 (2024); Gerstgrasser et al. "
        "(2024); cut-offs are design choices",
    },
    "deep_tail": {
        "min_depth": 3,
        "pass_at_most": 0.1,
        "reference": "heuristic; a Headwater design choice",
    },
    "unknown_fraction": {
        "pass_at_most": 0.2,
        "reference": "provenance coverage; Graphite (2025): about half of "
        "new English web articles have been AI-written since "
        "2025",
    },
}


def upgrade() -> None:
    policies = sa.table(
        "policies",
        sa.column("id", sa.UUID()),
        sa.column("name", sa.Text()),
        sa.column("version", sa.Integer()),
        sa.column("description", sa.Text()),
        sa.column("rules", postgresql.JSONB()),
    )
    op.execute(
        policies.insert().values(
            id=sa.text("gen_random_uuid()"),
            name="default",
            version=1,
            description=DESCRIPTION,
            rules=RULES,
        )
    )


def downgrade() -> None:
    op.execute("DELETE FROM policies WHERE name = 'default' AND version = 1")
