"""The schema and its migrations: tables, indexes, the triggers that keep counts, added columns.

The tables are plain SQL that researchers can open with ``sqlite-utils`` or Datasette. Counts the
hot paths read (a study's totals, a model pair's judgments and wins, annotators' scan starts) are
kept by triggers, so that every writer keeps them right. A store written by an earlier version is
brought up to date when it is opened, once per file and process.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .base import StoreBase
from .connection import Location
from .dialect import POSTGRESQL, SQLITE, Trigger, flag, table_statements
from .records import (
    _OLD_PLACEHOLDER_RESPONSE,
    PLACEHOLDER_MARK,
    PLACEHOLDER_RESPONSE,
    SCHEMA_VERSION,
    StoreError,
    content_hash,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS prompts (
    id TEXT PRIMARY KEY,
    category TEXT NOT NULL,
    messages TEXT NOT NULL,          -- JSON list of {role, content}, ending with a user turn
    tags TEXT NOT NULL DEFAULT '[]', -- JSON list of strings
    turns INTEGER NOT NULL,          -- user turns
    content_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    id INTEGER PRIMARY KEY,
    prompt_id TEXT NOT NULL REFERENCES prompts(id),
    model TEXT NOT NULL,
    content TEXT NOT NULL,
    chars INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (prompt_id, model)
);
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    question TEXT NOT NULL,
    guidelines TEXT NOT NULL DEFAULT '',
    scale INTEGER NOT NULL CHECK (scale IN (2, 3, 5, 7)),
    overlap INTEGER NOT NULL CHECK (overlap >= 1),
    models TEXT NOT NULL,            -- JSON list
    pair_plan TEXT NOT NULL,         -- JSON: how the pairs were chosen
    gold_rate REAL NOT NULL DEFAULT 0 CHECK (gold_rate >= 0 AND gold_rate <= 1),
    created_at TEXT NOT NULL,
    adaptive INTEGER NOT NULL DEFAULT 0, -- 1: hand out the least settled pair's comparisons first
    demo INTEGER NOT NULL DEFAULT 0,     -- the demo study seeded on first start
    set_apart_at TEXT,                   -- when it was set apart: out of annotation and default views
    read_only INTEGER NOT NULL DEFAULT 0 -- 1: imported without texts, never served for annotation
);
CREATE TABLE IF NOT EXISTS study_pairs (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    model_a TEXT NOT NULL,
    model_b TEXT NOT NULL,
    judgments INTEGER NOT NULL DEFAULT 0, -- judgments of the pair's regular comparisons
    wins INTEGER NOT NULL DEFAULT 0,      -- of them, those model A won
    UNIQUE (study_id, model_a, model_b)
);
CREATE TABLE IF NOT EXISTS comparisons (
    id INTEGER PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    prompt_id TEXT NOT NULL REFERENCES prompts(id),
    response_a INTEGER NOT NULL REFERENCES responses(id),
    response_b INTEGER NOT NULL REFERENCES responses(id),
    is_gold INTEGER NOT NULL DEFAULT 0,
    gold_score INTEGER,
    n_judgments INTEGER NOT NULL DEFAULT 0,
    is_open INTEGER NOT NULL DEFAULT 1, -- n_judgments < the study's overlap
    sort_key INTEGER NOT NULL,          -- random: the order comparisons are handed out
    pair_id INTEGER REFERENCES study_pairs(id), -- the model pair, for adaptive assignment
    UNIQUE (study_id, response_a, response_b),
    CHECK (response_a != response_b)
);
CREATE INDEX IF NOT EXISTS comparisons_next
    ON comparisons (study_id, is_gold, is_open, sort_key);
CREATE TABLE IF NOT EXISTS annotators (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('annotator', 'admin')),
    email TEXT UNIQUE,
    excluded INTEGER NOT NULL DEFAULT 0, -- judgments kept, left out of reports
    created_at TEXT NOT NULL,
    judge_kind TEXT NOT NULL DEFAULT 'human' CHECK (judge_kind IN ('human', 'model'))
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,     -- sha256 of the secret; the secret itself is never stored
    annotator_id INTEGER NOT NULL REFERENCES annotators(id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS tokens_annotator ON tokens (annotator_id);
CREATE TABLE IF NOT EXISTS sessions (
    session_hash TEXT PRIMARY KEY,   -- sha256 of the browser's session secret, never the secret
    token_hash TEXT NOT NULL REFERENCES tokens(token_hash), -- the link it was opened with
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT                    -- signed out
);
CREATE INDEX IF NOT EXISTS sessions_token ON sessions (token_hash);
CREATE TABLE IF NOT EXISTS leases (
    comparison_id INTEGER NOT NULL REFERENCES comparisons(id),
    annotator_id INTEGER NOT NULL REFERENCES annotators(id),
    shown_order TEXT NOT NULL CHECK (shown_order IN ('AB', 'BA')),
    leased_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (comparison_id, annotator_id)
);
CREATE INDEX IF NOT EXISTS leases_annotator ON leases (annotator_id, expires_at);
CREATE TABLE IF NOT EXISTS judgments (
    id INTEGER PRIMARY KEY,
    comparison_id INTEGER NOT NULL REFERENCES comparisons(id),
    annotator_id INTEGER NOT NULL REFERENCES annotators(id),
    score INTEGER NOT NULL,          -- oriented to model A: + A better, 0 tie, - B better
    shown_order TEXT CHECK (shown_order IN ('AB', 'BA')), -- NULL: unknown (imported without it)
    rationale TEXT NOT NULL DEFAULT '',
    seconds REAL,
    created_at TEXT NOT NULL,
    p_a REAL CHECK (p_a >= 0 AND p_a <= 1), -- a soft verdict: P(A better); NULL: from score
    score_ab INTEGER,                -- a judge shown both orders: its score with A shown first,
    score_ba INTEGER,                -- and with B shown first (score: their consensus)
    UNIQUE (comparison_id, annotator_id)
);
CREATE INDEX IF NOT EXISTS judgments_annotator ON judgments (annotator_id, comparison_id);
CREATE TABLE IF NOT EXISTS passes (
    id INTEGER PRIMARY KEY,
    comparison_id INTEGER NOT NULL REFERENCES comparisons(id),
    annotator_id INTEGER NOT NULL REFERENCES annotators(id),
    reason TEXT NOT NULL CHECK (reason IN ('skip', 'unsafe', 'broken', 'unanswerable')),
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (comparison_id, annotator_id)
);
CREATE INDEX IF NOT EXISTS passes_annotator ON passes (annotator_id, comparison_id);
CREATE TABLE IF NOT EXISTS scan_starts (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    annotator_id INTEGER NOT NULL REFERENCES annotators(id),
    sort_key INTEGER NOT NULL,       -- open regular comparisons before it: all judged or passed
    PRIMARY KEY (study_id, annotator_id)
);
CREATE INDEX IF NOT EXISTS scan_starts_key ON scan_starts (study_id, sort_key);
CREATE TABLE IF NOT EXISTS scores (
    response_id INTEGER NOT NULL REFERENCES responses(id),
    scorer TEXT NOT NULL,            -- a reward model or any per-response scorer
    score REAL NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (response_id, scorer)
);
CREATE TABLE IF NOT EXISTS study_totals (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    shard INTEGER NOT NULL,          -- comparison id modulo TOTALS_SHARDS; readers add them up
    regular INTEGER NOT NULL,        -- comparisons that are not gold checks
    complete INTEGER NOT NULL,       -- regular comparisons no longer open
    judgments INTEGER NOT NULL,      -- judgments of regular comparisons
    open_judgments INTEGER NOT NULL, -- judgments of regular comparisons still open
    PRIMARY KEY (study_id, shard)
);
"""

