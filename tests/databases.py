"""Where the tests' stores live: SQLite files, or databases on a PostgreSQL server.

``PAIRWISE_TEST_DATABASE_URL`` picks the backend. Unset, a store location is a path in the test's
temporary folder, as a user's would be. Set to a PostgreSQL server URL (for example
``postgresql://pairwise@127.0.0.1:54329/postgres``; the role needs ``CREATEDB``), every location
is a fresh database on that server, dropped when the test ends.

Fresh databases are cheap on PostgreSQL: each is a copy (``CREATE DATABASE ... TEMPLATE``) of one
migrated empty database, or of a seeded one (the demo study), both made once per session. A
location is a string either way, the same thing a user passes as ``--db`` or ``PAIRWISE_DB``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

SERVER = os.environ.get("PAIRWISE_TEST_DATABASE_URL") or None
ON_POSTGRES = SERVER is not None
BACKEND = "PostgreSQL" if ON_POSTGRES else "SQLite"

#: ``new(name, copy_of=None, bare=False) -> location``
NewDatabase = Callable[..., str]


def is_postgres(location: str) -> bool:
    return location.startswith(("postgresql:", "postgres:", "postgresql+"))


class Databases:
    """Hands out store locations on the chosen backend and removes them afterwards."""

    def __init__(self, server: str | None = SERVER) -> None:
        self.server = server
        self._numbers = itertools.count(1)
        # databases of concurrent test runs on the same server never share a name
        self._prefix = f"pw_{secrets.token_hex(3)}"
        self._admin = None
        self._empty: str | None = None
        self._templates: list[str] = []

    # -- handing out locations ----------------------------------------------------------------

    @contextlib.contextmanager
    def scope(self, folder: Path) -> Iterator[NewDatabase]:
        """A ``new`` function whose databases (files in ``folder`` on SQLite) are dropped when
        the block ends. The same ``name`` twice in one scope is the same database."""
        made: dict[str, str] = {}

        def new(name: str = "pairwise", *, copy_of: str | None = None, bare: bool = False) -> str:
            if name not in made:
                made[name] = self.new(folder, name, copy_of=copy_of, bare=bare)
            return made[name]

        try:
            yield new
        finally:
            for location in made.values():
                self.drop(location)

    def new(
        self, folder: Path, name: str, *, copy_of: str | None = None, bare: bool = False
    ) -> str:
        """A location for a new store named ``name``: nothing there yet (SQLite: no file; on
        PostgreSQL an empty database with the current schema, or without any table if ``bare``),
        or a copy of the closed store at ``copy_of``."""
        if not self.server:
            path = folder / f"{name}.db"
            if copy_of is not None:
                shutil.copyfile(copy_of, path)
            return str(path)
        if copy_of is None and not bare:
            copy_of = self._empty_template()
        return self._create(name, template=copy_of)

    def template(self, name: str, fill: Callable[[str], object], folder: Path) -> str:
        """A store made once and then copied by ``new(copy_of=...)``: ``fill(location)`` writes
        it and must close every connection it opened."""
        location = self.new(folder, name)
        self._templates.append(location)
        fill(location)
        self._close_connections(location)
        return location

    def drop(self, location: str) -> None:
        if not is_postgres(location):
            return  # files go with the test's temporary folder
        import psycopg

        # FORCE ends the sessions still open on it; one that is only starting has no role yet,
        # and ending it is refused for the moment: the drop is tried again
        deadline = time.monotonic() + 30
        while True:
            try:
                with self._connection() as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{_database(location)}" WITH (FORCE)')
                return
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        """Drop the session's templates and close the server connection."""
        for location in [*self._templates, *filter(None, [self._empty])]:
            self.drop(location)
        self._templates, self._empty = [], None
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def missing(self, folder: Path) -> str:
        """A location no store can be opened at: a file in a folder that does not exist, or a
        database the server does not have."""
        if not self.server:
            return str(folder / "no" / "such" / "x.db")
        return urlsplit(self.server)._replace(path=f"/{self._prefix}_missing").geturl()

    # -- looking at a location from outside ----------------------------------------------------

    def holds_store(self, location: str) -> bool:
        """Whether anything was written at ``location``: a file, or any table in the database."""
        if not is_postgres(location):
            return Path(location).exists()
        with self.connect(location) as conn:
            row = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
        return row[0] > 0

    def contents(self, location: str) -> bytes:
        """Everything stored at ``location``, raw: the bytes of the database file and its
        write-ahead log, or every table of the database as text."""
        if not is_postgres(location):
            path = Path(location)
            return b"".join(p.read_bytes() for p in sorted(path.parent.glob(f"{path.name}*")))
        return "\n".join(self.snapshot(location)).encode()

    def snapshot(self, location: str) -> list[str]:
        """The data at ``location`` as lines of text, to compare before and after: SQLite's own
        dump of the file, or every table's rows (sorted) on PostgreSQL."""
        if not is_postgres(location):
            conn = sqlite3.connect(location)
            try:
                return list(conn.iterdump())
            finally:
                conn.close()
        lines: list[str] = []
        with self.connect(location) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public' ORDER BY table_name"
            ).fetchall()
            for (table,) in tables:
                with conn.cursor().copy(f'COPY "{table}" TO STDOUT') as copy:
                    rows = b"".join(copy).decode().splitlines()
                lines += [f"{table}: {row}" for row in sorted(rows)]
        return lines

    def connect(self, location: str):
        """A plain psycopg connection (autocommit) to the database at ``location``."""
        import psycopg

        return psycopg.connect(location, autocommit=True)

    # -- PostgreSQL ------------------------------------------------------------------------------

    def _connection(self):
        """The session's autocommit connection to the server's maintenance database."""
        if self._admin is None or self._admin.closed:
            import psycopg

            try:
                self._admin = psycopg.connect(self.server, autocommit=True)
            except psycopg.OperationalError as error:
                raise RuntimeError(
                    f"PAIRWISE_TEST_DATABASE_URL names a server the tests cannot reach: {error}"
                ) from error
        return contextlib.nullcontext(self._admin)

    def _create(self, name: str, template: str | None) -> str:
        database = f"{self._prefix}_{next(self._numbers)}_{_safe(name)}"[:63]
        source = f' TEMPLATE "{_database(template)}"' if template else " TEMPLATE template0"
        with self._connection() as admin:
            admin.execute(f'CREATE DATABASE "{database}"{source}')
        return urlsplit(self.server)._replace(path=f"/{database}").geturl()

    def _empty_template(self) -> str:
        if self._empty is None:
            from pairwise.store import Store

            def migrate(location: str) -> None:
                Store(location).close()

            self._empty = self._create("empty", template=None)
            migrate(self._empty)
            self._close_connections(self._empty)
        return self._empty

    def _close_connections(self, location: str) -> None:
        """End every session on ``location`` (a pool kept by the process that filled it), so
        that it can serve as a template."""
        if not is_postgres(location):
            return
        with self._connection() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND usename = current_user AND pid <> pg_backend_pid()",
                [_database(location)],
            )


