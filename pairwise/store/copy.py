"""Copy a whole store to another one, on the same backend or the other (SQLite, PostgreSQL).

The destination is opened as a store first, so its own migrations create or bring up its schema;
then every row goes in one transaction on the destination, table after table in foreign-key order,
ids kept, read and written in batches so that a store of millions of judgments copies in little
memory. The source is read in one snapshot, so a store the app is writing to copies consistently.
Before the commit, the rows of every table are counted on both sides; a difference rolls the whole
copy back.

Three tables hold counts that triggers keep as rows come and go: ``study_pairs`` (judgments and
wins per model pair), ``study_totals`` (progress per study) and ``scan_starts`` (where each
annotator's next-comparison scan starts). A plain copy takes them verbatim from the source, so
that the copy holds exactly what the source holds: on PostgreSQL the triggers are off while the
rows go in (``ALTER TABLE ... DISABLE TRIGGER USER``, inside the copy's transaction, for the
tables' owner); on SQLite, and for a role that does not own the tables, the triggers' work is
undone at the end (``study_totals`` and ``scan_starts`` are written last over what the triggers
made, the pair counts are set back to the source's). A merge lets the triggers count the rows it
adds instead.

Merging (``merge=True``) adds a store's rows to a destination that holds data already, keeping ids:

- a row whose primary key the destination lacks is added;
- a row whose key the destination holds with the same content is skipped;
- a row whose key the destination holds with other content, or whose unique value (a person's
  name, a study's name, a response's prompt and model...) the destination holds under another key,
  is a conflict: nothing is copied, and the error names the table and the key.

The counts kept by triggers are not compared: they follow the merged rows. Scan starts are not
copied in a merge (a missing one means a scan from the first comparison, which is always right).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import progress
from . import Store, StoreError
from .connection import Location, locate
from .dialect import POSTGRESQL, SQLITE

# the destination's own migrations write these
_OWN_TABLES = ("alembic_version", "schema_version")
# written last in a plain copy, over what the triggers made while the other rows went in
_KEPT_BY_TRIGGERS = ("study_totals", "scan_starts")
# count columns that triggers keep: set back to the source's after a plain copy, left to the
# triggers (and not compared) in a merge
_COUNTS = {"study_pairs": ("judgments", "wins")}
BATCH = 5_000


@dataclass(frozen=True)
class TableCopy:
    """One table's rows: in the source, added to the destination, and (merging) skipped as
    identical rows the destination held already."""

    table: str
    source: int
    added: int
    skipped: int = 0


@dataclass(frozen=True)
class CopyResult:
    """What :func:`copy_store` did, per table in the order they were written."""

    source: str
    dest: str
    merge: bool
    tables: tuple[TableCopy, ...]
    seconds: float

    @property
    def added(self) -> int:
        return sum(t.added for t in self.tables)

    @property
    def skipped(self) -> int:
        return sum(t.skipped for t in self.tables)

    def __str__(self) -> str:
        skipped = f", {self.skipped:,} identical rows already there" if self.merge else ""
        return (
            f"{'Merged' if self.merge else 'Copied'} {self.added:,} rows in {len(self.tables)}"
            f" tables from {self.source} to {self.dest}{skipped} ({self.seconds:.1f} s)"
        )


class CopyConflict(StoreError):
    """A merge found a row the destination holds with other content."""


def copy_store(
    source: str | Path, dest: str | Path, *, merge: bool = False, batch: int = BATCH
) -> CopyResult:
    """Copy every row of the store at ``source`` into the store at ``dest`` (created if need be).

    ``source`` and ``dest`` are what :class:`Store` takes: a path, ``sqlite:///path`` or a
    ``postgresql://`` URL. A destination holding data is refused unless ``merge`` (see the module
    docstring for what a merge does). Progress goes to :mod:`pairwise.progress`, one stage per
    table.
    """
    from sqlalchemy import MetaData

    start = time.perf_counter()
    src = _Side.open(source, reading=True)
    dst = _Side.open(dest, reading=False)
    try:
        if src.key == dst.key:
            raise StoreError(f"the source and the destination are the same store: {src.name}")
        with src.connect() as reader, dst.connect() as writer:
            source_meta, dest_meta = MetaData(), MetaData()
            source_meta.reflect(bind=reader)
            dest_meta.reflect(bind=writer)
            _check_versions(src, dst, reader, writer)
            plan = _Plan(source_meta, dest_meta, merge)
            before = {t.name: _count(writer, t) for t in plan.tables}
            if not merge:
                _check_empty(dst.name, before)
            if dst.place.backend == POSTGRESQL:  # counts follow each row, not the commit
                writer.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")
            paused = not merge and _pause_triggers(writer, plan)
            copied = [
                _copy_table(reader, writer, plan, table, batch, merge) for table in plan.tables
            ]
            if paused:
                _resume_triggers(writer, plan)
            elif not merge:
                _restore_counts(reader, writer, plan)
            if dst.place.backend == POSTGRESQL:
                _advance_sequences(writer, plan)
            _verify(writer, plan, copied, before)
    finally:
        src.close()
        dst.close()
    return CopyResult(
        source=src.name,
        dest=dst.name,
        merge=merge,
        tables=tuple(copied),
        seconds=time.perf_counter() - start,
    )


# -- the two sides ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Side:
    """One end of a copy: where it is, and an engine to read or write it through."""

    place: Location
    engine: Any
    reading: bool

    @classmethod
    def open(cls, location: str | Path, *, reading: bool) -> _Side:
        """Open the store at ``location`` as a store first (created or migrated; the source
        must exist), then an engine of the copy's own on it: plain values, transactions begun
        as the copy needs them, and connections closed when it ends."""
        place = locate(location)
        if reading and place.backend == SQLITE and not Path(place.target).is_file():
            raise StoreError(f"no store at {place.target}")
        Store(place).close()  # StoreUnavailable says where and why, in one line
        if place.backend == SQLITE:
            return cls(place, _sqlite_engine(place.target, reading), reading)
        return cls(place, _postgresql_engine(place.target), reading)

    @property
    def name(self) -> str:
        return str(self.place)  # a URL without its password

    @property
    def key(self) -> str:
        """The same for two ways of writing one store."""
        if self.place.backend == SQLITE:
            return str(Path(self.place.target).resolve())
        return self.place.where

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """A connection in a transaction: on the source, one snapshot for every read (a
        repeatable-read, read-only transaction on PostgreSQL; a deferred ``BEGIN`` on SQLite, whose
        first read fixes what it sees); on the destination, the one write transaction."""
        with self.engine.connect() as connection:
            if self.place.backend == POSTGRESQL and self.reading:
                connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            with connection.begin():
                yield connection

    def close(self) -> None:
        self.engine.dispose()


def _postgresql_engine(url: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    connect_args = {"connect_timeout": 10, "application_name": "pairwise copy"}
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


def _sqlite_engine(path: str, reading: bool) -> Any:
    """An engine on a SQLite file whose transactions begin as the copy needs: the source's with
    a deferred ``BEGIN`` (no lock on the app's writers), the destination's ``IMMEDIATE``."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    found = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    begin_sql = "BEGIN" if reading else "BEGIN IMMEDIATE"

    @event.listens_for(found, "connect")
    def connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions begin where the copy says
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        dbapi_connection.execute("PRAGMA busy_timeout = 30000")

    @event.listens_for(found, "begin")
    def begin(connection: Any) -> None:
        connection.exec_driver_sql(begin_sql)

    return found


# -- what to copy ----------------------------------------------------------------------------------


class _Plan:
    """The tables to write, in order, each with the source table to read it from."""

    def __init__(self, source_meta: Any, dest_meta: Any, merge: bool) -> None:
        ordered = [t for t in dest_meta.sorted_tables if t.name not in _OWN_TABLES]
        last = [t for t in ordered if t.name in _KEPT_BY_TRIGGERS]
        self.tables = [t for t in ordered if t.name not in _KEPT_BY_TRIGGERS]
        if not merge:
            self.tables += last
        self.source = {}
        for table in self.tables:
            if table.name not in source_meta.tables:
                raise StoreError(f"the source has no table {table.name}")
            found = source_meta.tables[table.name]
            missing = [c.name for c in table.columns if c.name not in found.columns]
            if missing:
                raise StoreError(f"the source's table {table.name} has no column {missing[0]}")
            self.source[table.name] = found

    def read(self, table: Any) -> Any:
        """The source's rows of ``table``, in the destination's columns, in key order."""
        from sqlalchemy import select

        found = self.source[table.name]
        order = [found.c[c.name] for c in table.primary_key.columns] or [
            found.c[c.name] for c in table.columns
        ]
        return select(*[found.c[c.name] for c in table.columns]).order_by(*order)


def _count(connection: Any, table: Any) -> int:
    from sqlalchemy import func, select

    return connection.execute(select(func.count()).select_from(table)).scalar_one()


def _check_versions(src: _Side, dst: _Side, reader: Any, writer: Any) -> None:
    versions = [
        c.exec_driver_sql("SELECT max(version) FROM schema_version").scalar()
        for c in (reader, writer)
    ]
    if versions[0] != versions[1]:
        raise StoreError(
            f"{src.name} has schema version {versions[0]} and {dst.name} {versions[1]};"
            " open both with the same pairwise first"
        )


def _check_empty(name: str, counts: dict[str, int]) -> None:
    held = [table for table, n in counts.items() if n]
    if held:
        total = sum(counts.values())
        where = ", ".join(held[:3]) + (f" and {len(held) - 3} more tables" if len(held) > 3 else "")
        raise StoreError(
            f"{name} is not empty: {total:,} row{'s' * (total != 1)} in {where};"
            " copy into an empty store, or merge into this one"
        )


# -- writing ---------------------------------------------------------------------------------------


def _batches(reader: Any, plan: _Plan, table: Any, size: int) -> Iterator[list[tuple[Any, ...]]]:
    """The source's rows of ``table`` as tuples in the destination's column order, ``size`` at a
    time: read through the driver's own cursor (a server-side one on PostgreSQL), as building
    SQLAlchemy rows would cost more than the copy itself."""
    sql = str(plan.read(table).compile(dialect=reader.dialect))
    connection = reader.connection.dbapi_connection
    postgresql = reader.dialect.name == "postgresql"
    cursor = connection.cursor(name=f"copy_{table.name}") if postgresql else connection.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(size):
            yield rows
    finally:
        cursor.close()


def _insert(writer: Any, table: Any, rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (tuples in the table's column order) through the driver: ``COPY`` on
    PostgreSQL, ``executemany`` on SQLite."""
    preparer = writer.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(c.name) for c in table.columns)
    name = _quoted(writer, table)
    cursor = writer.connection.dbapi_connection.cursor()
    try:
        if writer.dialect.name == "postgresql":
            with cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(table.columns))
            cursor.executemany(f"INSERT INTO {name} ({columns}) VALUES ({marks})", rows)
    finally:
        cursor.close()


def _copy_table(
    reader: Any, writer: Any, plan: _Plan, table: Any, size: int, merge: bool
) -> TableCopy:
    if table.name in _KEPT_BY_TRIGGERS:  # what the triggers made goes; the source's comes
        writer.execute(table.delete())
    total = _count(reader, plan.source[table.name])
    stage = f"copying {table.name}"
    progress.report(stage, 0, total)
    done = added = 0
    for rows in _batches(reader, plan, table, size):
        new = _new_rows(writer, table, rows) if merge else rows
        if new:
            _insert(writer, table, new)
        added += len(new)
        done += len(rows)
        progress.report(stage, done, total)
    return TableCopy(table.name, total, added, total - added)


def _pause_triggers(writer: Any, plan: _Plan) -> bool:
    """Turn the count triggers off for the copy, on PostgreSQL: there every trigger's update of
    one count row leaves a row version that the next must step over until the transaction ends,
    which makes a large copy quadratic. Only the tables' owner may; ``False`` (triggers on,
    counts set back afterwards) for anyone else, or on SQLite, whose triggers cost little."""
    from sqlalchemy.exc import DBAPIError

    if writer.dialect.name != "postgresql":
        return False
    try:
        with writer.begin_nested():  # a refusal rolls back to here, not the whole copy
            for table in plan.tables:
                writer.exec_driver_sql(f"ALTER TABLE {_quoted(writer, table)} DISABLE TRIGGER USER")
    except DBAPIError:
        return False
    return True


def _resume_triggers(writer: Any, plan: _Plan) -> None:
    for table in plan.tables:
        writer.exec_driver_sql(f"ALTER TABLE {_quoted(writer, table)} ENABLE TRIGGER USER")


def _quoted(connection: Any, table: Any) -> str:
    return connection.dialect.identifier_preparer.quote(table.name)


def _restore_counts(reader: Any, writer: Any, plan: _Plan) -> None:
    """Set the trigger-kept count columns back to the source's values."""
    from sqlalchemy import bindparam

    for table in plan.tables:
        counts = _COUNTS.get(table.name)
        if not counts:
            continue
        names = [c.name for c in table.columns]
        keys = [c.name for c in table.primary_key.columns]
        update = (
            table.update()
            .where(*[table.c[k] == bindparam(f"key_{k}") for k in keys])
            .values({c: bindparam(f"value_{c}") for c in counts})
        )
        for rows in _batches(reader, plan, table, BATCH):
            values = [dict(zip(names, row, strict=True)) for row in rows]
            writer.execute(
                update,
                [
                    {**{f"key_{k}": v[k] for k in keys}, **{f"value_{c}": v[c] for c in counts}}
                    for v in values
                ],
            )


def _advance_sequences(writer: Any, plan: _Plan) -> None:
    """PostgreSQL hands out ids from a sequence: move each past the ids copied in."""
    from sqlalchemy import text

    for table in plan.tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or keys[0].type.python_type is not int:
            continue
        writer.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column),"
                f' coalesce(max("{keys[0].name}"), 1), max("{keys[0].name}") IS NOT NULL)'
                f' FROM "{table.name}"'
            ),
            {"table": table.name, "column": keys[0].name},
        )