TOTALS_SHARDS = 32
"""A study's totals are spread over this many rows, by comparison id: each row a judgment changes
stays locked until its transaction has committed (on PostgreSQL, until the server has flushed its
log), so with one row per study every judgment of the study waited for the one before it. Readers
add up at most this many rows."""


def _add_totals(row: str) -> str:
    """Trigger SQL adding comparison ``row`` (``new`` or ``old``) to its study's totals."""
    return (
        "INSERT INTO study_totals (study_id, shard, regular, complete, judgments, open_judgments)"
        f" SELECT {row}.study_id, {row}.id % {TOTALS_SHARDS}, 1, {flag(f'{row}.is_open = 0')},"
        f" {row}.n_judgments, {row}.n_judgments * {row}.is_open WHERE {row}.is_gold = 0"
        " ON CONFLICT (study_id, shard) DO UPDATE SET regular = study_totals.regular + 1,"
        " complete = study_totals.complete + excluded.complete,"
        " judgments = study_totals.judgments + excluded.judgments,"
        " open_judgments = study_totals.open_judgments + excluded.open_judgments;"
    )


def _subtract_totals(row: str) -> str:
    """Trigger SQL taking comparison ``row`` out of its study's totals."""
    return (
        "UPDATE study_totals SET regular = regular - 1,"
        f" complete = complete - {flag(f'{row}.is_open = 0')},"
        f" judgments = judgments - {row}.n_judgments,"
        f" open_judgments = open_judgments - {row}.n_judgments * {row}.is_open"
        f" WHERE study_id = {row}.study_id AND shard = {row}.id % {TOTALS_SHARDS}"
        f" AND {row}.is_gold = 0;"
    )


