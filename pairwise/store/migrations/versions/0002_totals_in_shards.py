"""A study's totals in shards: ``study_totals`` keyed by study and comparison id modulo 32.

With one totals row per study, every judgment changed that row and held it until its commit, so
on PostgreSQL the judgments of a study were committed one after another. The table is made again
in shards and filled from the comparisons, and the triggers that keep it are made again. On
SQLite the store has already done this when it opened the file (see ``pairwise.store.schema``),
and the triggers' statements, all ``IF NOT EXISTS`` or ``OR REPLACE``, find them in place.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from pairwise.store.schema import (
    baseline_statements,
    run_in_migration,
    shard_totals_statements,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    backend = bind.dialect.name
    columns = {column["name"] for column in sa.inspect(bind).get_columns("study_totals")}
    if "shard" not in columns:
        run_in_migration(bind, shard_totals_statements(backend))
    run_in_migration(bind, baseline_statements(backend))


def downgrade() -> None:
    raise NotImplementedError("pairwise migrations go forward only: restore a backup instead")