def _verify(writer: Any, plan: _Plan, copied: Sequence[TableCopy], before: dict[str, int]) -> None:
    """Every table holds the rows it held before plus those added, and every source row is there
    (added or found identical): otherwise the whole copy is rolled back."""
    for table, result in zip(plan.tables, copied, strict=True):
        held = _count(writer, table)
        expected = (0 if table.name in _KEPT_BY_TRIGGERS else before[table.name]) + result.added
        if held != expected or result.added + result.skipped != result.source:
            raise StoreError(
                f"{table.name}: the source has {result.source:,} rows, the destination"
                f" {held:,} after the copy; nothing was copied"
            )


# -- merging ---------------------------------------------------------------------------------------


def _new_rows(writer: Any, table: Any, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The rows the destination lacks, their trigger-kept counts at 0 (the triggers count the
    rows that go in after them); a row held with other content is a conflict."""
    names = [c.name for c in table.columns]
    keys = [c.name for c in table.primary_key.columns]
    counts = _COUNTS.get(table.name, ())
    compared = [c for c in names if c not in counts]
    values = [dict(zip(names, row, strict=True)) for row in rows]
    held = {
        tuple(row[: len(keys)]): dict(zip(keys + compared, row, strict=True))
        for row in _rows_with(writer, table, keys, compared, values)
    }
    new = []
    for row in values:
        key = tuple(row[k] for k in keys)
        there = held.get(key)
        if there is None:
            new.append(row)
            continue
        differ = [c for c in compared if not _same(row[c], there[c])]
        if differ:
            raise CopyConflict(
                f"{table.name} {_describe(keys, key)} is in the destination with another"
                f" {', '.join(differ)}; nothing was copied"
            )
    _check_unique(writer, table, keys, new)
    return [tuple(0 if c in counts else row[c] for c in names) for row in new]


def _check_unique(writer: Any, table: Any, keys: list[str], rows: list[dict[str, Any]]) -> None:
    """A new row must not take a unique value the destination holds under another key."""
    from sqlalchemy import inspect

    for constraint in inspect(writer).get_unique_constraints(table.name):
        columns = constraint["column_names"]
        wanted = [row for row in rows if all(row[c] is not None for c in columns)]
        for found in _rows_with(writer, table, columns, keys, wanted):
            value = tuple(found[: len(columns)])
            raise CopyConflict(
                f"{table.name} {_describe(columns, value)} is in the destination under"
                f" {_describe(keys, tuple(found[len(columns) :]))}; nothing was copied"
            )


def _rows_with(
    writer: Any, table: Any, columns: list[str], also: list[str], rows: list[dict[str, Any]]
) -> list[Any]:
    """The destination's rows whose ``columns`` match one of ``rows``: those columns, then
    ``also``."""
    from sqlalchemy import select, tuple_

    if not rows:
        return []
    wanted = [tuple(row[c] for c in columns) for row in rows]
    key = tuple_(*[table.c[c] for c in columns]) if len(columns) > 1 else table.c[columns[0]]
    values = wanted if len(columns) > 1 else [w[0] for w in wanted]
    picked = [table.c[c] for c in columns] + [table.c[c] for c in also]
    return list(writer.execute(select(*picked).where(key.in_(values))))


def _same(a: Any, b: Any) -> bool:
    """Equal as stored: numbers by value whatever their type on either backend."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def _describe(columns: Sequence[str], values: Sequence[Any]) -> str:
    return ", ".join(f"{c} {v!r}" for c, v in zip(columns, values, strict=True))