_MOVE_SCAN_STARTS = (
    "UPDATE scan_starts SET sort_key = new.sort_key"
    " WHERE study_id = new.study_id AND sort_key > new.sort_key;"
)
_FORGET_SCAN_START = "DELETE FROM scan_starts WHERE annotator_id = old.annotator_id;"

# A comparison that becomes open and regular (a larger overlap, a gold mark taken off, a new
# comparison) or a judgment or pass taken back moves scan starts back, so that the next-comparison
# scan never starts past an item it should hand out, whoever writes the change. study_totals
# follow every comparison row, so that progress is read, not counted, on each press of the
# annotate page.
_TRIGGERS = (
    Trigger(
        "scan_starts_reopened",
        "UPDATE OF is_open, is_gold, sort_key",
        "comparisons",
        _MOVE_SCAN_STARTS,
        when="new.is_open = 1 AND new.is_gold = 0"
        " AND (old.is_open = 0 OR old.is_gold = 1 OR new.sort_key < old.sort_key)",
    ),
    Trigger(
        "scan_starts_added",
        "INSERT",
        "comparisons",
        _MOVE_SCAN_STARTS,
        when="new.is_open = 1 AND new.is_gold = 0",
    ),
    Trigger("scan_starts_unjudged", "DELETE", "judgments", _FORGET_SCAN_START),
    Trigger("scan_starts_unpassed", "DELETE", "passes", _FORGET_SCAN_START),
    # a study's totals are one row that every writer adds to: at commit (see Trigger.deferred)
    Trigger("study_totals_added", "INSERT", "comparisons", _add_totals("new"), deferred=True),
    Trigger(
        "study_totals_changed",
        "UPDATE OF study_id, is_gold, is_open, n_judgments",
        "comparisons",
        _subtract_totals("old") + " " + _add_totals("new"),
        deferred=True,
    ),
    Trigger(
        "study_totals_removed", "DELETE", "comparisons", _subtract_totals("old"), deferred=True
    ),
)


# Each comparison belongs to a model pair of its study (study_pairs), whose judgment and win counts
# follow the judgments, so that adaptive assignment reads a few pair rows rather than counting.
# A comparison inserted without its pair (imports, older code) gets it here; setting a pair, or
# marking a comparison gold or regular, moves its judgments between the pairs' counts.
_PAIR_OF_RESPONSES = (
    "SELECT p.id FROM study_pairs p, responses ra, responses rb"
    " WHERE ra.id = {row}.response_a AND rb.id = {row}.response_b"
    " AND p.study_id = {row}.study_id AND p.model_a = ra.model AND p.model_b = rb.model"
)
_NEW_PAIRS = (
    "INSERT INTO study_pairs (study_id, model_a, model_b)"
    " SELECT {row}.study_id, ra.model, rb.model FROM responses ra, responses rb"
    " WHERE ra.id = {row}.response_a AND rb.id = {row}.response_b"
    " ON CONFLICT DO NOTHING"
)


def _move_pair_counts(row: str, sign: str) -> str:
    """Trigger SQL adding (``sign`` ``+``) or taking out (``-``) comparison ``row``'s judgments."""
    return (
        f"UPDATE study_pairs SET"
        f" judgments = judgments {sign} (SELECT count(*) FROM judgments j"
        f" WHERE j.comparison_id = {row}.id),"
        f" wins = wins {sign} (SELECT count(*) FROM judgments j"
        f" WHERE j.comparison_id = {row}.id AND j.score > 0)"
        f" WHERE id = {row}.pair_id AND {row}.is_gold = 0;"
    )


