"""Where a store lives and one connection to it: the differences between SQLite and PostgreSQL.

The store's SQL is written once, with SQLite's placeholders (``?`` and ``:name``), and runs on both
backends. What differs lives here and in :mod:`pairwise.store.dialect`: how a location is written
(a path, ``sqlite:///path`` or ``postgresql://user:pass@host:port/db``), how parameters are marked,
how a write transaction starts, and which errors mean that the server went away.

A SQLite store holds one ``sqlite3`` connection (WAL, ``BEGIN IMMEDIATE``). A PostgreSQL store
borrows a connection from a pool shared by the process (SQLAlchemy's pool) for each statement, and
holds one for the length of a transaction: a Streamlit process serving hundreds of browser sessions
keeps a few server connections, not one per session. A connection that sat unused in the pool is
pinged before it is lent, so that a restarted server costs a reconnect, not an error; one in
steady use is not, and a transaction's statements whose results nobody reads (``BEGIN``, its lock,
writes) wait to go to the server with the next statement that has one, in one round trip: on a
busy server the time of a write is mostly round trips.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .dialect import POSTGRESQL, SQLITE
from .records import StoreError

if TYPE_CHECKING:
    import sqlalchemy

_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


class StoreUnavailable(StoreError):
    """The database cannot be reached or refused us: one line naming where and why."""


class WriteConflict(StoreError):
    """PostgreSQL ended a transaction that waited in a cycle with others (a deadlock): it was
    rolled back whole and can be run again."""


@dataclass(frozen=True)
class Location:
    """A store's place: ``backend`` and ``target`` (a file path, or a SQLAlchemy URL)."""

    backend: str
    target: str

    def __str__(self) -> str:
        """The place as shown to people: a path, or the URL without its password."""
        if self.backend == SQLITE:
            return self.target
        url = _url(self.target).set(drivername="postgresql")
        return url.render_as_string(hide_password=True)

    @property
    def where(self) -> str:
        """``host:port/database`` of a server, or the path of a file: for error messages."""
        if self.backend == SQLITE:
            return self.target
        url = _url(self.target)
        host = url.host or "localhost"
        return f"{host}:{url.port or 5432}/{url.database or ''}"


def locate(location: str | Path | Location) -> Location:
    """Read a location: a path or ``sqlite:///path`` is SQLite; a ``postgresql://`` URL (also
    ``postgres://`` or ``postgresql+psycopg://``) is PostgreSQL, reached with psycopg 3. A URL
    that cannot be read is refused in one line, its password masked."""
    if isinstance(location, Location):
        return location
    text = str(location)
    if text.startswith(_POSTGRES_SCHEMES):
        place = Location(POSTGRESQL, "postgresql+psycopg://" + text.split("://", 1)[1])
        try:
            url = _url(place.target)
            url.port  # noqa: B018 - a port that is not a number fails here, not at connect
        except ValueError:
            raise StoreUnavailable(
                f"cannot read the database URL {_masked(text)}: its port is not a number"
            ) from None
        if not url.database:
            raise StoreUnavailable(
                f"cannot read the database URL {_masked(text)}: it names no database"
                " (postgresql://user:password@host:port/database)"
            )
        return place
    if text.startswith("sqlite:///"):
        return Location(SQLITE, text.removeprefix("sqlite:///") or ":memory:")
    if re.match(r"[A-Za-z][\w+.-]*://", text) and not Path(text).exists():
        scheme = text.split("://", 1)[0]
        raise StoreUnavailable(
            f"cannot open the database {_masked(text)}: unknown scheme {scheme!r}"
            " (use a file path, sqlite:///path or postgresql://user:password@host:port/database)"
        )
    return Location(SQLITE, text)


def _masked(text: str) -> str:
    """A URL as it may be shown or logged: its password replaced by ``***``."""
    return re.sub(r"^([\w+.-]+://[^:/@]*):[^@/]*@", r"\1:***@", text)


def _url(target: str) -> sqlalchemy.URL:
    from sqlalchemy.engine import make_url

    return make_url(target)


# -- SQLite ------------------------------------------------------------------------------------