def _integrity_errors() -> tuple[type[Exception], ...]:
    """What a broken constraint raises: the SQLite driver's error, psycopg's, or SQLAlchemy's
    wrapping of either."""
    found: list[type[Exception]] = [sqlite3.IntegrityError]
    with contextlib.suppress(ImportError):
        import psycopg

        found.append(psycopg.IntegrityError)
    with contextlib.suppress(ImportError):
        import sqlalchemy.exc

        found.append(sqlalchemy.exc.IntegrityError)
    return tuple(found)


INTEGRITY_ERRORS = _integrity_errors()


def dump(store) -> list[str]:
    """Everything ``store`` holds, as lines of text: equal dumps mean nothing was written.
    SQLite's own dump of the file (schema and rows); on PostgreSQL every table's rows, sorted."""
    if not ON_POSTGRES:
        return list(store.conn.iterdump())
    tables = store.query(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = current_schema() ORDER BY table_name"
    )
    return [
        f"{table}: {row}"
        for table in (t["table_name"] for t in tables)
        for row in sorted(repr(r) for r in store.query(f'SELECT * FROM "{table}"'))
    ]


def check_intact(store) -> None:
    """SQLite's own checks of a file that many processes wrote or a killed one left: the pages
    are sound and every foreign key holds. (A PostgreSQL server checks foreign keys at every
    write and keeps its files itself; a client, killed or not, cannot leave them damaged.)"""
    if ON_POSTGRES:
        return
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []


def _database(location: str) -> str:
    return urlsplit(location).path.lstrip("/")


def _safe(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())
