"""The SQLite store: the one module that speaks SQL.

Everything the app, the CLI and the exports persist goes through :class:`Store`. The schema is plain
SQL that researchers can open with the ``sqlite-utils`` CLI or Datasette. The file runs in WAL mode and
every write is one short ``BEGIN IMMEDIATE`` transaction, so that many annotators can write at once
without a writer ever upgrading a read lock (the usual cause of "database is locked"), and so that a
crash leaves either the whole write or none of it.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import math
import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .lazy import LazyModule
from .scales import SHOWN_ORDERS, Scale

if TYPE_CHECKING:  # the data stack is imported by the first frame a store builds
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import sqlite_utils
else:
    np, pd, pa = LazyModule("numpy"), LazyModule("pandas"), LazyModule("pyarrow")

SCHEMA_VERSION = 1
DEFAULT_LEASE_SECONDS = 600.0
PASS_REASONS = ("skip", "unsafe", "broken", "unanswerable")
ROLES = ("annotator", "admin")
JUDGE_KINDS = ("human", "model")  # a person who annotates; an automatic judge, by its name
#: The longest rationale or pass note an annotator can store, in characters.
MAX_NOTE_CHARS = 5_000

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
    study_id INTEGER PRIMARY KEY REFERENCES studies(id),
    regular INTEGER NOT NULL,        -- comparisons that are not gold checks
    complete INTEGER NOT NULL,       -- regular comparisons no longer open
    judgments INTEGER NOT NULL,      -- judgments of regular comparisons
    open_judgments INTEGER NOT NULL  -- judgments of regular comparisons still open
);
"""


def _add_totals(row: str) -> str:
    """Trigger SQL adding comparison ``row`` (``new`` or ``old``) to its study's totals."""
    return (
        "INSERT INTO study_totals (study_id, regular, complete, judgments, open_judgments)"
        f" SELECT {row}.study_id, 1, {row}.is_open = 0, {row}.n_judgments,"
        f" {row}.n_judgments * {row}.is_open WHERE {row}.is_gold = 0"
        " ON CONFLICT (study_id) DO UPDATE SET regular = regular + 1,"
        " complete = complete + excluded.complete, judgments = judgments + excluded.judgments,"
        " open_judgments = open_judgments + excluded.open_judgments;"
    )


def _subtract_totals(row: str) -> str:
    """Trigger SQL taking comparison ``row`` out of its study's totals."""
    return (
        f"UPDATE study_totals SET regular = regular - 1, complete = complete - ({row}.is_open = 0),"
        f" judgments = judgments - {row}.n_judgments,"
        f" open_judgments = open_judgments - {row}.n_judgments * {row}.is_open"
        f" WHERE study_id = {row}.study_id AND {row}.is_gold = 0;"
    )


# A comparison that becomes open and regular (a larger overlap, a gold mark taken off, a new
# comparison) or a judgment or pass taken back moves scan starts back, so that the next-comparison
# scan never starts past an item it should hand out, whoever writes the change. Trigger bodies hold
# semicolons, hence their own list.
_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS scan_starts_reopened"
    " AFTER UPDATE OF is_open, is_gold, sort_key ON comparisons"
    " WHEN new.is_open = 1 AND new.is_gold = 0"
    " AND (old.is_open = 0 OR old.is_gold = 1 OR new.sort_key < old.sort_key)"
    " BEGIN UPDATE scan_starts SET sort_key = new.sort_key"
    " WHERE study_id = new.study_id AND sort_key > new.sort_key; END",
    "CREATE TRIGGER IF NOT EXISTS scan_starts_added AFTER INSERT ON comparisons"
    " WHEN new.is_open = 1 AND new.is_gold = 0"
    " BEGIN UPDATE scan_starts SET sort_key = new.sort_key"
    " WHERE study_id = new.study_id AND sort_key > new.sort_key; END",
    "CREATE TRIGGER IF NOT EXISTS scan_starts_unjudged AFTER DELETE ON judgments"
    " BEGIN DELETE FROM scan_starts WHERE annotator_id = old.annotator_id; END",
    "CREATE TRIGGER IF NOT EXISTS scan_starts_unpassed AFTER DELETE ON passes"
    " BEGIN DELETE FROM scan_starts WHERE annotator_id = old.annotator_id; END",
    # study_totals follow every comparison row, so that progress is read, not counted, on each
    # press of the annotate page
    "CREATE TRIGGER IF NOT EXISTS study_totals_added AFTER INSERT ON comparisons"
    " BEGIN " + _add_totals("new") + " END",
    "CREATE TRIGGER IF NOT EXISTS study_totals_changed"
    " AFTER UPDATE OF study_id, is_gold, is_open, n_judgments ON comparisons"
    " BEGIN " + _subtract_totals("old") + " " + _add_totals("new") + " END",
    "CREATE TRIGGER IF NOT EXISTS study_totals_removed AFTER DELETE ON comparisons"
    " BEGIN " + _subtract_totals("old") + " END",
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
    "INSERT OR IGNORE INTO study_pairs (study_id, model_a, model_b)"
    " SELECT {row}.study_id, ra.model, rb.model FROM responses ra, responses rb"
    " WHERE ra.id = {row}.response_a AND rb.id = {row}.response_b"
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
        f" wins = wins {sign} ({row}.score > 0) WHERE id = (SELECT c.pair_id FROM comparisons c"
        f" WHERE c.id = {row}.comparison_id AND c.is_gold = 0);"
    )


_PAIR_TRIGGERS = (
    "CREATE INDEX IF NOT EXISTS comparisons_pair_next"
    " ON comparisons (pair_id, is_gold, is_open, sort_key)",
    "CREATE TRIGGER IF NOT EXISTS study_pairs_added AFTER INSERT ON comparisons"
    " WHEN new.pair_id IS NULL BEGIN "
    + _NEW_PAIRS.format(row="new")
    + "; UPDATE comparisons SET pair_id = ("
    + _PAIR_OF_RESPONSES.format(row="new")
    + ") WHERE id = new.id; END",
    "CREATE TRIGGER IF NOT EXISTS study_pairs_moved AFTER UPDATE OF pair_id, is_gold ON comparisons"
    " BEGIN " + _move_pair_counts("old", "-") + " " + _move_pair_counts("new", "+") + " END",
    "CREATE TRIGGER IF NOT EXISTS study_pairs_judged AFTER INSERT ON judgments"
    " BEGIN " + _count_judgment("new", "+") + " END",
    "CREATE TRIGGER IF NOT EXISTS study_pairs_unjudged AFTER DELETE ON judgments"
    " BEGIN " + _count_judgment("old", "-") + " END",
    "CREATE TRIGGER IF NOT EXISTS study_pairs_rescored AFTER UPDATE OF score, comparison_id"
    " ON judgments BEGIN "
    + _count_judgment("old", "-")
    + " "
    + _count_judgment("new", "+")
    + " END",
)

# pairs for comparisons of a database written before study_pairs existed (the trigger above
# counts their judgments as the pair is set)
_FILL_PAIRS = (
    "INSERT OR IGNORE INTO study_pairs (study_id, model_a, model_b)"
    " SELECT DISTINCT c.study_id, ra.model, rb.model FROM comparisons c"
    " JOIN responses ra ON ra.id = c.response_a JOIN responses rb ON rb.id = c.response_b"
    " WHERE c.pair_id IS NULL",
    "UPDATE comparisons SET pair_id = (" + _PAIR_OF_RESPONSES.format(row="comparisons") + ")"
    " WHERE pair_id IS NULL",
)

# totals for studies of a database written before study_totals existed
_FILL_STUDY_TOTALS = (
    "INSERT INTO study_totals (study_id, regular, complete, judgments, open_judgments)"
    " SELECT c.study_id, count(*), sum(c.is_open = 0), sum(c.n_judgments),"
    " sum(c.n_judgments * c.is_open) FROM comparisons c WHERE c.is_gold = 0 AND c.study_id IN"
    " (SELECT s.id FROM studies s WHERE s.id NOT IN (SELECT study_id FROM study_totals))"
    " GROUP BY c.study_id"
)


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


_ANNOTATOR_COLUMNS = "id, name, role, email, excluded, judge_kind"


def _annotator_from(row: Sequence[Any]) -> Annotator:
    return Annotator(row[0], row[1], row[2], row[3], bool(row[4]), row[5])


PLACEHOLDER_RESPONSE = "(response not provided)"
"""The text of a response that judgments were imported without. It names no model."""
PLACEHOLDER_MARK = "text not provided)"
"""How every placeholder prompt turn ends (and placeholder responses of earlier versions)."""
_OLD_PLACEHOLDER_RESPONSE = "(response of % — text not provided)"
# Studies with a comparison whose prompt or a response is a placeholder: read-only.
_MARK_READ_ONLY = (
    "UPDATE studies SET read_only = 1 WHERE read_only = 0 AND id IN ("
    " SELECT c.study_id FROM comparisons c JOIN responses r ON r.id IN (c.response_a, c.response_b)"
    " WHERE r.content = ? OR r.content LIKE ?"
    " UNION SELECT c.study_id FROM comparisons c JOIN prompts p ON p.id = c.prompt_id"
    " WHERE p.messages LIKE ?)"
)


def now_iso() -> str:
    """UTC time as ISO 8601 with milliseconds: sortable as text, readable in any SQLite tool."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def content_hash(value: Any) -> str:
    """A stable hash of JSON-able content, to tell a re-import from a conflicting duplicate."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class StoreError(Exception):
    """A request the store refuses: unknown study, model without responses, bad score."""


class DuplicateConflict(StoreError):
    """An id that is already stored with different content."""


@dataclass(frozen=True)
class Prompt:
    id: str
    category: str
    messages: list[dict[str, str]]
    tags: list[str]
    turns: int


@dataclass(frozen=True)
class Study:
    id: int
    name: str
    question: str
    guidelines: str
    scale: Scale
    overlap: int
    models: list[str]
    pair_plan: dict[str, Any]
    gold_rate: float
    created_at: str
    adaptive: bool = False
    demo: bool = False
    set_apart_at: str | None = None
    read_only: bool = False
    """Imported without the texts of its prompts or responses: reported, never annotated."""

    @property
    def set_apart(self) -> bool:
        """Set apart (the demo, once sign-in is on): no longer handed out to annotators, and left
        out of reports, Progress and exports over all studies unless asked for by name."""
        return self.set_apart_at is not None