class SQLiteConnection:
    """A ``sqlite3`` connection in autocommit mode whose transactions start ``IMMEDIATE``: the
    write lock is taken up front, so a writer never has to upgrade a read lock (the usual cause of
    "database is locked")."""

    backend = SQLITE

    def __init__(self, path: str, timeout: float) -> None:
        raw = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        raw.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        raw.execute("PRAGMA foreign_keys = ON")
        if path != ":memory:":
            raw.execute("PRAGMA journal_mode = WAL")
            raw.execute("PRAGMA synchronous = NORMAL")
        self.raw = raw
        self.execute = raw.execute
        self.execute_later = raw.execute  # SQLite has no round trips to save
        self.executemany = raw.executemany

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    def stream(self, sql: str, params: Sequence[Any] = (), size: int = 100_000) -> Iterator[Any]:
        """The query's description, then its rows ``size`` at a time."""
        cursor = self.raw.execute(sql, params)
        yield cursor.description
        while rows := cursor.fetchmany(size):
            yield rows

    def foreign_keys(self) -> list[tuple[str, str, str, str]]:
        """``(table, column, referenced table, referenced column)`` for every foreign key."""
        return [
            (table, column, parent, parent_column or "rowid")
            for table, column, parent, parent_column in self.raw.execute(
                'SELECT m.name, k."from", k."table", k."to" FROM sqlite_master m,'
                " pragma_foreign_key_list(m.name) k WHERE m.type = 'table'"
            )
        ]

    def begin(self) -> None:
        self.raw.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.raw.in_transaction:
            self.raw.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()

    def __getattr__(self, name: str) -> Any:  # the rest of sqlite3's connection, for scripts
        return getattr(self.raw, name)


# -- PostgreSQL --------------------------------------------------------------------------------

