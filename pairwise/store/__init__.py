"""The store: the one package that speaks SQL.

Everything the app, the CLI and the exports persist goes through :class:`Store`, on one of two
backends: a SQLite file (the default: a path, or ``sqlite:///path``) or a PostgreSQL database
(``postgresql://user:password@host:port/database``), with the same tables, the same results and
the same guarantees. On SQLite the file runs in WAL mode and every write is one short
``BEGIN IMMEDIATE`` transaction, so that many annotators can write at once without a writer ever
upgrading a read lock, and so that a crash leaves either the whole write or none of it; the schema
stays plain SQL that ``sqlite-utils`` and Datasette open. On PostgreSQL, connections come from a
pool per process, writes run side by side and the next-comparison scan skips rows that another
annotator's transaction holds.

One module per concern, each a mixin over the connection core; :class:`Store` assembles them:

- ``records``: the dataclasses, errors, limits and small pure helpers the store hands out
- ``connection``: where a store lives, and one connection to it on either backend
- ``dialect``: the SQL that differs between SQLite and PostgreSQL (types, triggers, locking)
- ``base``: write transactions and reads as frames (:class:`~.base.StoreBase`)
- ``schema``: tables, triggers and migrations (Alembic revisions in ``migrations/``)
- ``texts``: prompts, responses and per-response scores
- ``studies``: studies and their comparisons
- ``people``: annotators, invite tokens and browser sessions
- ``assignment``: leases, the next comparison, judgments and passes from the annotate page
- ``imported``: judgments made elsewhere
- ``progress``: how far a study and an annotator have come
- ``frames``: judgments, passes and texts as pandas frames for analysis and exports

Importing the package loads no data stack (pandas, NumPy, pyarrow, sqlite-utils) and no database
library beyond ``sqlite3``: the first frame a store builds, or the first PostgreSQL store, does.
"""

from __future__ import annotations

from pathlib import Path

from .connection import StoreUnavailable
from .frames import FramesMixin, collector_paused
from .imported import ImportedMixin
from .people import PeopleMixin
from .progress import expected_gold
from .records import (
    DEFAULT_LEASE_SECONDS,
    JUDGE_KINDS,
    MAX_NOTE_CHARS,
    PASS_REASONS,
    PLACEHOLDER_MARK,
    PLACEHOLDER_RESPONSE,
    ROLES,
    SCHEMA_VERSION,
    Annotator,
    Assignment,
    DuplicateConflict,
    ImportedJudgment,
    Prompt,
    Recorded,
    StoreError,
    Study,
    check_note,
    content_hash,
    is_placeholder_prompt,
    is_placeholder_response,
    now_iso,
)
from .schema import SchemaMixin

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "JUDGE_KINDS",
    "MAX_NOTE_CHARS",
    "PASS_REASONS",
    "PLACEHOLDER_MARK",
    "PLACEHOLDER_RESPONSE",
    "ROLES",
    "SCHEMA_VERSION",
    "Annotator",
    "Assignment",
    "DuplicateConflict",
    "ImportedJudgment",
    "Prompt",
    "Recorded",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Study",
    "check_note",
    "collector_paused",
    "content_hash",
    "expected_gold",
    "is_placeholder_prompt",
    "is_placeholder_response",
    "now_iso",
    "open_store",
]


class Store(FramesMixin, ImportedMixin, PeopleMixin, SchemaMixin):
    """A pairwise database: a SQLite file or a PostgreSQL database.

    Give each thread or process its own ``Store``. Open it on a path (created on first use),
    ``":memory:"`` for throwaway work, or a ``postgresql://`` URL (its tables are created or
    migrated on first use; the database itself must exist).
    """


def open_store(path: str | Path | None = None) -> Store:
    """The store at ``path`` (a path or URL), else ``$PAIRWISE_DB``, else ``pairwise.db`` in the
    working folder."""
    import os

    return Store(path or os.environ.get("PAIRWISE_DB") or "pairwise.db")
