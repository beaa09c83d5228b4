"""Baseline: the schema of pairwise 0.1 (tables, indexes and the triggers that keep counts).

On PostgreSQL it creates everything. On SQLite the store has already brought a file written
before migrations existed up to this schema (see ``pairwise.store.schema``), and the statements
here, all ``IF NOT EXISTS``, find it in place.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from alembic import op

from pairwise.store.schema import baseline_statements, run_in_migration

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    run_in_migration(bind, baseline_statements(bind.dialect.name))


def downgrade() -> None:
    raise NotImplementedError("pairwise migrations go forward only: restore a backup instead")