# A literal or quoted name (kept), a comment (kept), a cast (kept), or a placeholder or % (changed).
_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|::|\?|:([A-Za-z_]\w*)|%""")


@lru_cache(maxsize=4096)
def pyformat(sql: str) -> str:
    """SQLite's placeholders as psycopg's: ``?`` to ``%s``, ``:name`` to ``%(name)s``, and a
    literal ``%`` doubled; string literals, quoted names, comments and ``::`` casts untouched."""

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if match.group(1):
            return f"%({match.group(1)})s"
        return token

    return _TOKENS.sub(swap, sql)


class Rows:
    """A finished query's rows, read from the server at once: the connection is back in the pool
    before the caller walks them. The part of a DB-API cursor that the store uses."""

    __slots__ = ("description", "rowcount", "_rows", "_at")

    def __init__(self, description: Any, rowcount: int, rows: list[tuple[Any, ...]]) -> None:
        self.description = description
        self.rowcount = rowcount
        self._rows = rows
        self._at = 0

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        part = self._rows[self._at : self._at + size]
        self._at += len(part)
        return part

    def fetchall(self) -> list[tuple[Any, ...]]:
        part = self._rows[self._at :]
        self._at = len(self._rows)
        return part

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while (row := self.fetchone()) is not None:
            yield row


IDLE_PING_SECONDS = 2.0
"""A pooled connection unused for longer is pinged before it is lent (one in steady use is not)."""

_engines: dict[str, sqlalchemy.Engine] = {}
_users: dict[str, int] = {}  # open stores per engine: the last to close empties the pool
_engines_lock = threading.Lock()


def engine(location: Location) -> sqlalchemy.Engine:
    """The process's engine (and so connection pool) for a PostgreSQL location, counted as used
    until :func:`release_engine`."""
    size = pool_setting("PAIRWISE_DB_POOL_SIZE", 10, least=1)
    overflow = pool_setting("PAIRWISE_DB_POOL_OVERFLOW", 40, least=0)
    with _engines_lock:
        _users[location.target] = _users.get(location.target, 0) + 1
        found = _engines.get(location.target)
        if found is None:
            from sqlalchemy import create_engine, event

            found = create_engine(
                location.target,
                isolation_level="AUTOCOMMIT",  # transactions are begun explicitly
                pool_size=size,
                max_overflow=overflow,
                pool_timeout=30,
                connect_args={"connect_timeout": 10, "application_name": "pairwise"},
            )
            event.listen(found, "connect", _speak_like_sqlite)
            event.listen(found, "connect", _note_use)
            event.listen(found, "checkin", _note_use)
            event.listen(found, "checkout", _ping_if_idle)
            _engines[location.target] = found
        return found


def _speak_like_sqlite(connection: Any, _record: Any) -> None:
    """Values as SQLite gives and takes them: a Python ``bool`` is stored as the integer 0 or 1
    (the schema's flags are integers), and a ``numeric`` result (a ``sum`` of integers) comes
    back as an ``int``, or a ``float`` when it has a fraction, never as a ``Decimal``."""
    import psycopg.adapt
    from psycopg.types.numeric import NumericLoader

    class FlagDumper(psycopg.adapt.Dumper):
        oid = psycopg.adapters.types["int8"].oid

        def dump(self, obj: bool) -> bytes:
            return b"1" if obj else b"0"

    class NumberLoader(NumericLoader):
        def load(self, data: Any) -> int | float:
            text = bytes(data)
            return int(text) if text.lstrip(b"-").isdigit() else float(text)

    connection.adapters.register_dumper(bool, FlagDumper)
    connection.adapters.register_loader("numeric", NumberLoader)


def pool_setting(name: str, default: int, *, least: int) -> int:
    """A pool size from the environment (``PAIRWISE_DB_POOL_SIZE``: connections kept between
    uses; ``PAIRWISE_DB_POOL_OVERFLOW``: more opened while many write at once), or its default."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < least:
        raise StoreError(f"{name} must be a whole number of at least {least}, not {text!r}")
    return int(text)


def _note_use(_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["used"] = time.monotonic()


def _ping_if_idle(connection: Any, record: Any, _proxy: Any) -> None:
    """Ping a connection that sat in the pool for a while: one the server dropped (a restart, an
    idle timeout) is replaced by a new one before anyone uses it (the pool tries again on
    ``DisconnectionError``). A connection in steady use is not pinged: that would be one more
    round trip per transaction; if the server goes away under it, the write fails, the pool is
    emptied and the write is tried again (:func:`retried`)."""
    import psycopg
    import sqlalchemy.exc

    if time.monotonic() - record.info.get("used", 0.0) <= IDLE_PING_SECONDS:
        return
    try:
        connection.execute("SELECT 1")
    except psycopg.Error as e:
        raise sqlalchemy.exc.DisconnectionError(str(e)) from e


def _forget_pools_in_child() -> None:
    """A forked process must not use its parent's server connections (both would talk on one
    socket): it starts with empty pools and opens its own."""
    global _engines_lock
    _engines_lock = threading.Lock()  # the parent may have held it while forking
    for found in _engines.values():
        found.dispose(close=False)


os.register_at_fork(after_in_child=_forget_pools_in_child)


def release_engine(location: Location) -> None:
    """One store fewer uses the engine: when none does, its pooled connections are closed, so
    that a closed store leaves no session on the server (a database can then be dropped, or
    copied as a template)."""
    with _engines_lock:
        left = _users.get(location.target, 0) - 1
        if left > 0:
            _users[location.target] = left
            return
        _users.pop(location.target, None)
        found = _engines.pop(location.target, None)
    if found is not None:
        found.dispose()


def dispose_engines() -> None:
    """Close every pooled server connection of this process (tests, forked workers)."""
    with _engines_lock:
        for found in _engines.values():
            found.dispose()
        _engines.clear()
        _users.clear()


class PostgresConnection:
    """Statements on pooled psycopg connections with SQLite's placeholder style.

    Outside a transaction each statement borrows a connection and gives it back; between
    :meth:`begin` and :meth:`commit` (or :meth:`rollback`) one connection is held. A statement
    outside a transaction that fails because the server went away is tried once more on a fresh
    connection (such statements are reads or single idempotent writes); inside a transaction the
    transaction is lost with the connection and :class:`StoreUnavailable` says so, so that the
    caller can retry the whole of it or tell the person.
    """

    backend = POSTGRESQL

    def __init__(self, location: Location) -> None:
        self.location = location
        self._engine: Any = engine(location)
        self._held: Any = None  # the pool's connection while a transaction is open
        self._queued: list[tuple[str, Any]] = []  # statements of the transaction not yet sent
        self._sent = False  # whether the transaction's BEGIN reached the server
        try:
            self.raw_connection().close()  # fail now, in one line, if the server is not there
        except BaseException:
            self.close()
            raise

    @property
    def in_transaction(self) -> bool:
        return self._held is not None

    def raw_connection(self) -> Any:
        """A pooled connection (``close()`` gives it back); errors become one clear line."""
        import psycopg
        import sqlalchemy.exc

        try:
            fairy = self._engine.raw_connection()
        except (sqlalchemy.exc.DBAPIError, psycopg.Error) as e:
            raise StoreUnavailable(explain(self.location, e)) from None
        return fairy

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = ()) -> Rows:
        if self._held is not None:
            return self._send([(sql, params)])
        for attempt in (1, 2):
            fairy = self.raw_connection()
            try:
                return self._run(fairy, [(sql, params)])
            except StoreUnavailable:
                if attempt == 2:
                    raise
            finally:
                fairy.close()
        raise AssertionError("unreachable")

    def execute_later(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = ()) -> None:
        """Run a statement whose result nobody reads. In a transaction it is sent with the next
        statement that has a result, or with ``COMMIT``: several statements, one round trip.
        Its errors show there; the transaction is rolled back whole either way."""
        if self._held is None:
            self.execute(sql, params)
        else:
            self._queued.append((sql, params))

    def _send(self, statements: list[tuple[str, Any]]) -> Rows:
        """The transaction's waiting statements, then ``statements``: the last one's rows."""
        waiting, self._queued = self._queued, []
        self._sent = True
        return self._run(self._held, waiting + statements)

    def _flush(self) -> None:
        """Send the transaction's waiting statements now (before a statement sent otherwise)."""
        if self._queued:
            self._send([])

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]] | Any) -> Rows:
        rows = list(rows)
        if self._held is None:
            with self.transaction_of_one():
                return self.executemany(sql, rows)
        self._flush()
        cursor = self._held.cursor()
        try:
            if rows:
                cursor.executemany(pyformat(sql), rows)
            return Rows(None, cursor.rowcount, [])
        except Exception as e:
            raise self._failed(e) from None
        finally:
            cursor.close()

    def _run(self, fairy: Any, statements: list[tuple[str, Any]]) -> Rows:
        """Run statements on one connection, several in one pipeline (one round trip); the last
        one's rows."""
        raw = fairy.driver_connection
        try:
            if len(statements) == 1:
                with raw.cursor() as cursor:
                    _execute(cursor, *statements[0])
                    return _rows(cursor)
            cursors = []
            try:
                with raw.pipeline():
                    for statement in statements:
                        cursors.append(_execute(raw.cursor(), *statement))
                return _rows(cursors[-1])
            finally:
                for cursor in cursors:
                    cursor.close()
        except Exception as e:
            failure = self._failed(e, fairy)
            if failure is e:
                raise
            raise failure from None

    def _failed(self, error: Exception, fairy: Any = None) -> Exception:
        """A lost connection becomes :class:`StoreUnavailable` (and leaves the pool), a deadlock
        :class:`WriteConflict`; any other error is the caller's to see."""
        import psycopg

        if isinstance(error, psycopg.OperationalError) and _connection_lost(fairy or self._held):
            target = fairy or self._held
            target.invalidate()
            if target is self._held:
                self._held = None
                self._queued = []
            # the server went away: the pool's other connections went with it (their checkout
            # pings only those that sat unused), so they are closed now, not found one by one
            self._engine.dispose()
            return StoreUnavailable(explain(self.location, error))
        if isinstance(error, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure):
            return WriteConflict(f"{self.location.where}: {str(error).splitlines()[0]}")
        return error

    def stream(self, sql: str, params: Sequence[Any] = (), size: int = 100_000) -> Iterator[Any]:
        """Rows of a large read, ``size`` at a time, from a server-side cursor: a million rows
        are never all in memory at once, on the server's side or ours."""
        self._flush()
        fairy = self._held or self.raw_connection()
        try:
            raw = fairy.driver_connection
            with raw.transaction(), raw.cursor(name="pairwise_read") as cursor:
                cursor.itersize = size
                cursor.execute(pyformat(sql) if params else sql, params or None)
                yield cursor.description
                while rows := cursor.fetchmany(size):
                    yield rows
        finally:
            if fairy is not self._held:
                fairy.close()

    def foreign_keys(self) -> list[tuple[str, str, str, str]]:
        """``(table, column, referenced table, referenced column)`` for every foreign key, read
        by SQLAlchemy's reflection of the schema the connection sees."""
        from sqlalchemy import create_engine, inspect
        from sqlalchemy.pool import NullPool

        # an engine of SQLAlchemy's own: the pool's connections speak like SQLite (see
        # _speak_like_sqlite), which SQLAlchemy's reflection queries do not expect
        reflecting = create_engine(self.location.target, poolclass=NullPool)
        try:
            inspector = inspect(reflecting)
            return [
                (table, column, key["referred_table"], parent_column)
                for table in inspector.get_table_names()
                for key in inspector.get_foreign_keys(table)
                for column, parent_column in zip(
                    key["constrained_columns"], key["referred_columns"], strict=True
                )
            ]
        finally:
            reflecting.dispose()

    def begin(self) -> None:
        """Hold a connection for a transaction; its ``BEGIN`` goes with the first statement."""
        self._held = self.raw_connection()
        self._queued = [("BEGIN", None)]
        self._sent = False

    def commit(self) -> None:
        if self._held is not None:
            self._end(lambda: self._send([("COMMIT", None)]))

    def rollback(self) -> None:
        if self._held is not None:
            self._end(lambda: self._send([("ROLLBACK", None)]) if self._sent else None)

    def _end(self, finish: Any) -> None:
        """Finish the transaction (a transaction that sent nothing has nothing to undo) and give
        its connection back."""
        held = self._held
        try:
            finish()
        finally:
            self._held = None
            self._queued = []
            held.close()

    @contextlib.contextmanager
    def transaction_of_one(self) -> Iterator[None]:
        self.begin()
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        else:
            self.commit()

    def close(self) -> None:
        if self._engine is None:
            return
        try:
            self.rollback()
        finally:
            self._engine = None
            release_engine(self.location)