def _count_judgment(row: str, sign: str) -> str:
    """Trigger SQL adding or taking out one judgment ``row`` in its pair's counts."""
    return (
        f"UPDATE study_pairs SET judgments = judgments {sign} 1,"
        f" wins = wins {sign} {flag(f'{row}.score > 0')}"
        " WHERE id = (SELECT c.pair_id FROM comparisons c"
        f" WHERE c.id = {row}.comparison_id AND c.is_gold = 0);"
    )


_PAIR_INDEX = (
    "CREATE INDEX IF NOT EXISTS comparisons_pair_next"
    " ON comparisons (pair_id, is_gold, is_open, sort_key)"
)
_PAIR_TRIGGERS = (
    Trigger(
        "study_pairs_added",
        "INSERT",
        "comparisons",
        _NEW_PAIRS.format(row="new")
        + "; UPDATE comparisons SET pair_id = ("
        + _PAIR_OF_RESPONSES.format(row="new")
        + ") WHERE id = new.id;",
        when="new.pair_id IS NULL",
    ),
    Trigger(
        "study_pairs_moved",
        "UPDATE OF pair_id, is_gold",
        "comparisons",
        _move_pair_counts("old", "-") + " " + _move_pair_counts("new", "+"),
    ),
    Trigger("study_pairs_judged", "INSERT", "judgments", _count_judgment("new", "+")),
    Trigger("study_pairs_unjudged", "DELETE", "judgments", _count_judgment("old", "-")),
    Trigger(
        "study_pairs_rescored",
        "UPDATE OF score, comparison_id",
        "judgments",
        _count_judgment("old", "-") + " " + _count_judgment("new", "+"),
    ),
)


def baseline_statements(backend: str) -> list[str]:
    """Every statement that creates the baseline schema on ``backend`` (all ``IF NOT EXISTS`` or
    ``OR REPLACE``, so running them on a store that has it changes nothing)."""
    statements = table_statements(_SCHEMA, backend) + [_PAIR_INDEX]
    for trigger in (*_TRIGGERS, *_PAIR_TRIGGERS):
        statements += trigger.statements(backend)
    return statements


# pairs for comparisons of a database written before study_pairs existed (the trigger above
# counts their judgments as the pair is set)
_FILL_PAIRS = (
    "INSERT INTO study_pairs (study_id, model_a, model_b)"
    " SELECT DISTINCT c.study_id, ra.model, rb.model FROM comparisons c"
    " JOIN responses ra ON ra.id = c.response_a JOIN responses rb ON rb.id = c.response_b"
    " WHERE c.pair_id IS NULL ON CONFLICT DO NOTHING",
    "UPDATE comparisons SET pair_id = (" + _PAIR_OF_RESPONSES.format(row="comparisons") + ")"
    " WHERE pair_id IS NULL",
)


# The totals of every study that has no totals rows, counted from its comparisons: a store written
# before study_totals existed, one whose table was made again in shards, or rows loaded in bulk
# with the triggers off.
FILL_STUDY_TOTALS = (
    "INSERT INTO study_totals (study_id, shard, regular, complete, judgments, open_judgments)"
    f" SELECT c.study_id, c.id % {TOTALS_SHARDS}, count(*), sum(1 - c.is_open),"
    " sum(c.n_judgments), sum(c.n_judgments * c.is_open) FROM comparisons c"
    " WHERE c.is_gold = 0 AND c.study_id IN"
    " (SELECT s.id FROM studies s WHERE s.id NOT IN (SELECT study_id FROM study_totals))"
    f" GROUP BY c.study_id, c.id % {TOTALS_SHARDS}"
)


def run_in_migration(bind: Any, statements: list[str]) -> None:
    """Run schema statements on a migration's connection: through SQLAlchemy, psycopg reads a
    ``%`` (the modulo of the totals' shards) as a placeholder unless it is doubled."""
    for statement in statements:
        if bind.dialect.name == POSTGRESQL:
            statement = statement.replace("%", "%%")
        bind.exec_driver_sql(statement)


def shard_totals_statements(backend: str) -> list[str]:
    """Revision 0002 on a store whose ``study_totals`` has one row per study: the table made
    again in shards (see :data:`TOTALS_SHARDS`) and filled from the comparisons. The triggers
    that keep it are dropped first and made again by :func:`baseline_statements` after."""
    on = " ON comparisons" if backend == POSTGRESQL else ""
    (create,) = [t for t in table_statements(_SCHEMA, backend) if " study_totals (" in t]
    return [
        *(
            f"DROP TRIGGER IF EXISTS {name}{on}"
            for name in ("study_totals_added", "study_totals_changed", "study_totals_removed")
        ),
        "DROP TABLE study_totals",
        create,
        FILL_STUDY_TOTALS,
    ]


