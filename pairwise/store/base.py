"""The store's core: one connection, its write transactions, and reads as frames.

Every other part of the store is a mixin over :class:`StoreBase`: it reads ``self.conn`` and writes
inside ``self.transaction()``, so that the rules of each backend (SQLite's WAL and
``BEGIN IMMEDIATE``, PostgreSQL's pooled connections; nested calls joining the outer transaction)
live here and in :mod:`~pairwise.store.connection` only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..lazy import LazyModule
from .connection import Location, connect, locate
from .dialect import SQLITE, take_turns
from .records import StoreError

if TYPE_CHECKING:
    import pandas
    import pandas as pd
    import sqlite_utils

    from . import Store
else:
    pd = LazyModule("pandas")


class StoreBase:
    """One connection to a pairwise database; the mixins of :class:`~pairwise.store.Store` add
    the queries."""

    def __init__(self, location: str | Path | Location, *, timeout: float = 30.0) -> None:
        self.location = locate(location)
        self.path = str(location) if not isinstance(location, Location) else location.target
        self.backend = self.location.backend
        self.conn = connect(self.location, timeout=timeout)
        try:
            self._migrate()
        except BaseException:
            self.conn.close()
            raise

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """The connection as a ``sqlite_utils.Database``, for ad hoc reads and scripts.

        Built on first use: sqlite-utils imports pandas when it is installed. SQLite only.
        """
        if self.backend != SQLITE:
            raise StoreError("sqlite-utils reads SQLite files; this store is on PostgreSQL")
        import sqlite_utils

        return sqlite_utils.Database(self.conn.raw)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        """Create the tables or bring them up to date: :class:`~.schema.SchemaMixin` does."""
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self, *, side_by_side: bool = False) -> Iterator[Any]:
        """One write transaction, which waits for other writers' transactions to end (on SQLite
        ``BEGIN IMMEDIATE`` takes the write lock up front; on PostgreSQL a lock does the same).

        ``side_by_side`` transactions (PostgreSQL only) wait only for the others: the annotate
        page's writes, which lock the rows they count, run side by side with each other. Nested
        use joins the outer transaction, so a caller can make several store calls atomic.
        """
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.begin()
        try:
            for statement in take_turns(self.backend, side_by_side=side_by_side):
                self.conn.execute_later(statement)
            yield self.conn
        except BaseException:
            self.conn.rollback()
            raise
        else:
            self.conn.commit()

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql, params)
        keys = [column[0] for column in cursor.description or ()]
        return [dict(zip(keys, row, strict=True)) for row in cursor]

    def frame(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> pandas.DataFrame:
        """A query's rows as a frame, with the query's column names."""
        cursor = self.conn.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return pd.DataFrame.from_records(cursor.fetchall(), columns=names, coerce_float=True)

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
        names = list(besides_annotators)
        others = f" WHERE name NOT IN ({', '.join('?' * len(names))})" if names else ""
        return (
            self.conn.execute(f"SELECT 1 FROM annotators{others} LIMIT 1", names).fetchone()
            is not None
        )