def _execute(cursor: Any, sql: str, params: Any) -> Any:
    if params:
        cursor.execute(pyformat(sql), params)
    else:
        cursor.execute(sql)
    return cursor


def _rows(cursor: Any) -> Rows:
    rows = cursor.fetchall() if cursor.description is not None else []
    return Rows(cursor.description, cursor.rowcount, rows)


def _connection_lost(fairy: Any) -> bool:
    if fairy is None:
        return True
    try:
        return bool(fairy.driver_connection.closed) or fairy.driver_connection.broken
    except Exception:  # a connection we cannot even ask is gone
        return True


def explain(location: Location, error: BaseException) -> str:
    """One line for a failed connection: where, and the reason the server or network gave."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    text = reason[0] if reason else type(error).__name__
    text = re.sub(r"^connection failed: ", "", text)
    text = re.sub(r'^connection to server (at "[^"]*"( \([^)]*\))?|on socket "[^"]*")', "", text)
    text = re.sub(r"^, port \d+ failed: |^ failed: ", "", text)
    text = re.sub(r"^FATAL:\s+", "", text)
    return f"cannot reach the database at {location.where}: {text}"


def connect(location: str | Path | Location, *, timeout: float = 30.0) -> Any:
    """A connection to ``location``: :class:`SQLiteConnection` or :class:`PostgresConnection`."""
    place = locate(location)
    if place.backend == SQLITE:
        try:
            return SQLiteConnection(place.target, timeout)
        except sqlite3.Error as e:
            raise StoreUnavailable(f"cannot open the database {place.target}: {e}") from None
    return PostgresConnection(place)


Connection = SQLiteConnection | PostgresConnection
"""Either backend's connection: ``execute``, ``executemany``, ``stream``, ``in_transaction``."""


def retried(method: Any) -> Any:
    """Run a store write again when the server went away during it (PostgreSQL restarted, a
    pooled connection dropped) or ended it in a deadlock: the write was rolled back whole, and
    the writes this wraps are safe to repeat (a judgment stored by an earlier try is found as a
    duplicate). Three tries; the last failure reaches the caller, who tells the person."""
    import functools

    @functools.wraps(method)
    def again(self: Any, *args: Any, **kwargs: Any) -> Any:
        for attempt in (1, 2, 3):
            try:
                return method(self, *args, **kwargs)
            except (StoreUnavailable, WriteConflict):
                if self.conn.in_transaction or attempt == 3:  # a caller's transaction: theirs
                    raise
        raise AssertionError("unreachable")

    return again