# Columns added after a table was first released: (table, column, definition). A store written by an
# earlier version gets them by ALTER TABLE on open; a new store has them in _SCHEMA as well. Append
# here (and to _SCHEMA) when a table gains a column; never reorder or remove entries.
_ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    (
        "annotators",
        "judge_kind",
        "TEXT NOT NULL DEFAULT 'human' CHECK (judge_kind IN ('human', 'model'))",
    ),
    ("judgments", "p_a", "REAL CHECK (p_a >= 0 AND p_a <= 1)"),
    ("judgments", "score_ab", "INTEGER"),
    ("judgments", "score_ba", "INTEGER"),
    ("studies", "adaptive", "INTEGER NOT NULL DEFAULT 0"),
    ("comparisons", "pair_id", "INTEGER REFERENCES study_pairs(id)"),
    ("studies", "demo", "INTEGER NOT NULL DEFAULT 0"),
    ("studies", "set_apart_at", "TEXT"),
    ("studies", "read_only", "INTEGER NOT NULL DEFAULT 0"),
)

# Studies with a comparison whose prompt or a response is a placeholder: read-only, and only they.
_WITH_PLACEHOLDERS = (
    "SELECT c.study_id FROM comparisons c JOIN responses r ON r.id IN (c.response_a, c.response_b)"
    " WHERE r.content = ? OR r.content LIKE ?"
    " UNION SELECT c.study_id FROM comparisons c JOIN prompts p ON p.id = c.prompt_id"
    " WHERE p.messages LIKE ?"
)
_MARK_READ_ONLY = (
    f"UPDATE studies SET read_only = 1 WHERE read_only = 0 AND id IN ({_WITH_PLACEHOLDERS})"
)
_UNMARK_READ_ONLY = (
    f"UPDATE studies SET read_only = 0 WHERE read_only = 1 AND id NOT IN ({_WITH_PLACEHOLDERS})"
)

REVISIONS = ("0001", "0002")
"""The Alembic revisions in ``migrations/versions``, oldest first."""

HEAD_REVISION = REVISIONS[-1]
"""The newest revision; a store at it needs no migration."""

_SQLITE_UPGRADED_TO = "0002"
"""The revision whose schema :meth:`SchemaMixin._upgrade_sqlite_to_baseline` gives a SQLite file
(tables, columns, totals in shards, triggers) without Alembic: a new file needs no migration, so
opening one imports neither Alembic nor SQLAlchemy. Later revisions run through Alembic."""

_migrated: set[str] = set()
_migrate_lock = threading.Lock()
_ALEMBIC_VERSION = (
    "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL,"
    " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
)


