"""retractions (edges and versions declared wrong) and aliases (symlinked identifiers)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 00:38:05.966082
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "aliases",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("canonical_namespace", sa.Text(), nullable=False),
        sa.Column("canonical_name", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('dataset', 'model')", name=op.f("ck_aliases_kind")),
        sa.CheckConstraint(
            "(namespace, name) <> (canonical_namespace, canonical_name)",
            name=op.f("ck_aliases_not_itself"),
        ),
        sa.PrimaryKeyConstraint("kind", "namespace", "name", name=op.f("pk_aliases")),
    )
    op.create_index(
        "ix_aliases_canonical",
        "aliases",
        ["kind", "canonical_namespace", "canonical_name"],
        unique=False,
    )
    op.create_table(
        "retractions",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("artifact_id", sa.UUID(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("retracted_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_retractions_artifact_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retractions")),
        sa.UniqueConstraint("artifact_id", name=op.f("uq_retractions_artifact_id")),
    )
    op.create_index("ix_retractions_created", "retractions", ["created_at", "id"], unique=False)
    op.create_table(
        "retracted_edges",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("retraction_id", sa.UUID(), nullable=False),
        sa.Column("child_id", sa.UUID(), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Double(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["artifacts.id"],
            name=op.f("fk_retracted_edges_child_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["artifacts.id"],
            name=op.f("fk_retracted_edges_parent_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["retraction_id"],
            ["retractions.id"],
            name=op.f("fk_retracted_edges_retraction_id_retractions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retracted_edges")),
        sa.UniqueConstraint(
            "child_id",
            "parent_id",
            "relation",
            name=op.f("uq_retracted_edges_child_id_parent_id_relation"),
        ),
    )
    op.create_index("ix_retracted_edges_parent", "retracted_edges", ["parent_id"], unique=False)
    op.create_index(
        "ix_retracted_edges_retraction", "retracted_edges", ["retraction_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_retracted_edges_retraction", table_name="retracted_edges")
    op.drop_index("ix_retracted_edges_parent", table_name="retracted_edges")
    op.drop_table("retracted_edges")
    op.drop_index("ix_retractions_created", table_name="retractions")
    op.drop_table("retractions")
    op.drop_index("ix_aliases_canonical", table_name="aliases")
    op.drop_table("aliases")