@dataclass(frozen=True)
class Annotator:
    id: int
    name: str
    role: str
    email: str | None
    excluded: bool
    judge_kind: str = "human"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_model(self) -> bool:
        """An automatic judge: its verdicts are imported; it is never assigned work."""
        return self.judge_kind == "model"


@dataclass(frozen=True)
class Assignment:
    """A comparison handed to one annotator, with the side order they will see.

    It carries the model names because the store is server side; the page must only ever render
    ``left`` and ``right``.
    """

    comparison_id: int
    study_id: int
    prompt: Prompt
    shown_order: str
    left: str
    right: str
    model_a: str
    model_b: str
    is_gold: bool


@dataclass(frozen=True)
class Recorded:
    """What happened to a submitted judgment or pass: ``stored``, ``duplicate`` or ``full``."""

    status: str
    judgment_id: int | None = None

    @property
    def stored(self) -> bool:
        return self.status == "stored"


@dataclass(frozen=True)
class ImportedJudgment:
    """A judgment made outside the app, ready for :meth:`Store.add_judgments`.

    ``score`` is oriented to the comparison's model A; ``shown_order`` is ``None`` when the side
    each response was shown on is unknown; ``created_at`` defaults to the import time.
    ``p_a`` is a soft verdict, the probability that A is better (``None``: the score says it);
    ``score_ab`` and ``score_ba`` are a judge's scores with A shown first and with B shown first,
    when it saw both orders.
    """

    comparison_id: int
    annotator_id: int
    score: int
    shown_order: str | None = None
    rationale: str = ""
    seconds: float | None = None
    created_at: str | None = None
    p_a: float | None = None
    score_ab: int | None = None
    score_ba: int | None = None


_BEFORE_ALL, _AFTER_ALL = -(2**63), 2**63 - 1  # scan starts before or after every sort_key

_migrated: set[str] = set()
_migrate_lock = threading.Lock()