class SchemaMixin(StoreBase):
    """Creating and migrating the store's tables.

    Migrations are Alembic revisions (``pairwise/store/migrations``), run when a store behind the
    newest revision is opened, once per database and process. SQLite files written before Alembic
    came in are first brought up to the baseline revision here (added columns, a rebuilt table,
    counts filled in), then stamped with it.
    """

    def _migrate(self) -> None:
        key = self._migration_key()
        if key and key in _migrated:
            return
        with _migrate_lock:
            revision = self._revision()
            if revision is not None and revision not in REVISIONS:
                raise StoreError(
                    f"{self.location} was written by a newer pairwise (schema revision"
                    f" {revision}; this one knows revisions up to {HEAD_REVISION}):"
                    " upgrade pairwise to open it"
                )
            if self.backend == SQLITE:
                self._upgrade_sqlite_to_baseline()
            if self._revision() != HEAD_REVISION:
                run_migrations(self.location)
            with self.transaction():
                row = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()
                current = row[0] or 0
                if current > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.location} has schema version {current};"
                        f" this pairwise knows {SCHEMA_VERSION}"
                    )
                if current < SCHEMA_VERSION:
                    self.conn.execute("DELETE FROM schema_version")
                    self.conn.execute(
                        "INSERT INTO schema_version (version) VALUES (?)", [SCHEMA_VERSION]
                    )
        if key:
            _migrated.add(key)

    def _migration_key(self) -> str | None:
        if self.backend != SQLITE:
            return self.location.target
        return None if self.path == ":memory:" else str(Path(self.path).resolve())

    def _revision(self) -> str | None:
        """The Alembic revision the store is at, or ``None`` before its first migration."""
        if self.backend == SQLITE:
            present = (
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            )
        else:
            present = "SELECT 1 WHERE to_regclass('alembic_version') IS NOT NULL"
        if self.conn.execute(present).fetchone() is None:
            return None
        row = self.conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else row[0]

    def _upgrade_sqlite_to_baseline(self) -> None:
        """Create a new file's tables, or bring a file of an earlier version up to revision
        ``_SQLITE_UPGRADED_TO``, and stamp it with that revision."""
        with self.transaction():
            for statement in table_statements(_SCHEMA, SQLITE):
                self.conn.execute(statement)
            self._add_missing_columns()
            self._allow_unknown_shown_order()
            totals = {row[1] for row in self.conn.execute("PRAGMA table_info(study_totals)")}
            if "shard" not in totals:
                for statement in shard_totals_statements(SQLITE):
                    self.conn.execute(statement)
            for statement in baseline_statements(SQLITE):  # indexes and triggers
                self.conn.execute(statement)
            self.conn.execute(FILL_STUDY_TOTALS)
            if self.conn.execute(
                "SELECT 1 FROM comparisons WHERE pair_id IS NULL LIMIT 1"
            ).fetchone():
                for statement in _FILL_PAIRS:
                    self.conn.execute(statement)
            self.conn.execute(_ALEMBIC_VERSION)
            stamped = self.conn.execute("SELECT version_num FROM alembic_version").fetchone()
            if stamped is None:
                self.conn.execute("INSERT INTO alembic_version VALUES (?)", [_SQLITE_UPGRADED_TO])
            elif REVISIONS.index(stamped[0]) < REVISIONS.index(_SQLITE_UPGRADED_TO):
                self.conn.execute(
                    "UPDATE alembic_version SET version_num = ?", [_SQLITE_UPGRADED_TO]
                )

    def _add_missing_columns(self) -> None:
        """Bring a store written by an earlier version up to the current tables."""
        for table, column, definition in _ADDED_COLUMNS:
            present = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
                if (table, column) == ("studies", "read_only"):
                    self._anonymise_old_placeholders()

    def _anonymise_old_placeholders(self) -> None:
        """Earlier versions named the model in a placeholder response; rename them, and make the
        studies that use placeholders read-only."""
        self.conn.execute(
            "UPDATE responses SET content = ?, chars = ?, content_hash = ? WHERE content LIKE ?",
            [
                PLACEHOLDER_RESPONSE,
                len(PLACEHOLDER_RESPONSE),
                content_hash(PLACEHOLDER_RESPONSE),
                _OLD_PLACEHOLDER_RESPONSE,
            ],
        )
        self.mark_read_only_studies()

    def mark_read_only_studies(self) -> int:
        """Mark read-only every study with a comparison whose prompt or response is a placeholder
        (imported without its text), and open again one whose placeholders have all given way
        to real texts; returns how many studies became read-only."""
        placeholders = [PLACEHOLDER_RESPONSE, _OLD_PLACEHOLDER_RESPONSE, f"%{PLACEHOLDER_MARK}%"]
        with self.transaction() as conn:
            conn.execute(_UNMARK_READ_ONLY, placeholders)
            return conn.execute(_MARK_READ_ONLY, placeholders).rowcount

    def _allow_unknown_shown_order(self) -> None:
        """Judgments imported without the side they were shown on store it as NULL; a store
        written when ``shown_order`` was NOT NULL gets its judgments table rebuilt, once."""
        columns = self.conn.execute("PRAGMA table_info(judgments)").fetchall()
        if any(column[1] == "shown_order" and column[3] for column in columns):
            self.db["judgments"].transform(not_null={"shown_order": False})

    @property
    def schema_version(self) -> int:
        return self.conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]


def run_migrations(location: Location) -> None:
    """``alembic upgrade head`` on the store at ``location``, under a lock: app processes that
    start together on one PostgreSQL database migrate it once, the others wait and find it done."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    url = location.target if location.backend != SQLITE else f"sqlite:///{location.target}"
    engine = create_engine(url, poolclass=NullPool)
    config = Config()
    config.set_main_option("script_location", "pairwise.store:migrations")
    try:
        with engine.begin() as connection:
            if connection.dialect.name == POSTGRESQL:
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7206151)")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
