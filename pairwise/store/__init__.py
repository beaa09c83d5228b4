"""The store: the one package that speaks SQL.

Everything the app, the CLI and the exports persist goes through :class:`Store`. The schema is plain
SQL that researchers can open with the ``sqlite-utils`` CLI or Datasette. The file runs in WAL mode and
every write is one short ``BEGIN IMMEDIATE`` transaction, so that many annotators can write at once
without a writer ever upgrading a read lock (the usual cause of "database is locked"), and so that a
crash leaves either the whole write or none of it.

One module per concern, each a mixin over the connection core; :class:`Store` assembles them:

- ``records``: the dataclasses, errors, limits and small pure helpers the store hands out
- ``base``: the connection, its pragmas and write transactions (:class:`~.base.StoreBase`)
- ``schema``: tables, triggers and migrations of files written by earlier versions
- ``texts``: prompts, responses and per-response scores
- ``studies``: studies and their comparisons
- ``people``: annotators, invite tokens and browser sessions
- ``assignment``: leases, the next comparison, judgments and passes from the annotate page
- ``imported``: judgments made elsewhere
- ``progress``: how far a study and an annotator have come
- ``frames``: judgments, passes and texts as pandas frames for analysis and exports

Importing the package loads no data stack (pandas, NumPy, pyarrow, sqlite-utils): the first frame
a store builds does.
"""

from __future__ import annotations

from pathlib import Path

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
    "Study",
    "check_note",
    "collector_paused",
    "content_hash",
    "expected_gold",
    "now_iso",
    "open_store",
]


class Store(FramesMixin, ImportedMixin, PeopleMixin, SchemaMixin):
    """A pairwise database in one SQLite file.

    One ``Store`` holds one connection; give each thread or process its own. Open it on a path
    (created on first use) or on ``":memory:"`` for throwaway work.
    """


def open_store(path: str | Path | None = None) -> Store:
    """The store at ``path``, else ``$PAIRWISE_DB``, else ``pairwise.db`` in the working folder."""
    import os

    return Store(path or os.environ.get("PAIRWISE_DB") or "pairwise.db")
