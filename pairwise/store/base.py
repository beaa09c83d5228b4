"""The store's core: one SQLite connection, its pragmas and its write transactions.

Every other part of the store is a mixin over :class:`StoreBase`: it reads ``self.conn`` and writes
inside ``self.transaction()``, so that the rules of the file (WAL, ``BEGIN IMMEDIATE``, nested calls
joining the outer transaction) live here only.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils

    from . import Store


class StoreBase:
    """One connection to a pairwise database; the mixins of :class:`~pairwise.store.Store` add
    the queries."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = str(path)
        conn = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        self.conn = conn
        self._migrate()

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """The connection as a ``sqlite_utils.Database``, for ad hoc reads and scripts.

        Built on first use: sqlite-utils imports pandas when it is installed.
        """
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        """Create the tables or bring them up to date: :class:`~.schema.SchemaMixin` does."""
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: ``BEGIN IMMEDIATE`` takes the write lock up front.

        Nested use joins the outer transaction, so a caller can make several store calls atomic.
        """
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql, params)
        keys = [column[0] for column in cursor.description or ()]
        return [dict(zip(keys, row, strict=True)) for row in cursor]

    def counts(self) -> dict[str, int]:
        """Rows per table: the inputs' counts that reports record."""
        tables = ("prompts", "responses", "studies", "comparisons", "annotators", "judgments")
        return {t: self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}

    def holds_data(self, *, besides_annotators: Sequence[str] = ()) -> bool:
        """Whether anything was ever stored: prompts, responses, studies, people (other than
        ``besides_annotators``), links, judgments or passes."""
        tables = ("prompts", "responses", "studies", "tokens", "judgments", "passes")
        if any(self.conn.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t in tables):
            return True
        marks = ", ".join("?" * len(besides_annotators))
        return (
            self.conn.execute(
                f"SELECT 1 FROM annotators WHERE name NOT IN ({marks}) LIMIT 1",
                list(besides_annotators),
            ).fetchone()
            is not None
        )
