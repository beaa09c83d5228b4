"""The connection layer and migrations: locations, placeholders, Alembic's head, both schemas."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pairwise.store import Store, StoreError, schema
from pairwise.store.connection import Location, StoreUnavailable, locate, pyformat
from pairwise.store.schema import HEAD_REVISION, REVISIONS, run_migrations

POSTGRES = os.environ.get("PAIRWISE_TEST_DATABASE_URL")


def test_a_path_or_sqlite_url_is_sqlite_and_a_postgresql_url_uses_psycopg(tmp_path: Path) -> None:
    assert locate(tmp_path / "a.db") == Location("sqlite", str(tmp_path / "a.db"))
    assert locate(f"sqlite:///{tmp_path}/b.db") == Location("sqlite", f"{tmp_path}/b.db")
    for scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        place = locate(f"{scheme}://ann:secret@db.example:6543/studies")
        assert place == Location(
            "postgresql", "postgresql+psycopg://ann:secret@db.example:6543/studies"
        )
        assert "secret" not in str(place)
        assert place.where == "db.example:6543/studies"


def test_an_unknown_scheme_is_refused_with_the_schemes_that_work() -> None:
    with pytest.raises(StoreUnavailable, match="unknown scheme 'mysql'.*postgresql://") as e:
        locate("mysql://root:hunter2@localhost/x")
    assert "hunter2" not in str(e.value) and "root:***@" in str(e.value)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://ann:hunter2@db:notaport/studies", "its port is not a number"),
        ("postgresql://ann:hunter2@db:5432", "it names no database"),
    ],
)
def test_a_postgresql_url_that_cannot_be_read_is_one_line_without_its_password(
    url: str, reason: str
) -> None:
    with pytest.raises(StoreUnavailable) as e:
        locate(url)
    assert str(e.value).startswith("cannot read the database URL postgresql://ann:***@db")
    assert str(e.value).endswith(reason) or reason in str(e.value)
    assert "hunter2" not in str(e.value)


@pytest.mark.parametrize(
    ("sqlite", "psycopg"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        ("UPDATE t SET a = :a WHERE id = :id", "UPDATE t SET a = %(a)s WHERE id = %(id)s"),
        ("SELECT '?', ':no', 'it''s ?' FROM t", "SELECT '?', ':no', 'it''s ?' FROM t"),
        ('SELECT "odd?name" FROM t', 'SELECT "odd?name" FROM t'),
        ("SELECT x::text, (id * ?) % 7", "SELECT x::text, (id * %s) %% 7"),
        ("SELECT 1 -- why? because\n, ?", "SELECT 1 -- why? because\n, %s"),
        ("SELECT a FROM t WHERE b LIKE ?", "SELECT a FROM t WHERE b LIKE %s"),
    ],
)
def test_placeholders_become_psycopg_ones_outside_literals(sqlite: str, psycopg: str) -> None:
    assert pyformat(sqlite) == psycopg


def test_the_head_revision_the_store_checks_is_alembics_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "pairwise.store:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def _sqlite_schema(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
    conn.close()
    return rows


def test_a_new_sqlite_file_is_stamped_and_alembic_finds_nothing_to_do(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]
    conn.close()
    before = _sqlite_schema(path)
    run_migrations(locate(path))  # the baseline's statements all find their objects in place
    assert _sqlite_schema(path) == before


def test_a_sqlite_file_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    with Store(path) as store:
        store.conn.execute("UPDATE schema_version SET version = version + 1")
    opened = subprocess.run(  # a new process: this one remembers the file as migrated
        [sys.executable, "-c", f"from pairwise.store import Store; Store({str(path)!r})"],
        capture_output=True,
        text=True,
    )
    assert opened.returncode == 1
    assert "StoreError" in opened.stderr
    assert "schema version 2; this pairwise knows 1" in opened.stderr


def test_a_store_at_a_newer_revision_is_refused_before_anything_is_written(new_db) -> None:
    location = new_db("newer-revision")
    with Store(location) as store:
        store.conn.execute("UPDATE alembic_version SET version_num = '9999'")
        before = store.counts()
    opened = subprocess.run(  # a new process: this one remembers the store as migrated
        [sys.executable, "-c", f"from pairwise.store import Store; Store({location!r})"],
        capture_output=True,
        text=True,
    )
    assert opened.returncode == 1
    assert f"schema revision 9999; this one knows revisions up to {HEAD_REVISION}" in (
        opened.stderr
    )
    with Store(location) as store:
        assert store.counts() == before
        revision = store.conn.execute("SELECT version_num FROM alembic_version").fetchall()
        assert revision == [("9999",)]


def test_the_known_revisions_are_the_migration_files_in_order() -> None:
    folder = Path(schema.__file__).parent / "migrations" / "versions"
    files = sorted(p.name.split("_", 1)[0] for p in folder.glob("[0-9]*.py"))
    assert tuple(files) == REVISIONS and REVISIONS[-1] == HEAD_REVISION


needs_postgres = pytest.mark.skipif(not POSTGRES, reason="PAIRWISE_TEST_DATABASE_URL is not set")


@needs_postgres
def test_postgres_tables_have_the_columns_of_the_sqlite_tables(
    tmp_path: Path, new_db: object
) -> None:
    from sqlalchemy import create_engine, inspect

    server = new_db("schema")  # type: ignore[operator]
    Store(server).close()
    file = tmp_path / "schema.db"
    Store(file).close()

    def columns(url: str) -> dict[str, list[tuple[str, bool]]]:
        engine = create_engine(url)
        try:
            inspector = inspect(engine)
            tables = {}
            for table in sorted(inspector.get_table_names()):
                key = set(inspector.get_pk_constraint(table)["constrained_columns"])
                tables[table] = [  # SQLite calls an INTEGER PRIMARY KEY nullable; it is not
                    (c["name"], c["nullable"] and c["name"] not in key)
                    for c in inspector.get_columns(table)
                ]
            return tables
        finally:
            engine.dispose()

    assert columns(locate(server).target) == columns(f"sqlite:///{file}")


@needs_postgres
def test_pool_sizes_come_from_the_environment(new_db, monkeypatch) -> None:
    from pairwise.store.connection import dispose_engines

    location = new_db("pool-sizes")
    dispose_engines()  # the pool is made with the process's first store of the database
    monkeypatch.setenv("PAIRWISE_DB_POOL_SIZE", "3")
    monkeypatch.setenv("PAIRWISE_DB_POOL_OVERFLOW", "0")
    with Store(location) as store:
        pool = store.conn._engine.pool
        assert (pool.size(), pool._max_overflow) == (3, 0)
    for value in ("0", "-1", "many"):
        monkeypatch.setenv("PAIRWISE_DB_POOL_SIZE", value)
        with pytest.raises(StoreError, match=f"PAIRWISE_DB_POOL_SIZE must be .* not '{value}'"):
            Store(location)