class Store:
    """A pairwise database in one SQLite file.

    One ``Store`` holds one connection; give each thread or process its own. Open it on a path
    (created on first use) or on ``":memory:"`` for throwaway work.
    """

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

    # -- schema ---------------------------------------------------------------------------------

    def _migrate(self) -> None:
        key = str(Path(self.path).resolve()) if self.path != ":memory:" else None
        if key and key in _migrated:
            return
        with _migrate_lock, self.transaction():
            for statement in _split_sql(_SCHEMA):
                self.conn.execute(statement)
            self._add_missing_columns()
            self._allow_unknown_shown_order()
            for statement in [*_TRIGGERS, *_PAIR_TRIGGERS, _FILL_STUDY_TOTALS]:
                self.conn.execute(statement)
            if self.conn.execute(
                "SELECT 1 FROM comparisons WHERE pair_id IS NULL LIMIT 1"
            ).fetchone():
                for statement in _FILL_PAIRS:
                    self.conn.execute(statement)
            row = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {current}; this pairwise knows {SCHEMA_VERSION}"
                )
            if current < SCHEMA_VERSION:
                self.conn.execute("DELETE FROM schema_version")
                self.conn.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])
        if key:
            _migrated.add(key)

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
        (imported without its text); returns how many studies became read-only."""
        with self.transaction() as conn:
            marked = conn.execute(
                _MARK_READ_ONLY,
                [PLACEHOLDER_RESPONSE, _OLD_PLACEHOLDER_RESPONSE, f"%{PLACEHOLDER_MARK}%"],
            )
            return marked.rowcount

    def _allow_unknown_shown_order(self) -> None:
        """Judgments imported without the side they were shown on store it as NULL; a store
        written when ``shown_order`` was NOT NULL gets its judgments table rebuilt, once."""
        columns = self.conn.execute("PRAGMA table_info(judgments)").fetchall()
        if any(column[1] == "shown_order" and column[3] for column in columns):
            self.db["judgments"].transform(not_null={"shown_order": False})

    @property
    def schema_version(self) -> int:
        return self.conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]

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

    # -- prompts and responses ----------------------------------------------------------------

    def add_prompts(self, prompts: Iterable[Prompt | dict[str, Any]]) -> tuple[int, int]:
        """Insert prompts; an id already stored with the same content is skipped.

        Returns ``(inserted, unchanged)``. An id stored with different content raises
        :class:`DuplicateConflict` and, inside the caller's transaction, writes nothing.
        """
        inserted = unchanged = 0
        created = now_iso()
        with self.transaction() as conn:
            for item in prompts:
                p = item if isinstance(item, Prompt) else Prompt(**item)
                digest = content_hash([p.category, p.messages, p.tags])
                old = conn.execute(
                    "SELECT content_hash FROM prompts WHERE id = ?", [p.id]
                ).fetchone()
                if old is not None:
                    if old[0] != digest:
                        raise DuplicateConflict(
                            f"prompt {p.id!r} is already stored with other content"
                        )
                    unchanged += 1
                    continue
                conn.execute(
                    "INSERT INTO prompts (id, category, messages, tags, turns, content_hash, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        p.id,
                        p.category,
                        json.dumps(p.messages, ensure_ascii=False),
                        json.dumps(p.tags, ensure_ascii=False),
                        p.turns,
                        digest,
                        created,
                    ],
                )
                inserted += 1
        return inserted, unchanged

    def add_responses(self, responses: Iterable[tuple[str, str, str]]) -> tuple[int, int]:
        """Insert ``(prompt_id, model, content)`` rows; same rules as :meth:`add_prompts`.

        The stored responses of the rows' prompts are read in a few queries and the new rows
        written with one ``executemany``, so that a large import costs no query per row.
        """
        rows = list(responses)
        inserted = unchanged = 0
        created = now_iso()
        with self.transaction() as conn:
            prompt_ids = list(dict.fromkeys(r[0] for r in rows))
            known = {
                row[0] for row in self._where_in(conn, "SELECT id FROM prompts", "id", prompt_ids)
            }
            stored = {
                (row[0], row[1]): row[2]
                for row in self._where_in(
                    conn,
                    "SELECT prompt_id, model, content_hash FROM responses",
                    "prompt_id",
                    prompt_ids,
                )
            }
            new = []
            for prompt_id, model, content in rows:
                digest = content_hash(content)
                old = stored.get((prompt_id, model))
                if old is not None:
                    if old != digest:
                        raise DuplicateConflict(
                            f"a response of {model!r} to prompt {prompt_id!r} is already stored"
                            " with other content"
                        )
                    unchanged += 1
                    continue
                if prompt_id not in known:
                    raise StoreError(f"unknown prompt id {prompt_id!r}")
                stored[prompt_id, model] = digest
                new.append((prompt_id, model, content, len(content), digest, created))
                inserted += 1
            conn.executemany(
                "INSERT INTO responses (prompt_id, model, content, chars, content_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                new,
            )
        return inserted, unchanged

    @staticmethod
    def _where_in(
        conn: sqlite3.Connection, select: str, column: str, values: Sequence[Any]
    ) -> Iterator[tuple]:
        """Rows of ``select`` whose ``column`` is one of ``values``, asked for 500 at a time."""
        for start in range(0, len(values), 500):
            chunk = list(values[start : start + 500])
            yield from conn.execute(
                f"{select} WHERE {column} IN ({', '.join('?' * len(chunk))})", chunk
            )

    def response_ids(self) -> dict[tuple[str, str], int]:
        """Every stored response's id by ``(prompt_id, model)``."""
        rows = self.conn.execute("SELECT prompt_id, model, id FROM responses")
        return {(prompt_id, model): rid for prompt_id, model, rid in rows}

    # -- scores of responses ----------------------------------------------------------------------

    def add_scores(self, scores: Iterable[tuple[str, str, str, float]]) -> tuple[int, int]:
        """Insert ``(prompt_id, model, scorer, score)`` rows; returns ``(inserted, unchanged)``.

        A response a scorer already scored the same is skipped; with another score it raises
        :class:`DuplicateConflict`, and an unknown response :class:`StoreError` (inside the
        caller's transaction, nothing is written).
        """
        inserted = unchanged = 0
        created = now_iso()
        with self.transaction() as conn:
            ids = self.response_ids()
            for prompt_id, model, scorer, score in scores:
                rid = ids.get((prompt_id, model))
                if rid is None:
                    raise StoreError(f"no response of {model!r} to prompt {prompt_id!r}")
                old = conn.execute(
                    "SELECT score FROM scores WHERE response_id = ? AND scorer = ?", [rid, scorer]
                ).fetchone()
                if old is not None:
                    if old[0] != score:
                        raise DuplicateConflict(
                            f"{scorer!r} already scored the response of {model!r} to prompt "
                            f"{prompt_id!r} as {old[0]!r}"
                        )
                    unchanged += 1
                    continue
                conn.execute(
                    "INSERT INTO scores (response_id, scorer, score, created_at) VALUES (?, ?, ?, ?)",
                    [rid, scorer, score, created],
                )
                inserted += 1
        return inserted, unchanged

    def scores_frame(self) -> pd.DataFrame:
        """Scores of responses, one row each: prompt_id, model, scorer, score."""
        return pd.read_sql_query(
            "SELECT r.prompt_id, r.model, s.scorer, s.score FROM scores s"
            " JOIN responses r ON r.id = s.response_id ORDER BY s.scorer, r.prompt_id, r.model",
            self.conn,
        )

    def prompt_ids(self, categories: Iterable[str] | None = None) -> set[str]:
        """Every stored prompt id, or those in ``categories``."""
        rows = self.conn.execute("SELECT id, category FROM prompts")
        wanted = None if categories is None else set(categories)
        return {r[0] for r in rows if wanted is None or r[1] in wanted}

    def categories(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT category FROM prompts ORDER BY 1")]

    def get_prompt(self, prompt_id: str) -> Prompt:
        row = self.conn.execute(
            "SELECT id, category, messages, tags, turns FROM prompts WHERE id = ?", [prompt_id]
        ).fetchone()
        if row is None:
            raise StoreError(f"unknown prompt id {prompt_id!r}")
        return Prompt(row[0], row[1], json.loads(row[2]), json.loads(row[3]), row[4])

    def models(self) -> list[str]:
        """Every model with at least one stored response."""
        return [
            r[0] for r in self.conn.execute("SELECT DISTINCT model FROM responses ORDER BY model")
        ]

    # -- studies --------------------------------------------------------------------------------

    def create_study(
        self,
        name: str,
        *,
        pairs: Sequence[tuple[str, str]],
        overlap: int = 3,
        scale: int = 7,
        question: str = "Which response is more helpful?",
        guidelines: str = "",
        gold_rate: float = 0.0,
        pair_plan: dict[str, Any] | None = None,
        prompt_ids: Iterable[str] | None = None,
        seed: int | None = None,
        adaptive: bool = False,
    ) -> Study:
        """Create a study with one comparison per prompt and model pair that both models answered.

        ``pairs`` are ``(model_a, model_b)``; A/B is a fixed orientation for analysis, not the side
        shown (that is drawn per annotator). Comparisons are handed out in a random order drawn
        from ``seed``; an ``adaptive`` study hands out the least settled pair's first
        (see :meth:`next_comparison`).
        """
        _check_study_settings(scale, overlap, gold_rate)
        if not pairs:
            raise StoreError("a study needs at least one model pair")
        models = sorted({m for pair in pairs for m in pair})
        known = set(self.models())
        missing = [m for m in models if m not in known]
        if missing:
            raise StoreError(f"no responses stored for model(s): {', '.join(missing)}")
        for a, b in pairs:
            if a == b:
                raise StoreError(f"a pair needs two different models, not {a!r} twice")
        wanted = None if prompt_ids is None else set(prompt_ids)
        rng = random.Random(seed)
        with self.transaction() as conn:
            study_id = self._insert_study(
                name,
                question=question,
                guidelines=guidelines,
                scale=scale,
                overlap=overlap,
                models=models,
                pair_plan=pair_plan or {"kind": "list", "pairs": [list(p) for p in pairs]},
                gold_rate=gold_rate,
                adaptive=adaptive,
            )
            rows = []
            for a, b in pairs:
                pair_id = conn.execute(
                    "INSERT INTO study_pairs (study_id, model_a, model_b) VALUES (?, ?, ?)",
                    [study_id, a, b],
                ).lastrowid
                rows += [(*row, pair_id) for row in self._pair_rows([(a, b)], wanted)]
            if not rows:
                raise StoreError("no prompt has responses from both models of any pair")
            keys = rng.sample(range(len(rows) * 4), len(rows))
            conn.executemany(
                "INSERT INTO comparisons (study_id, prompt_id, response_a, response_b, sort_key,"
                " pair_id) VALUES (?, ?, ?, ?, ?, ?)",
                [(study_id, *row[:3], k, row[3]) for row, k in zip(rows, keys, strict=True)],
            )
        return self.get_study(name)

    def _insert_study(
        self,
        name: str,
        *,
        question: str,
        guidelines: str,
        scale: int,
        overlap: int,
        models: Sequence[str],
        pair_plan: dict[str, Any],
        gold_rate: float,
        adaptive: bool = False,
    ) -> int:
        """Insert the study row (inside the caller's transaction); a taken name is refused."""
        if self.conn.execute("SELECT 1 FROM studies WHERE name = ?", [name]).fetchone():
            raise StoreError(f"a study named {name!r} exists already")
        cursor = self.conn.execute(
            "INSERT INTO studies (name, question, guidelines, scale, overlap, models, pair_plan,"
            " gold_rate, created_at, adaptive) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                name,
                question,
                guidelines,
                scale,
                overlap,
                json.dumps(list(models)),
                json.dumps(pair_plan),
                gold_rate,
                now_iso(),
                int(adaptive),
            ],
        )
        return cursor.lastrowid

    def _pair_rows(
        self, pairs: Sequence[tuple[str, str]], prompt_ids: set[str] | None
    ) -> list[tuple[str, int, int]]:
        """``(prompt_id, response_a, response_b)`` for each prompt both models of a pair answered."""
        rows = []
        for a, b in pairs:
            found = self.conn.execute(
                "SELECT ra.prompt_id, ra.id, rb.id FROM responses ra"
                " JOIN responses rb ON rb.prompt_id = ra.prompt_id AND rb.model = ?"
                " WHERE ra.model = ? ORDER BY ra.prompt_id",
                [b, a],
            ).fetchall()
            rows.extend(r for r in found if prompt_ids is None or r[0] in prompt_ids)
        return rows

    def count_comparisons(
        self, pairs: Sequence[tuple[str, str]], prompt_ids: Iterable[str] | None = None
    ) -> int:
        """How many comparisons :meth:`create_study` would make, to show before creating."""
        return len(self._pair_rows(pairs, None if prompt_ids is None else set(prompt_ids)))

    def _study_from_row(self, row: sqlite3.Row | tuple) -> Study:
        return Study(
            id=row[0],
            name=row[1],
            question=row[2],
            guidelines=row[3],
            scale=Scale(row[4]),
            overlap=row[5],
            models=json.loads(row[6]),
            pair_plan=json.loads(row[7]),
            gold_rate=row[8],
            created_at=row[9],
            adaptive=bool(row[10]),
            demo=bool(row[11]),
            set_apart_at=row[12],
            read_only=bool(row[13]),
        )

    _STUDY_COLUMNS = (
        "id, name, question, guidelines, scale, overlap, models, pair_plan, gold_rate, created_at,"
        " adaptive, demo, set_apart_at, read_only"
    )

    def get_study(self, name_or_id: str | int) -> Study:
        column = "id" if isinstance(name_or_id, int) else "name"
        row = self.conn.execute(
            f"SELECT {self._STUDY_COLUMNS} FROM studies WHERE {column} = ?", [name_or_id]
        ).fetchone()
        if row is None:
            raise StoreError(f"no study {name_or_id!r}")
        return self._study_from_row(row)

    def studies(self, *, include_set_apart: bool = True) -> list[Study]:
        """Every study, oldest first; ``include_set_apart=False`` leaves set-apart ones out (what
        annotators, reports and Progress see by default)."""
        where = "" if include_set_apart else " WHERE set_apart_at IS NULL"
        rows = self.conn.execute(
            f"SELECT {self._STUDY_COLUMNS} FROM studies{where} ORDER BY id"
        ).fetchall()
        return [self._study_from_row(r) for r in rows]

    def drop_set_apart(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of a frame with a ``study`` column (judgments, scores) outside set-apart
        studies: what views over every study show by default."""
        apart = [s.name for s in self.studies() if s.set_apart]
        if not apart or frame.empty:
            return frame
        return frame[~frame["study"].isin(apart)].reset_index(drop=True)

    def mark_demo(self, name_or_id: str | int) -> Study:
        """Mark a study as the demo, to be set apart when sign-in turns on."""
        study = self.get_study(name_or_id)
        with self.transaction() as conn:
            conn.execute("UPDATE studies SET demo = 1 WHERE id = ?", [study.id])
        return self.get_study(study.id)

    def set_apart(self, name_or_id: str | int, apart: bool = True) -> Study:
        """Set a study apart (``apart=False`` puts it back). Nothing is deleted: a set-apart study
        is no longer handed out, and views over all studies leave it out unless asked for it."""
        study = self.get_study(name_or_id)
        if study.set_apart != apart:
            with self.transaction() as conn:
                conn.execute(
                    "UPDATE studies SET set_apart_at = ? WHERE id = ?",
                    [now_iso() if apart else None, study.id],
                )
        return self.get_study(study.id)

    def remove_study(self, name_or_id: str | int, *, unused_texts: bool = False) -> dict[str, int]:
        """Delete a set-apart study with everything that refers to it (comparisons, judgments,
        passes, leases...), in one transaction; returns the rows removed per table.

        A study in use must be set apart first: removing judgments cannot be undone. Prompts and
        responses stay unless ``unused_texts``: then those of the study's that no other study
        compares go too (the demo's, whose files can seed them again).
        """
        with self.transaction() as conn:
            study = self.get_study(name_or_id)
            if not study.set_apart:
                raise StoreError(
                    f"study {study.name!r} is in use: set it apart first, then remove it"
                )
            prompts = json.dumps(
                [
                    row[0]
                    for row in conn.execute(
                        "SELECT DISTINCT prompt_id FROM comparisons WHERE study_id = ?", [study.id]
                    )
                ]
            )
            removed = self._delete_with_dependents("studies", "id = ?", [study.id])
            if unused_texts:
                # the study's prompts that no comparison uses any more, with their responses
                unused = (
                    "SELECT value FROM json_each(?)"
                    " WHERE value NOT IN (SELECT prompt_id FROM comparisons)"
                )
                removed["responses"] = conn.execute(
                    f"DELETE FROM responses WHERE prompt_id IN ({unused})", [prompts]
                ).rowcount
                removed["prompts"] = conn.execute(
                    f"DELETE FROM prompts WHERE id IN ({unused})", [prompts]
                ).rowcount
        return {table: count for table, count in removed.items() if count}

    def _delete_with_dependents(
        self, table: str, where: str, params: Sequence[Any]
    ) -> dict[str, int]:
        """Delete ``table`` rows matching ``where`` after every row that refers to them by a
        foreign key, found in the schema itself (so tables added later are covered too)."""
        removed: dict[str, int] = {}
        for child, column, parent_column in self._foreign_keys_to(table):
            sub_where = f"{column} IN (SELECT {parent_column} FROM {table} WHERE {where})"
            for name, count in self._delete_with_dependents(child, sub_where, params).items():
                removed[name] = removed.get(name, 0) + count
        count = self.conn.execute(f"DELETE FROM {table} WHERE {where}", params).rowcount
        removed[table] = removed.get(table, 0) + count
        return removed

    def _foreign_keys_to(self, table: str) -> list[tuple[str, str, str]]:
        """``(child table, its column, the referenced column)`` for each key referring to ``table``."""
        tables = [
            row[0]
            for row in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return [
            (child, key[3], key[4] or "rowid")
            for child in tables
            for key in self.conn.execute(f"PRAGMA foreign_key_list({child})")
            if key[2] == table
        ]

    def study_to_annotate(self, annotator_id: int) -> Study | None:
        """The study an annotator starts on: the oldest (not set apart) with something left for
        them to rate, else the oldest (``None`` without studies). A study created later does not
        take over people who are still working through an earlier one. Read-only studies
        (imported without texts) are never annotated."""
        studies = [s for s in self.studies(include_set_apart=False) if not s.read_only]
        for study in studies:
            if self.annotator_progress(study, annotator_id)["available"] > 0:
                return study
        return studies[0] if studies else None

    def update_study(
        self,
        name_or_id: str | int,
        *,
        question: str | None = None,
        guidelines: str | None = None,
        overlap: int | None = None,
        gold_rate: float | None = None,
        adaptive: bool | None = None,
    ) -> Study:
        """Change a study's settings; a new overlap reopens or closes comparisons to match."""
        study = self.get_study(name_or_id)
        changes: dict[str, Any] = {}
        if question is not None:
            changes["question"] = question
        if guidelines is not None:
            changes["guidelines"] = guidelines
        if overlap is not None:
            if overlap < 1:
                raise StoreError("overlap must be at least 1")
            changes["overlap"] = overlap
        if gold_rate is not None:
            if not 0 <= gold_rate <= 1:
                raise StoreError("gold_rate must lie between 0 and 1")
            changes["gold_rate"] = gold_rate
        if adaptive is not None:
            changes["adaptive"] = int(adaptive)
        with self.transaction() as conn:
            for column, value in changes.items():
                conn.execute(f"UPDATE studies SET {column} = ? WHERE id = ?", [value, study.id])
            if overlap is not None:
                conn.execute(
                    "UPDATE comparisons SET is_open = (n_judgments < ?) WHERE study_id = ?",
                    [overlap, study.id],
                )
        return self.get_study(study.id)

    def set_gold(self, comparison_id: int, gold_score: int | None) -> None:
        """Mark a comparison as a gold check with a known answer (``None`` unmarks it)."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT s.scale FROM comparisons c JOIN studies s ON s.id = c.study_id WHERE c.id = ?",
                [comparison_id],
            ).fetchone()
            if row is None:
                raise StoreError(f"no comparison {comparison_id}")
            if gold_score is not None:
                Scale(row[0]).check(gold_score)
            conn.execute(
                "UPDATE comparisons SET is_gold = ?, gold_score = ? WHERE id = ?",
                [int(gold_score is not None), gold_score, comparison_id],
            )

    def comparisons_frame(self, study: str | int) -> pd.DataFrame:
        """One row per comparison of a study, with model names: for admins and set-up pages."""
        s = self.get_study(study)
        return pd.read_sql_query(
            "SELECT c.id AS comparison_id, c.prompt_id, p.category, ra.model AS model_a,"
            " rb.model AS model_b, c.is_gold, c.gold_score, c.n_judgments"
            " FROM comparisons c JOIN prompts p ON p.id = c.prompt_id"
            " JOIN responses ra ON ra.id = c.response_a JOIN responses rb ON rb.id = c.response_b"
            " WHERE c.study_id = ? ORDER BY c.id",
            self.conn,
            params=[s.id],
        )

    def get_comparison(self, comparison_id: int) -> Assignment:
        """A comparison with its prompt and both texts, model A on the left: for admins' pages."""
        if self.conn.execute("SELECT 1 FROM comparisons WHERE id = ?", [comparison_id]).fetchone():
            return self._assignment(self.conn, comparison_id, "AB")
        raise StoreError(f"no comparison {comparison_id}")

    # -- annotators ----------------------------------------------------------------------------

    def add_annotator(
        self,
        name: str,
        *,
        role: str = "annotator",
        email: str | None = None,
        judge_kind: str = "human",
    ) -> Annotator:
        """Add a person (``judge_kind="human"``) or an automatic judge (``"model"``, by its name)."""
        if role not in ROLES:
            raise StoreError(f"role must be one of {ROLES}, not {role!r}")
        if judge_kind not in JUDGE_KINDS:
            raise StoreError(f"judge kind must be one of {JUDGE_KINDS}, not {judge_kind!r}")
        if judge_kind == "model" and (role != "annotator" or email):
            raise StoreError(f"model judge {name!r} cannot be an admin or have an e-mail")
        if not name.strip():
            raise StoreError("an annotator needs a name")
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM annotators WHERE name = ?", [name]).fetchone():
                raise StoreError(f"an annotator named {name!r} exists already")
            conn.execute(
                "INSERT INTO annotators (name, role, email, created_at, judge_kind)"
                " VALUES (?, ?, ?, ?, ?)",
                [name, role, email, now_iso(), judge_kind],
            )
        return self.get_annotator(name)

    def ensure_annotator(
        self, name: str, *, role: str = "annotator", judge_kind: str = "human"
    ) -> Annotator:
        """The annotator called ``name``, created with ``role`` and ``judge_kind`` if new.

        An existing one of the other judge kind is an error: a person and a model judge never
        share a name, so that every judgment keeps its kind.
        """
        try:
            found = self.get_annotator(name)
        except StoreError:
            try:
                return self.add_annotator(name, role=role, judge_kind=judge_kind)
            except StoreError:  # created meanwhile by another process
                found = self.get_annotator(name)
        if found.judge_kind != judge_kind:
            raise StoreError(
                f"{name!r} is stored as a {found.judge_kind} judge, not a {judge_kind} one"
            )
        return found

    def _annotator(self, where: str, value: Any) -> Annotator | None:
        row = self.conn.execute(
            f"SELECT {_ANNOTATOR_COLUMNS} FROM annotators WHERE {where} = ?", [value]
        ).fetchone()
        return None if row is None else _annotator_from(row)

    def get_annotator(self, name_or_id: str | int) -> Annotator:
        found = self._annotator("id" if isinstance(name_or_id, int) else "name", name_or_id)
        if found is None:
            raise StoreError(f"no annotator {name_or_id!r}")
        return found

    def annotator_by_email(self, email: str) -> Annotator | None:
        return self._annotator("lower(email)", email.strip().lower())

    def annotators(self, judge_kind: str | None = None) -> list[Annotator]:
        """Everyone who judged or may judge; only people (``"human"``) or model judges (``"model"``)."""
        where, params = ("", []) if judge_kind is None else (" WHERE judge_kind = ?", [judge_kind])
        rows = self.conn.execute(
            f"SELECT {_ANNOTATOR_COLUMNS} FROM annotators{where} ORDER BY id", params
        ).fetchall()
        return [_annotator_from(r) for r in rows]

    def set_excluded(self, name_or_id: str | int, excluded: bool = True) -> None:
        """Leave an annotator's judgments out of reports and exports; they stay stored."""
        a = self.get_annotator(name_or_id)
        with self.transaction() as conn:
            conn.execute("UPDATE annotators SET excluded = ? WHERE id = ?", [int(excluded), a.id])

    def add_token(self, annotator_id: int, token_hash: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO tokens (token_hash, annotator_id, created_at) VALUES (?, ?, ?)",
                [token_hash, annotator_id, now_iso()],
            )

    def annotator_for_token(self, token_hash: str) -> Annotator | None:
        """The annotator a live (not revoked) token hash belongs to."""
        row = self.conn.execute(
            "SELECT annotator_id FROM tokens WHERE token_hash = ? AND revoked_at IS NULL",
            [token_hash],
        ).fetchone()
        return None if row is None else self.get_annotator(int(row[0]))

    def revoke_tokens(self, annotator_id: int) -> int:
        """Revoke every live token of an annotator, which ends every browser session opened with
        them (see :meth:`annotator_for_session`); returns how many tokens were live."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE annotator_id = ? AND revoked_at IS NULL",
                [now_iso(), annotator_id],
            )
        return cursor.rowcount

    def add_session(self, session_hash: str, token_hash: str, days: float) -> None:
        """Remember a browser session opened with the live link ``token_hash`` for ``days``."""
        now = datetime.now(timezone.utc)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO sessions (session_hash, token_hash, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                [
                    session_hash,
                    token_hash,
                    now.isoformat(timespec="milliseconds"),
                    (now + timedelta(days=days)).isoformat(timespec="milliseconds"),
                ],
            )

    def annotator_for_session(self, session_hash: str) -> Annotator | None:
        """Whom a browser session belongs to while it is neither ended nor expired and the link
        it was opened with is not revoked."""
        row = self.conn.execute(
            "SELECT t.annotator_id FROM sessions s JOIN tokens t USING (token_hash)"
            " WHERE s.session_hash = ? AND s.ended_at IS NULL AND s.expires_at > ?"
            " AND t.revoked_at IS NULL",
            [session_hash, now_iso()],
        ).fetchone()
        return None if row is None else self.get_annotator(int(row[0]))

    def end_session(self, session_hash: str) -> bool:
        """Sign one browser session out; whether it was still open."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL",
                [now_iso(), session_hash],
            )
        return cursor.rowcount > 0

    def token_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM tokens").fetchone()[0]

    def annotators_frame(self) -> pd.DataFrame:
        """Annotators with their live and revoked invite tokens and judgment counts: the people list.

        Model judges are not people: they are left out.
        """
        return pd.read_sql_query(
            "SELECT a.id, a.name, a.role, a.email, a.excluded,"
            " (SELECT count(*) FROM tokens t WHERE t.annotator_id = a.id"
            "   AND t.revoked_at IS NULL) AS live_tokens,"
            " (SELECT count(*) FROM tokens t WHERE t.annotator_id = a.id"
            "   AND t.revoked_at IS NOT NULL) AS revoked_tokens,"
            " (SELECT count(*) FROM judgments j WHERE j.annotator_id = a.id) AS judgments,"
            " a.created_at FROM annotators a WHERE a.judge_kind = 'human' ORDER BY a.id",
            self.conn,
        ).astype({"excluded": bool})

    # -- assignment ----------------------------------------------------------------------------

    def next_comparison(
        self,
        study: Study,
        annotator_id: int,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        gold: bool | None = None,
        rng: random.Random | None = None,
        clock: float | None = None,
    ) -> Assignment | None:
        """Lease the next comparison for an annotator, or ``None`` when nothing is left for them.

        An annotator's live lease is handed back first, so a reload shows the same item in the same
        order. Otherwise the first comparison in the study's random order that the annotator has not
        judged or passed and that still has room: judgments plus other annotators' live leases below
        the overlap. Picking and leasing happen in one write transaction, so two annotators cannot
        both take the last slot. ``gold=True`` asks for a gold item (any not yet seen, overlap
        ignored); when none is left a regular item is given. By default (``gold=None``) a new item
        is a gold one with the study's ``gold_rate``, drawn from ``rng``. A read-only study
        (imported without texts) is refused with a :class:`StoreError`.
        """
        rng = rng or random
        now = time.time() if clock is None else clock
        self._check_person(annotator_id)
        with self.transaction() as conn:
            read_only = conn.execute("SELECT read_only FROM studies WHERE id = ?", [study.id])
            if (read_only.fetchone() or (0,))[0]:
                raise StoreError(
                    f"study {study.name!r} was imported without the texts of its prompts or "
                    "responses: it can be reported on, not annotated"
                )
            row = conn.execute(
                "SELECT l.comparison_id, l.shown_order FROM leases l"
                " JOIN comparisons c ON c.id = l.comparison_id"
                " WHERE l.annotator_id = ? AND l.expires_at > ? AND c.study_id = ?"
                " ORDER BY l.leased_at LIMIT 1",
                [annotator_id, now, study.id],
            ).fetchone()
            if row is not None:
                comparison_id, shown_order = row
            else:
                comparison_id = None
                if gold is None:
                    gold = study.gold_rate > 0 and rng.random() < study.gold_rate
                if gold:
                    comparison_id = self._first_open(
                        conn, study, annotator_id, now, gold=True, rng=rng
                    )
                if comparison_id is None:
                    comparison_id = self._first_open(
                        conn, study, annotator_id, now, gold=False, rng=rng
                    )
                if comparison_id is None:
                    return None
                shown_order = rng.choice(SHOWN_ORDERS)
            conn.execute(
                "INSERT INTO leases (comparison_id, annotator_id, shown_order, leased_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (comparison_id, annotator_id)"
                " DO UPDATE SET shown_order = excluded.shown_order, leased_at = excluded.leased_at,"
                " expires_at = excluded.expires_at",
                [comparison_id, annotator_id, shown_order, now, now + lease_seconds],
            )
            return self._assignment(conn, comparison_id, shown_order)

    _UNSEEN = (
        " AND NOT EXISTS (SELECT 1 FROM judgments j"
        "   WHERE j.annotator_id = :a AND j.comparison_id = c.id)"
        " AND NOT EXISTS (SELECT 1 FROM passes p"
        "   WHERE p.annotator_id = :a AND p.comparison_id = c.id)"
    )

    def _first_open(
        self,
        conn: sqlite3.Connection,
        study: Study,
        annotator_id: int,
        now: float,
        *,
        gold: bool,
        rng: random.Random | Any = random,
    ) -> int | None:
        params = {"s": study.id, "a": annotator_id, "now": now, "k": study.overlap}
        if gold:
            row = conn.execute(
                "SELECT c.id FROM comparisons c WHERE c.study_id = :s AND c.is_gold = 1"
                + self._UNSEEN
                + " ORDER BY c.sort_key LIMIT 1",
                params,
            ).fetchone()
            return None if row is None else row[0]
        # The scan walks the index in sort_key order (is_open as an equality, so no sort) from the
        # annotator's scan start: every open comparison before it is one they judged or passed, so
        # an annotator far ahead of the others does not step over thousands of them on each call.
        regular = (
            "SELECT c.id, c.sort_key FROM comparisons c"
            " WHERE c.study_id = :s AND c.is_gold = 0 AND c.is_open = 1 AND c.sort_key >= :start"
            + self._UNSEEN
        )
        row = conn.execute(
            "SELECT sort_key FROM scan_starts WHERE study_id = :s AND annotator_id = :a", params
        ).fetchone()
        old_start = _BEFORE_ALL if row is None else row[0]
        unseen = conn.execute(
            regular + " ORDER BY c.sort_key LIMIT 1", {**params, "start": old_start}
        ).fetchone()
        start = _AFTER_ALL if unseen is None else unseen[1]
        if start != old_start:
            conn.execute(
                "INSERT INTO scan_starts (study_id, annotator_id, sort_key) VALUES (:s, :a, :start)"
                " ON CONFLICT (study_id, annotator_id) DO UPDATE SET sort_key = excluded.sort_key",
                {**params, "start": start},
            )
        if unseen is None:
            return None
        if study.adaptive:
            return self._first_open_adaptive(conn, study, {**params, "start": start}, rng)
        row = conn.execute(
            regular + self._ROOM + " ORDER BY c.sort_key LIMIT 1", {**params, "start": start}
        ).fetchone()
        return None if row is None else row[0]

    # room: judgments plus other annotators' live leases below the overlap
    _ROOM = (
        " AND c.n_judgments + (SELECT count(*) FROM leases l WHERE l.comparison_id = c.id"
        " AND l.expires_at > :now AND l.annotator_id != :a) < :k"
    )

    def _first_open_adaptive(
        self,
        conn: sqlite3.Connection,
        study: Study,
        params: dict[str, Any],
        rng: random.Random | Any,
    ) -> int | None:
        """The first comparison with room, in the random order, of the least settled pair.

        Pairs are tried from the widest win-rate interval down: the half-width of a pair with n
        judgments, w of them wins, grows with p (1 - p) / (n + 2) where p = (w + 1) / (n + 2), so
        a pair without judgments comes first, then those whose rate is nearest one half per
        judgment. Equal pairs are taken in a random order. The pair depends on earlier outcomes;
        the comparison within the pair does not (the study's random order), so each pair's
        prompts stay a random sample. The pairs are ranked in SQL from their counts, which
        triggers keep current, and read one at a time: usually the first has a comparison, found
        by one probe of the pair's index from the annotator's scan start.
        """
        ranked = conn.execute(
            f"SELECT id FROM study_pairs WHERE study_id = :s ORDER BY {_UNSETTLED} DESC,"
            " (id * :salt) % 2147483647",  # equal pairs in an order drawn from rng
            {"s": study.id, "salt": rng.randrange(1, 2147483647)},
        )
        query = (
            "SELECT c.id FROM comparisons c WHERE c.pair_id = :p AND c.is_gold = 0"
            " AND c.is_open = 1 AND c.sort_key >= :start"
            + self._UNSEEN
            + self._ROOM
            + " ORDER BY c.sort_key LIMIT 1"
        )
        for (pair_id,) in ranked:
            row = conn.execute(query, {**params, "p": pair_id}).fetchone()
            if row is not None:
                return row[0]
        return None

    def _assignment(
        self, conn: sqlite3.Connection, comparison_id: int, shown_order: str
    ) -> Assignment:
        row = conn.execute(
            "SELECT c.study_id, c.prompt_id, c.is_gold, ra.model, ra.content, rb.model, rb.content"
            " FROM comparisons c JOIN responses ra ON ra.id = c.response_a"
            " JOIN responses rb ON rb.id = c.response_b WHERE c.id = ?",
            [comparison_id],
        ).fetchone()
        study_id, prompt_id, is_gold, model_a, text_a, model_b, text_b = row
        left, right = (text_a, text_b) if shown_order == "AB" else (text_b, text_a)
        return Assignment(
            comparison_id=comparison_id,
            study_id=study_id,
            prompt=self.get_prompt(prompt_id),
            shown_order=shown_order,
            left=left,
            right=right,
            model_a=model_a,
            model_b=model_b,
            is_gold=bool(is_gold),
        )

    def _check_person(self, annotator_id: int) -> None:
        """Work is assigned to people only; a model judge's verdicts come in by import."""
        row = self.conn.execute(
            "SELECT name FROM annotators WHERE id = ? AND judge_kind = 'model'", [annotator_id]
        ).fetchone()
        if row is not None:
            raise StoreError(f"{row[0]!r} is a model judge: it is not assigned comparisons")

    def release(self, comparison_id: int, annotator_id: int) -> None:
        """Give a leased comparison back to the pool."""
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM leases WHERE comparison_id = ? AND annotator_id = ?",
                [comparison_id, annotator_id],
            )

    def purge_expired_leases(self, clock: float | None = None) -> int:
        now = time.time() if clock is None else clock
        with self.transaction() as conn:
            return conn.execute("DELETE FROM leases WHERE expires_at <= ?", [now]).rowcount

    def record_judgment(
        self,
        comparison_id: int,
        annotator_id: int,
        *,
        score: int,
        shown_order: str,
        rationale: str = "",
        seconds: float | None = None,
    ) -> Recorded:
        """Store one judgment, at most once per annotator and comparison.

        ``score`` is already oriented to model A (see :func:`pairwise.scales.orient`). A second
        submit of the same item (double click, rerun, retry after a crash) returns ``duplicate``
        and changes nothing. A regular comparison that reached its overlap while the annotator's
        lease had lapsed returns ``full`` and is not stored, so no comparison is judged more often
        than the study wants.
        """
        if shown_order not in SHOWN_ORDERS:
            raise StoreError(f"shown_order must be 'AB' or 'BA', not {shown_order!r}")
        check_note(rationale, "rationale")
        self._check_person(annotator_id)
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT s.scale, s.overlap, c.n_judgments, c.is_gold FROM comparisons c"
                " JOIN studies s ON s.id = c.study_id WHERE c.id = ?",
                [comparison_id],
            ).fetchone()
            if row is None:
                raise StoreError(f"no comparison {comparison_id}")
            points, overlap, n, is_gold = row
            try:
                Scale(points).check(score)
            except ValueError as e:
                raise StoreError(str(e)) from None
            done = conn.execute(
                "SELECT id FROM judgments WHERE comparison_id = ? AND annotator_id = ?",
                [comparison_id, annotator_id],
            ).fetchone()
            if done is not None:
                return Recorded("duplicate", done[0])
            if self._passed(conn, comparison_id, annotator_id):
                self._drop_lease(conn, comparison_id, annotator_id)
                return Recorded("duplicate")
            if not is_gold and n >= overlap:
                self._drop_lease(conn, comparison_id, annotator_id)
                return Recorded("full")
            cursor = conn.execute(
                "INSERT INTO judgments (comparison_id, annotator_id, score, shown_order, rationale,"
                " seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    comparison_id,
                    annotator_id,
                    int(score),
                    shown_order,
                    rationale or "",
                    seconds,
                    now_iso(),
                ],
            )
            conn.execute(
                "UPDATE comparisons SET n_judgments = n_judgments + 1,"
                " is_open = (n_judgments + 1 < ?) WHERE id = ?",
                [overlap, comparison_id],
            )
            self._drop_lease(conn, comparison_id, annotator_id)
            return Recorded("stored", cursor.lastrowid)

    def record_pass(
        self, comparison_id: int, annotator_id: int, *, reason: str = "skip", note: str = ""
    ) -> Recorded:
        """Skip or flag (``unsafe``, ``broken``, ``unanswerable``) a comparison for this annotator.

        A pass does not count towards the overlap; the annotator is not shown the item again.
        A person gives one answer per comparison: a pass after their judgment (a stale second
        tab) is a ``duplicate`` and changes nothing, as is a judgment after their pass.
        """
        if reason not in PASS_REASONS:
            raise StoreError(f"reason must be one of {PASS_REASONS}, not {reason!r}")
        check_note(note, "note")
        with self.transaction() as conn:
            judged = conn.execute(
                "SELECT id FROM judgments WHERE comparison_id = ? AND annotator_id = ?",
                [comparison_id, annotator_id],
            ).fetchone()
            if judged is not None:
                self._drop_lease(conn, comparison_id, annotator_id)
                return Recorded("duplicate", judged[0])
            cursor = conn.execute(
                "INSERT INTO passes (comparison_id, annotator_id, reason, note, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (comparison_id, annotator_id) DO NOTHING",
                [comparison_id, annotator_id, reason, note or "", now_iso()],
            )
            self._drop_lease(conn, comparison_id, annotator_id)
        return Recorded("stored" if cursor.rowcount else "duplicate")

    @staticmethod
    def _passed(conn: sqlite3.Connection, comparison_id: int, annotator_id: int) -> bool:
        return (
            conn.execute(
                "SELECT 1 FROM passes WHERE comparison_id = ? AND annotator_id = ?",
                [comparison_id, annotator_id],
            ).fetchone()
            is not None
        )

    @staticmethod
    def _drop_lease(conn: sqlite3.Connection, comparison_id: int, annotator_id: int) -> None:
        conn.execute(
            "DELETE FROM leases WHERE comparison_id = ? AND annotator_id = ?",
            [comparison_id, annotator_id],
        )

    # -- judgments made elsewhere ---------------------------------------------------------------

    def response_hashes(self) -> dict[tuple[str, str], str]:
        """``(prompt_id, model)`` to the content hash of every stored response.

        An import checks a whole file against it before writing, so that it can report every
        conflicting duplicate with its line instead of stopping at the first.
        """
        rows = self.conn.execute("SELECT prompt_id, model, content_hash FROM responses")
        return {(p, m): h for p, m, h in rows}

    def add_study(
        self,
        name: str,
        *,
        scale: int,
        overlap: int,
        models: Sequence[str],
        pair_plan: dict[str, Any],
        question: str = "Which response is better?",
        guidelines: str = "",
        gold_rate: float = 0.0,
    ) -> Study:
        """Register a study without generating comparisons.

        For judgments made elsewhere, whose comparisons are the judged ones
        (:meth:`add_comparisons`), not every prompt that both models answered.
        """
        _check_study_settings(scale, overlap, gold_rate)
        with self.transaction():
            study_id = self._insert_study(
                name,
                question=question,
                guidelines=guidelines,
                scale=scale,
                overlap=overlap,
                models=sorted(set(models)),
                pair_plan=pair_plan,
                gold_rate=gold_rate,
            )
        return self.get_study(study_id)

    def add_comparisons(
        self, study_id: int, items: Iterable[tuple[str, str, str]], *, seed: int | None = None
    ) -> list[tuple[int, bool]]:
        """Find or create the comparison for each ``(prompt_id, model_a, model_b)`` of a study.

        Returns ``(comparison_id, flipped)`` per item; ``flipped`` is true when the study holds the
        two responses the other way round, so that the caller can orient its scores to the stored
        model A (one comparison per pair and prompt, whatever order the records name them in).
        New models join the study's model list.
        """
        rng = random.Random(seed)
        items = list(items)
        with self.transaction() as conn:
            study = self.get_study(study_id)
            models = set(study.models)
            prompt_ids = list(dict.fromkeys(item[0] for item in items))
            response_ids = {
                (row[1], row[2]): row[0]
                for row in self._where_in(
                    conn, "SELECT id, prompt_id, model FROM responses", "prompt_id", prompt_ids
                )
            }

            def response_id(prompt_id: str, model: str) -> int:
                if (prompt_id, model) not in response_ids:
                    raise StoreError(f"no response of {model!r} to prompt {prompt_id!r}")
                return response_ids[prompt_id, model]

            def stored() -> dict[tuple[int, int], int]:
                rows = conn.execute(
                    "SELECT id, response_a, response_b FROM comparisons WHERE study_id = ?",
                    [study_id],
                )
                return {(a, b): c for c, a, b in rows}

            existing = stored()
            pairs, new = [], {}
            for prompt_id, model_a, model_b in items:
                ra, rb = response_id(prompt_id, model_a), response_id(prompt_id, model_b)
                forward = (ra, rb) in existing or (ra, rb) in new
                if not forward and ((rb, ra) in existing or (rb, ra) in new):
                    pairs.append((rb, ra, True))
                    continue
                if not forward:
                    new[ra, rb] = (study_id, prompt_id, ra, rb, rng.randrange(2**31))
                    models.update((model_a, model_b))
                pairs.append((ra, rb, False))
            conn.executemany(
                "INSERT INTO comparisons (study_id, prompt_id, response_a, response_b, sort_key)"
                " VALUES (?, ?, ?, ?, ?)",
                list(new.values()),
            )
            ids = stored() if new else existing
            out = [(ids[a, b], flipped) for a, b, flipped in pairs]
            if models != set(study.models):
                conn.execute(
                    "UPDATE studies SET models = ? WHERE id = ?",
                    [json.dumps(sorted(models)), study_id],
                )
        return out

    def stored_verdicts(
        self, study_id: int
    ) -> dict[tuple[int, int], tuple[int, float | None, int | None, int | None]]:
        """``(comparison_id, annotator_id)`` to ``(score, p_a, score_ab, score_ba)`` for a study."""
        rows = self.conn.execute(
            "SELECT j.comparison_id, j.annotator_id, j.score, j.p_a, j.score_ab, j.score_ba"
            " FROM judgments j JOIN comparisons c ON c.id = j.comparison_id WHERE c.study_id = ?",
            [study_id],
        )
        return {(row[0], row[1]): tuple(row[2:]) for row in rows}

    def add_judgments(self, judgments: Iterable[ImportedJudgment]) -> tuple[int, int]:
        """Insert judgments made elsewhere; returns ``(inserted, unchanged)``.

        Unlike :meth:`record_judgment` the overlap is not enforced: outside data may hold more
        judgments per comparison than the study wants. A judgment already stored for the same
        comparison and annotator with the same verdict is unchanged (one judgment per annotator and
        comparison); with another verdict it raises :class:`DuplicateConflict`. Comparisons' counts
        of judgments by people, which the overlap is about, are recomputed.
        """
        judgments = list(judgments)
        inserted = unchanged = 0
        touched: set[int] = set()
        created = now_iso()
        with self.transaction() as conn:
            wanted = list(dict.fromkeys(j.comparison_id for j in judgments))
            scales = {
                c: Scale(points)
                for c, points in self._where_in(
                    conn,
                    "SELECT c.id, s.scale FROM comparisons c JOIN studies s ON s.id = c.study_id",
                    "c.id",
                    wanted,
                )
            }
            stored = {
                (row[0], row[1]): tuple(row[2:])
                for row in self._where_in(
                    conn,
                    "SELECT comparison_id, annotator_id, score, p_a, score_ab, score_ba"
                    " FROM judgments",
                    "comparison_id",
                    wanted,
                )
            }
            models = {
                row[0]
                for row in conn.execute("SELECT id FROM annotators WHERE judge_kind = 'model'")
            }
            new = []
            for j in judgments:
                if j.comparison_id not in scales:
                    raise StoreError(f"no comparison {j.comparison_id}")
                try:
                    scales[j.comparison_id].check(j.score)
                except ValueError as e:
                    raise StoreError(str(e)) from None
                if j.shown_order is not None and j.shown_order not in SHOWN_ORDERS:
                    raise StoreError(
                        f"shown_order must be 'AB', 'BA' or None (unknown), not {j.shown_order!r}"
                    )
                if j.p_a is not None and not 0 <= j.p_a <= 1:
                    raise StoreError(f"p_a must be between 0 and 1, not {j.p_a!r}")
                verdict = (int(j.score), j.p_a, j.score_ab, j.score_ba)
                old = stored.get((j.comparison_id, j.annotator_id))
                if old is not None:
                    if old != verdict:
                        raise DuplicateConflict(
                            f"annotator {j.annotator_id} already judged comparison"
                            f" {j.comparison_id} differently"
                        )
                    unchanged += 1
                    continue
                stored[j.comparison_id, j.annotator_id] = verdict
                new.append(
                    (
                        j.comparison_id,
                        j.annotator_id,
                        int(j.score),
                        j.shown_order,
                        j.rationale,
                        j.seconds,
                        j.created_at or created,
                        j.p_a,
                        j.score_ab,
                        j.score_ba,
                    )
                )
                if j.annotator_id not in models:
                    touched.add(j.comparison_id)
                inserted += 1
            conn.executemany(
                "INSERT INTO judgments (comparison_id, annotator_id, score, shown_order,"
                " rationale, seconds, created_at, p_a, score_ab, score_ba)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                new,
            )
            # the overlap counts people: a model judge's verdict leaves the item as open as it was
            people = (
                "(SELECT count(*) FROM judgments j JOIN annotators a ON a.id = j.annotator_id"
                " WHERE j.comparison_id = :c AND a.judge_kind = 'human')"
            )
            conn.executemany(
                f"UPDATE comparisons SET n_judgments = {people}, is_open = {people}"
                "   < (SELECT s.overlap FROM studies s WHERE s.id = comparisons.study_id)"
                " WHERE id = :c",
                [{"c": c} for c in sorted(touched)],
            )
        return inserted, unchanged

    # -- progress --------------------------------------------------------------------------------

    def study_progress(self, study: Study) -> dict[str, int]:
        """Done and wanted judgments over the study's regular (non-gold) comparisons.

        Read from the totals the triggers keep. A comparison is open while it has fewer judgments
        than the overlap, so the done judgments (at most ``overlap`` per comparison) are
        ``overlap`` per complete comparison plus those of open ones.
        """
        totals = self._study_totals(study.id)
        return {
            "comparisons": totals["regular"],
            "complete": totals["complete"],
            "wanted": totals["regular"] * study.overlap,
            "done": totals["complete"] * study.overlap + totals["open_judgments"],
            "judgments": totals["judgments"],
        }

    def _study_totals(self, study_id: int) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT regular, complete, judgments, open_judgments FROM study_totals"
            " WHERE study_id = ?",
            [study_id],
        ).fetchone()
        names = ("regular", "complete", "judgments", "open_judgments")
        return dict(zip(names, row or (0, 0, 0, 0), strict=True))

    def annotator_progress(self, study: Study, annotator_id: int) -> dict[str, int]:
        """This annotator's done count, and how many more the study could still give them.

        Gold items count like any other item, so that the bars move alike whichever kind was
        just rated: ``done`` holds every judgment of the study's comparisons, and ``total`` holds,
        besides the open regular comparisons the annotator has not judged or passed
        (``available``), the gold items they can still expect. That expectation is fixed for the
        whole study (the expected number of gold items among ``regular`` items at the study's gold
        rate, rounded up), so that rating a gold item moves ``done`` and leaves ``total`` as it
        was; it falls to nothing once no regular item is left, and the bar fills.

        Counted over the annotator's own judgments and passes, not over every open comparison,
        since the annotate page asks on each press (``CROSS JOIN`` keeps SQLite from walking the
        study's comparisons instead).
        """
        done, done_open, gold_done = self.conn.execute(
            "SELECT count(*), coalesce(sum(c.is_open AND NOT c.is_gold), 0),"
            " coalesce(sum(c.is_gold), 0) FROM judgments j"
            " CROSS JOIN comparisons c ON c.id = j.comparison_id"
            " WHERE j.annotator_id = ? AND c.study_id = ?",
            [annotator_id, study.id],
        ).fetchone()
        passed, passed_open, gold_passed = self.conn.execute(
            "SELECT count(*), coalesce(sum(c.is_open = 1 AND c.is_gold = 0 AND NOT EXISTS"
            " (SELECT 1 FROM judgments j WHERE j.annotator_id = p.annotator_id"
            " AND j.comparison_id = c.id)), 0), coalesce(sum(c.is_gold), 0)"
            " FROM passes p CROSS JOIN comparisons c ON c.id = p.comparison_id"
            " WHERE p.annotator_id = ? AND c.study_id = ?",
            [annotator_id, study.id],
        ).fetchone()
        totals = self._study_totals(study.id)
        available = totals["regular"] - totals["complete"] - done_open - passed_open
        gold_left = 0
        if available > 0 and study.gold_rate > 0:
            golds = self.conn.execute(
                "SELECT count(*) FROM comparisons WHERE study_id = ? AND is_gold = 1", [study.id]
            ).fetchone()[0]
            regular = done - gold_done + available
            gold_left = max(
                0, expected_gold(golds, regular, study.gold_rate) - gold_done - gold_passed
            )
        return {
            "done": done,
            "passed": passed,
            "available": available,
            "total": done + available + gold_left,
        }

    # -- frames for analysis and export -------------------------------------------------------

    def judgments_frame(
        self,
        study: str | int | None = None,
        *,
        include_excluded: bool = False,
        include_gold: bool = True,
        with_text: bool = False,
    ) -> pd.DataFrame:
        """Judgments as the tidy frame described in ``docs/judgments-frame.md``.

        Excluded annotators are left out unless asked for. ``with_text=True`` adds the prompt
        ``messages`` (JSON) and the two responses' text, for exports.
        """
        # Read what varies per judgment, then the keys a comparison shares, then the names,
        # lengths and texts behind those keys from the small tables: a million judgments touch a
        # few hundred thousand comparisons and a few thousand prompts, and reading integers and
        # looking the strings up builds each string once rather than once per judgment. The
        # judgments are read without joins (a join costs a look-up per row) and filtered here.
        chosen = None if study is None else self.get_study(study).id
        span, span_params = "", []
        if chosen is not None:  # a study's comparisons are mostly one run of ids
            span = " WHERE comparison_id BETWEEN ? AND ?"
            span_params = list(
                self.conn.execute(
                    "SELECT min(id), max(id) FROM comparisons WHERE study_id = ?", [chosen]
                ).fetchone()
            )
        judged = self._read_columns(
            "SELECT id, comparison_id, annotator_id, score, coalesce(shown_order = 'BA', 2),"
            " seconds, created_at, rationale, p_a, score_ab, score_ba FROM judgments"
            + span
            + " ORDER BY id",
            span_params,
            kinds="iiiiiftt" + "fff",
        )
        keys = self._read_columns(
            "SELECT c.id, c.study_id, c.prompt_id, c.response_a, c.response_b, c.is_gold,"
            " c.gold_score FROM comparisons c"
            " WHERE c.id IN (SELECT DISTINCT comparison_id FROM judgments)"
            + ("" if chosen is None else " AND c.study_id = ?")
            + ("" if include_gold else " AND c.is_gold = 0"),
            [] if chosen is None else [chosen],
            kinds="iitiiif",
        )
        people = pd.read_sql_query(
            "SELECT id, name, excluded, judge_kind FROM annotators", self.conn
        )
        at = pd.Index(keys[0]).get_indexer(judged[1])  # each judgment's comparison
        of_annotator = pd.Index(people["id"]).get_indexer(judged[2])
        kept = (at >= 0) & (of_annotator >= 0)
        if not include_excluded:
            kept &= people["excluded"].to_numpy()[of_annotator] == 0
        if not kept.all():
            judged = [column[kept] for column in judged]
            at, of_annotator = at[kept], of_annotator[kept]
        judgment, comparison, _, score, shown_ba, seconds, created_at, rationale = judged[:8]
        p_a, score_ab, score_ba = judged[8:]
        p_a = np.where(np.isnan(p_a), (np.sign(score) + 1) / 2, p_a)
        study_id, prompt_id, response_a, response_b, is_gold, gold_score = (
            column[at] for column in keys[1:]
        )
        prompt_codes, prompt_ids = pd.factorize(prompt_id)
        prompts = self._rows_by_id(
            "prompts", "id, category, turns" + (", messages" if with_text else ""), prompt_ids
        )
        responses = self._rows_by_id(
            "responses",
            "id, model, chars" + (", content" if with_text else ""),
            pd.unique(np.concatenate([keys[3], keys[4]])),
        )
        studies = pd.read_sql_query("SELECT id, name, scale FROM studies", self.conn)
        of_prompt = pd.Index(prompts["id"]).get_indexer(prompt_ids)[prompt_codes]
        of_a, of_b = (pd.Index(responses["id"]).get_indexer(r) for r in (response_a, response_b))
        of_study = pd.Index(studies["id"]).get_indexer(study_id)
        frame = pd.DataFrame(
            {
                "judgment_id": judgment,
                "study": _take(studies["name"], of_study),
                "comparison_id": comparison,
                "prompt_id": prompt_ids.take(prompt_codes),
                "category": _take(prompts["category"], of_prompt),
                "turns": _take(prompts["turns"], of_prompt),
                "model_a": _take(responses["model"], of_a),
                "model_b": _take(responses["model"], of_b),
                "scale": _take(studies["scale"], of_study),
                "score": score,
                "p_a": p_a,
                "shown_order": _take(pd.Series(["AB", "BA", None], dtype="str"), shown_ba),
                "annotator": _take(people["name"], of_annotator),
                "judge_kind": _take(people["judge_kind"], of_annotator),
                "seconds": seconds,
                "created_at": created_at,
                "len_a": _take(responses["chars"], of_a),
                "len_b": _take(responses["chars"], of_b),
                "is_gold": is_gold,
                "gold_score": gold_score,
                "rationale": rationale,
                "excluded": _take(people["excluded"], of_annotator),
                "score_ab": score_ab,
                "score_ba": score_ba,
            }
        )
        if with_text:
            frame["messages"] = _take(prompts["messages"], of_prompt)
            frame["response_a"] = _take(responses["content"], of_a)
            frame["response_b"] = _take(responses["content"], of_b)
        if frame.empty:  # text columns of no rows stay object, as an empty query gives them
            text = frame.select_dtypes(include="str").columns
            frame = frame.astype(dict.fromkeys(text, object))
        return _tidy(frame)

    def _judgment_filters(
        self, study: str | int | None, include_excluded: bool, include_gold: bool
    ) -> tuple[str, list[Any]]:
        """The WHERE clause (over ``j``, ``c``, ``a``) shared by the judgment frames."""
        where, params = [], []
        if study is not None:
            where.append("c.study_id = ?")
            params.append(self.get_study(study).id)
        if not include_excluded:
            where.append("a.excluded = 0")
        if not include_gold:
            where.append("c.is_gold = 0")
        return (" WHERE " + " AND ".join(where) if where else ""), params

    def passes_frame(self, study: str | int | None = None) -> pd.DataFrame:
        """Skips and flags, one row each, with the comparison's models (for admins)."""
        params: list[Any] = []
        where = ""
        if study is not None:
            where = " WHERE c.study_id = ?"
            params.append(self.get_study(study).id)
        return pd.read_sql_query(
            "SELECT x.id AS pass_id, s.name AS study, x.comparison_id, c.prompt_id,"
            " ra.model AS model_a, rb.model AS model_b, a.name AS annotator, x.reason, x.note,"
            " x.created_at FROM passes x JOIN comparisons c ON c.id = x.comparison_id"
            " JOIN studies s ON s.id = c.study_id JOIN annotators a ON a.id = x.annotator_id"
            " JOIN responses ra ON ra.id = c.response_a JOIN responses rb ON rb.id = c.response_b"
            + where
            + " ORDER BY x.id",
            self.conn,
            params=params,
        )

    def comparison_texts(self, study: str | int | None = None) -> pd.DataFrame:
        """Every judged comparison with its study, prompt category, models and text.

        Columns: ``comparison_id``, ``study``, ``prompt_id``, ``category``, ``model_a``,
        ``model_b``, ``messages`` (JSON), ``response_a``, ``response_b``. One row per comparison
        rather than per judgment, and each prompt's and response's text is read once and shared
        by every comparison that shows it, so that an export of a million judgments holds each
        text once and joins it on ``comparison_id``.
        """
        params: list[Any] = []
        in_study = ""
        if study is not None:
            in_study = " WHERE c.study_id = ?"
            params.append(self.get_study(study).id)
        frame = self._read_in_slices(
            "SELECT c.id AS comparison_id, s.name AS study, c.prompt_id, p.category,"
            " ra.model AS model_a, rb.model AS model_b, c.response_a, c.response_b"
            " FROM comparisons c JOIN studies s ON s.id = c.study_id"
            " JOIN prompts p ON p.id = c.prompt_id JOIN responses ra ON ra.id = c.response_a"
            " JOIN responses rb ON rb.id = c.response_b"
            " WHERE EXISTS (SELECT 1 FROM judgments j WHERE j.comparison_id = c.id)"
            + in_study.replace("WHERE", "AND")
            + " ORDER BY c.id",
            params,
        )
        prompts = pd.read_sql_query(
            "SELECT id, messages FROM prompts WHERE id IN"
            " (SELECT c.prompt_id FROM comparisons c" + in_study + ")",
            self.conn,
            params=params,
        )
        responses = pd.read_sql_query(
            "SELECT id, content FROM responses WHERE id IN"
            " (SELECT c.response_a FROM comparisons c" + in_study + ") OR id IN"
            " (SELECT c.response_b FROM comparisons c" + in_study + ")",
            self.conn,
            params=params * 2,
        )
        frame["messages"] = _look_up(prompts["id"], prompts["messages"], frame["prompt_id"])
        for side in ("response_a", "response_b"):
            frame[side] = _look_up(responses["id"], responses["content"], frame[side])
        return frame

    def judgment_scores(
        self,
        study: str | int | None = None,
        *,
        include_excluded: bool = False,
        include_gold: bool = True,
    ) -> pd.DataFrame:
        """``judgment_id``, ``comparison_id``, ``score``, ``p_a``, ``annotator`` (categorical)
        and ``judge_kind`` of each judgment (``p_a`` from the score for a hard verdict).

        The narrow part of :meth:`judgments_frame` (same rows, same order) that preference
        exports need; joined to :meth:`comparison_texts` it gives the judgments-frame columns an
        export reads, at a fraction of the cost of reading every column per judgment.
        """
        where, params = self._judgment_filters(study, include_excluded, include_gold)
        frame = self._read_in_slices(
            "SELECT j.id AS judgment_id, j.comparison_id, j.score,"
            " coalesce(j.p_a, CASE WHEN j.score > 0 THEN 1.0 WHEN j.score < 0 THEN 0.0"
            " ELSE 0.5 END) AS p_a, j.annotator_id AS annotator, a.judge_kind"
            " FROM judgments j JOIN comparisons c ON c.id = j.comparison_id"
            " JOIN annotators a ON a.id = j.annotator_id" + where + " ORDER BY j.id",
            params,
        )
        names = pd.read_sql_query("SELECT id, name FROM annotators", self.conn)
        frame["annotator"] = pd.Categorical.from_codes(
            pd.Index(names["id"]).get_indexer(frame["annotator"]), categories=names["name"]
        )
        return frame.astype(
            {"judgment_id": "int64", "comparison_id": "int64", "score": "int64", "p_a": "float64"}
        )

    def _read_columns(self, sql: str, params: Sequence[Any], kinds: str) -> list[Any]:
        """A query's columns, read 100,000 rows at a time and kept as arrays rather than rows.

        ``kinds`` has a letter per column: ``i`` integer, ``f`` number or NULL (NaN), ``t`` text.
        Text comes back as a pandas string array. Only one slice at a time is held as tuples.
        """
        cursor = self.conn.execute(sql, params)
        slices = []
        with collector_paused():
            while rows := cursor.fetchmany(100_000):
                columns = zip(*rows, strict=True)
                slices.append([_column(v, kind) for v, kind in zip(columns, kinds, strict=True)])
        parts = zip(*slices, strict=True) if slices else ([_column((), kind)] for kind in kinds)
        return [_concat(part, kind) for part, kind in zip(parts, kinds, strict=True)]

    def _rows_by_id(self, table: str, columns: str, ids: Sequence[Any]) -> pd.DataFrame:
        """Rows of ``table`` whose ``id`` is in ``ids``, asked for 500 ids at a time."""
        ids = [value.item() if isinstance(value, np.generic) else value for value in ids]
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows += self.conn.execute(
                f"SELECT {columns} FROM {table} WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            ).fetchall()
        return pd.DataFrame.from_records(rows, columns=[c.strip() for c in columns.split(",")])

    def _read_in_slices(self, sql: str, params: Sequence[Any]) -> pd.DataFrame:
        """A query's rows as a frame, read 100,000 at a time: a million-row read never holds every
        row as Python tuples at once."""
        slices = pd.read_sql_query(sql, self.conn, params=params, chunksize=100_000)
        return pd.concat(slices, ignore_index=True)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a large read or import builds millions of objects.

    They hold no cycles, yet every few hundred of them start a collection, and the larger ones
    walk them all again: a quarter of the time of a million-row read. It is switched back on if
    it was on before.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _column(values: Sequence[Any], kind: str) -> Any:
    """One slice of a query's column as an array of its kind (see ``Store._read_columns``)."""
    if kind == "t":
        return pa.array(values, type=pa.string())
    return np.array(values, dtype=np.int64 if kind == "i" else float)


def _concat(parts: Sequence[Any], kind: str) -> Any:
    if kind == "t":
        return pd.array(pa.chunked_array(parts, type=pa.string()), dtype="str")
    return np.concatenate(parts)


def _take(values: pd.Series, positions: np.ndarray) -> Any:
    """``values`` at ``positions``: a lookup of a small table's column for every judgment."""
    return values.array.take(positions)


def _look_up(keys: pd.Series, values: pd.Series, wanted: pd.Series) -> pd.Series:
    """``values`` at ``wanted`` keys, sharing the value objects rather than copying them."""
    found = values.to_numpy(dtype=object)[pd.Index(keys).get_indexer(wanted)]
    return pd.Series(found, index=wanted.index, dtype=object)


_FRAME_TYPES = {
    "judgment_id": "int64",
    "comparison_id": "int64",
    "turns": "int64",
    "scale": "int64",
    "score": "int64",
    "seconds": "float64",
    "len_a": "int64",
    "len_b": "int64",
    "gold_score": "float64",
    "p_a": "float64",
    "score_ab": "float64",
    "score_ba": "float64",
}


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Give the frame its documented types, and the derived ``outcome`` and ``margin``."""
    for column, dtype in _FRAME_TYPES.items():
        frame[column] = frame[column].astype(dtype)
    for column in ("is_gold", "excluded"):
        frame[column] = frame[column].astype(bool)
    score = frame["score"].to_numpy()
    frame["outcome"] = np.where(score > 0, "win", np.where(score < 0, "loss", "tie")).astype(object)
    frame["margin"] = frame["score"].abs()
    frame["rationale"] = frame["rationale"].fillna("")
    return frame


def expected_gold(golds: int, regular: int, rate: float) -> int:
    """How many gold items an annotator is expected to meet while rating ``regular`` items.

    Each new item is gold with probability ``rate`` while gold items are left, so ``regular``
    regular items come with ``regular * rate / (1 - rate)`` gold ones on average (rounded up),
    and never more than the study has.
    """
    if rate <= 0 or golds == 0:
        return 0
    if rate >= 1:
        return golds
    return min(golds, math.ceil(regular * rate / (1 - rate) - 1e-9))


def check_note(text: str | None, what: str) -> None:
    """Refuse a rationale or note longer than :data:`MAX_NOTE_CHARS`, saying by how much."""
    if text and len(text) > MAX_NOTE_CHARS:
        raise StoreError(
            f"a {what} holds at most {MAX_NOTE_CHARS:,} characters; this one has {len(text):,}"
        )


# A pair's squared win-rate half-width up to a constant, p (1 - p) / (n + 2), with p shrunk
# towards one half as (wins + 1) / (n + 2) so that no pair looks settled at once; in SQL, as
# (w + 1) (n - w + 1) / (n + 2)³.
_UNSETTLED = (
    "(wins + 1.0) * (judgments - wins + 1)"
    " / ((judgments + 2.0) * (judgments + 2) * (judgments + 2))"
)


def _check_study_settings(scale: int, overlap: int, gold_rate: float) -> None:
    Scale(scale)
    if overlap < 1:
        raise StoreError("overlap must be at least 1")
    if not 0 <= gold_rate <= 1:
        raise StoreError("gold_rate must lie between 0 and 1")


def _split_sql(script: str) -> list[str]:
    """Split the schema into statements (it holds no semicolons inside literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def open_store(path: str | Path | None = None) -> Store:
    """The store at ``path``, else ``$PAIRWISE_DB``, else ``pairwise.db`` in the working folder."""
    import os

    return Store(path or os.environ.get("PAIRWISE_DB") or "pairwise.db")
