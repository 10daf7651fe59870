"""lineage schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 14:17:55.750966
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("size", sa.Double(), nullable=True),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("checksum", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "facets", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("origin_human", sa.Double(), nullable=True),
        sa.Column("origin_synthetic", sa.Double(), nullable=True),
        sa.Column("origin_unknown", sa.Double(), nullable=True),
        sa.Column("origin_synthetic_depth", sa.Integer(), nullable=True),
        sa.Column("origin_digital_source_type", sa.Text(), nullable=True),
        sa.Column("composition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total_amount", sa.Double(), nullable=True),
        sa.Column("weights_assumed", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("human_fraction", sa.Double(), nullable=False),
        sa.Column("synthetic_fraction", sa.Double(), nullable=False),
        sa.Column("unknown_fraction", sa.Double(), nullable=False),
        sa.Column("composition_stale", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column(
            "composition_updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind = 'dataset' OR origin_human IS NULL", name=op.f("ck_artifacts_origin_on_datasets")
        ),
        sa.CheckConstraint("kind IN ('dataset', 'model')", name=op.f("ck_artifacts_kind")),
        sa.CheckConstraint(
            "(origin_human IS NULL) = (origin_synthetic IS NULL)"
            " AND (origin_human IS NULL) = (origin_unknown IS NULL)",
            name=op.f("ck_artifacts_origin_complete"),
        ),
        sa.CheckConstraint(
            "origin_human IS NULL OR origin_human BETWEEN 0 AND 1",
            name=op.f("ck_artifacts_origin_human_fraction"),
        ),
        sa.CheckConstraint(
            "origin_synthetic IS NULL OR origin_synthetic BETWEEN 0 AND 1",
            name=op.f("ck_artifacts_origin_synthetic_fraction"),
        ),
        sa.CheckConstraint(
            "origin_synthetic_depth IS NULL OR origin_synthetic_depth >= 1",
            name=op.f("ck_artifacts_origin_synthetic_depth"),
        ),
        sa.CheckConstraint(
            "origin_unknown IS NULL OR origin_unknown BETWEEN 0 AND 1",
            name=op.f("ck_artifacts_origin_unknown_fraction"),
        ),
        sa.CheckConstraint(
            "size IS NULL OR size >= 0", name=op.f("ck_artifacts_size_non_negative")
        ),
        sa.CheckConstraint(
            "total_amount IS NULL OR total_amount >= 0",
            name=op.f("ck_artifacts_total_non_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
        sa.UniqueConstraint(
            "kind",
            "namespace",
            "name",
            "version",
            name=op.f("uq_artifacts_kind_namespace_name_version"),
        ),
    )
    op.create_index("ix_artifacts_created", "artifacts", ["kind", "created_at", "id"], unique=False)
    op.create_index(
        "ix_artifacts_listing",
        "artifacts",
        ["kind", "namespace", "name", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_artifacts_stale",
        "artifacts",
        ["id"],
        unique=False,
        postgresql_where="composition_stale",
    )
    op.create_table(
        "lineage_events",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("event_kind", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=True),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("job_namespace", sa.Text(), nullable=True),
        sa.Column("job_name", sa.Text(), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("producer", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_events")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_lineage_events_fingerprint")),
    )
    op.create_index("ix_lineage_events_run", "lineage_events", ["run_id"], unique=False)
    op.create_table(
        "policies",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_policies_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_policies_name_version")),
    )
    op.create_table(
        "propagation_jobs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("roots", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("nodes_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("nodes_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed')",
            name=op.f("ck_propagation_jobs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_propagation_jobs")),
    )
    op.create_index(
        "ix_propagation_jobs_open",
        "propagation_jobs",
        ["created_at"],
        unique=False,
        postgresql_where="status <> 'done'",
    )
    op.create_table(
        "edges",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("child_id", sa.UUID(), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Double(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "relation IN ('trained_on', 'fine_tuned_from', 'generated_by', 'derived_from', 'used')",
            name=op.f("ck_edges_relation"),
        ),
        sa.CheckConstraint(
            "amount IS NULL OR amount >= 0", name=op.f("ck_edges_amount_non_negative")
        ),
        sa.CheckConstraint("child_id <> parent_id", name=op.f("ck_edges_no_self_loop")),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["artifacts.id"],
            name=op.f("fk_edges_child_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["artifacts.id"],
            name=op.f("fk_edges_parent_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edges")),
        sa.UniqueConstraint(
            "child_id", "parent_id", "relation", name=op.f("uq_edges_child_id_parent_id_relation")
        ),
    )
    op.create_index("ix_edges_parent", "edges", ["parent_id"], unique=False)
    op.create_table(
        "training_runs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("model_id", sa.UUID(), nullable=False),
        sa.Column("composition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total_amount", sa.Double(), nullable=True),
        sa.Column("weights_assumed", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=True),
        sa.Column("policy_name", sa.Text(), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column(
            "findings", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("remediation", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("previous_generation", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column(
            "judged_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "verdict IS NULL OR verdict IN ('pass', 'warn', 'fail')",
            name=op.f("ck_training_runs_verdict"),
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["artifacts.id"],
            name=op.f("fk_training_runs_model_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_runs")),
        sa.UniqueConstraint("model_id", name=op.f("uq_training_runs_model_id")),
    )
    op.create_index("ix_training_runs_created", "training_runs", ["created_at", "id"], unique=False)
    op.create_index("ix_training_runs_judged", "training_runs", ["judged_at"], unique=False)
    op.create_index(
        "ix_training_runs_verdict", "training_runs", ["verdict", "created_at", "id"], unique=False
    )
    op.create_table(
        "training_run_verdicts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("training_run_id", sa.UUID(), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("policy_name", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("composition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("findings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column(
            "judged_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "verdict IN ('pass', 'warn', 'fail')", name=op.f("ck_training_run_verdicts_verdict")
        ),
        sa.ForeignKeyConstraint(
            ["training_run_id"],
            ["training_runs.id"],
            name=op.f("fk_training_run_verdicts_training_run_id_training_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_run_verdicts")),
    )
    op.create_index(
        "ix_training_run_verdicts_run",
        "training_run_verdicts",
        ["training_run_id", "judged_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_training_run_verdicts_run", table_name="training_run_verdicts")
    op.drop_table("training_run_verdicts")
    op.drop_index("ix_training_runs_verdict", table_name="training_runs")
    op.drop_index("ix_training_runs_judged", table_name="training_runs")
    op.drop_index("ix_training_runs_created", table_name="training_runs")
    op.drop_table("training_runs")
    op.drop_index("ix_edges_parent", table_name="edges")
    op.drop_table("edges")
    op.drop_index(
        "ix_propagation_jobs_open",
        table_name="propagation_jobs",
        postgresql_where="status <> 'done'",
    )
    op.drop_table("propagation_jobs")
    op.drop_table("policies")
    op.drop_index("ix_lineage_events_run", table_name="lineage_events")
    op.drop_table("lineage_events")
    op.drop_index(
        "ix_artifacts_stale", table_name="artifacts", postgresql_where="composition_stale"
    )
    op.drop_index("ix_artifacts_listing", table_name="artifacts")
    op.drop_index("ix_artifacts_created", table_name="artifacts")
    op.drop_table("artifacts")
