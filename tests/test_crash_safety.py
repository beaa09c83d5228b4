"""A process killed with SIGKILL in the middle of a write leaves a consistent database.

SQLite makes a transaction all or nothing even when its process dies (recovery drops the
uncommitted tail of the write-ahead log), and a PostgreSQL server rolls back the open transaction
of a client that went away; these tests check that our writes are shaped so that the promise
covers them: a whole import file is one transaction, and so is a judgment with its comparison's
count. After each kill the store holds either all of the killed write or none of it (a dump of
every table compares equal to the one before; a SQLite file also passes ``PRAGMA
integrity_check``), every judgment the child was told was stored is there exactly once, and
running the write again completes it.

The moment of the kill is chosen two ways:

- a hook: at a chosen row inside the transaction the child stops and the parent kills it, so the
  kill lands mid-transaction every time. On SQLite the child's connection traces its statements
  (``sqlite3``'s trace callback), tells the parent and waits; on PostgreSQL a trigger installed
  for the test makes the child's server session wait for an advisory lock that the parent holds,
  which the parent sees in ``pg_stat_activity``;
- a race: the parent watches the store grow while the child imports a big file (SQLite's
  write-ahead log, or the database's size on the server), or counts judgments while it records
  them, and kills at that moment; retried a few times until a kill lands before the import's
  commit.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from databases import ON_POSTGRES, Databases, NewDatabase, check_intact

from pairwise.ingest import import_judgments, import_prompts, import_responses
from pairwise.plans import plan_pairs
from pairwise.store import Prompt, Store

pytestmark = pytest.mark.stress

ROWS, TEXT = 1_500, 4_000  # 6 MB of text per import: bigger than SQLite's page cache
OVERLAP = 2
IMPORT = {"prompts": import_prompts, "responses": import_responses, "judgments": import_judgments}
_fork = multiprocessing.get_context("fork")


def _text(i: int) -> str:
    """A long text that is different for each ``i``, with the characters CSV must quote."""
    return f'Answer {i}, "quoted", on\ntwo lines. ' + f"{i:05d} " * (TEXT // 6)


def _write_csv(path: Path, rows: list[tuple]) -> Path:
    with io.StringIO() as out:
        csv.writer(out).writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8", newline="")
    return path


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _prepare(new_db: NewDatabase, folder: Path, kind: str) -> tuple[str, Path]:
    """A database and a big file of ``kind`` to import into it."""
    db = new_db("base")
    ids = [f"p{i:05d}" for i in range(ROWS)]
    with Store(db) as store:
        if kind == "responses":
            store.add_prompts(Prompt(p, "c", [{"role": "user", "content": p}], [], 1) for p in ids)
    if kind == "prompts":
        file = _write_jsonl(
            folder / "prompts.jsonl", [{"id": p, "prompt": _text(i)} for i, p in enumerate(ids)]
        )
    elif kind == "responses":
        rows = [("prompt_id", "model", "response")]
        rows += [(p, "big-model", _text(i)) for i, p in enumerate(ids)]
        file = _write_csv(folder / "responses.csv", rows)
    else:
        records = [
            {
                "study": "outside",
                "prompt_id": p,
                "prompt": f"Question {p}",
                "model_a": "m1",
                "model_b": "m2",
                "response_a": _text(i),
                "response_b": _text(-i),
                "annotator": f"judge-{i % 3}",
                "score": i % 7 - 3,
                "scale": 7,
            }
            for i, p in enumerate(ids)
        ]
        file = _write_jsonl(folder / "judgments.jsonl", records)
    return db, file


def _dump(databases: Databases, db: str) -> list[str]:
    with Store(db) as store:
        check_intact(store)
    return databases.snapshot(db)


# -- children ------------------------------------------------------------------------------------


def _hold_at(store: Store, ready, *, after: str, nth: int, at: str | None = None) -> None:
    """Once the connection has started ``nth`` statements beginning with ``after``, signal
    ``ready`` at the next one beginning with ``at`` (default: that same one) and wait there,
    inside the open transaction, for the kill. (A statement that fires triggers is traced once
    more per trigger, with the same text right after its own trace: those repeats are not
    counted. ``at`` is the statement to stop at, ``after`` the one to count.)"""
    seen = 0
    last = None

    def trace(sql: str) -> None:
        nonlocal seen, last
        repeat, last = sql == last, sql
        if sql.startswith(after) and not repeat:
            seen += 1
        if seen >= nth and sql.startswith(at or after):
            ready.set()
            signal.pause()

    store.conn.set_trace_callback(trace)


def _import_held(db: str, kind: str, file: Path, nth: int, ready) -> None:
    with Store(db) as store:
        _hold_at(store, ready, after=f"INSERT INTO {kind}", nth=nth)
        IMPORT[kind](store, file)


def _import(db: str, kind: str, file: Path, ready) -> None:
    ready.set()
    with Store(db) as store:
        IMPORT[kind](store, file)


def _judge(db: str, annotators: list[str], hold: int | None, ready, told=None) -> None:
    """Record judgments until none is left; with ``hold``, stop inside the ``hold``-th one (on
    SQLite). Each judgment the store says it stored is put on ``told``."""
    with Store(db) as store:
        if hold is not None:
            _hold_at(store, ready, after="INSERT INTO judgments", nth=hold, at="UPDATE comparisons")
        else:
            ready.set()
        study = store.get_study("s")
        people = [store.get_annotator(name).id for name in annotators]
        while True:
            for who in people:
                got = store.next_comparison(study, who)
                if got is None:
                    return
                done = store.record_judgment(got.comparison_id, who, score=1, shown_order="AB")
                if told is not None and done.stored:
                    told.put(done.judgment_id)


def _kill(
    target: Callable, args: tuple, moment: Callable[[], bool] | None = None, **kwargs
) -> bool:
    """Start ``target(*args, ready, **kwargs)`` in a child and SIGKILL it once it is ready and
    ``moment()`` holds; ``False`` when the child finished first."""
    ready = _fork.Event()
    child = _fork.Process(target=target, args=(*args, ready), kwargs=kwargs)
    child.start()
    deadline = time.monotonic() + 30
    while not (ready.is_set() and (moment is None or moment())):
        if not child.is_alive():
            child.join()
            assert child.exitcode == 0, f"the child failed with exit code {child.exitcode}"
            return False
        assert time.monotonic() < deadline, "the child never reached the moment to be killed"
        time.sleep(0.0005)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    return child.exitcode == -signal.SIGKILL


# -- stopping a child inside its transaction on PostgreSQL ---------------------------------------

_HOLD_KEY = 4_242_001  # the advisory lock the parent holds while a child waits for it
_HOLD = """
CREATE FUNCTION pairwise_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    seen integer := coalesce(nullif(current_setting('pairwise_test.rows', true), ''), '0')::int + 1;
BEGIN
    PERFORM set_config('pairwise_test.rows', seen::text, false);
    IF seen = TG_ARGV[0]::int THEN
        PERFORM pg_advisory_xact_lock(TG_ARGV[1]::bigint);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER aaa_pairwise_test_hold {timing} INSERT ON {table}
    FOR EACH ROW EXECUTE FUNCTION pairwise_test_hold('{nth}', '{key}');
"""


@contextlib.contextmanager
def _held_on_postgres(
    databases: Databases, db: str, table: str, nth: int, *, timing: str
) -> Iterator[Callable[[], bool]]:
    """Make the session that writes the ``nth`` row of ``table`` (counted over the session's
    committed and open transactions) wait, inside its transaction, for a lock held here: just
    ``BEFORE`` that row is written, or ``AFTER`` it. Yields the moment to kill (that session is
    waiting); afterwards lets the dead client's session run into its closed connection, waits
    until the server has rolled it back, and removes the trigger."""
    with databases.connect(db) as lock:
        lock.execute(_HOLD.format(timing=timing, table=table, nth=nth, key=_HOLD_KEY))
        lock.execute("SELECT pg_advisory_lock(%s)", [_HOLD_KEY])

        def others(condition: str = "true") -> list[tuple]:
            return lock.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                f" AND pid <> pg_backend_pid() AND {condition}"
            ).fetchall()

        yield lambda: bool(others("wait_event_type = 'Lock' AND wait_event = 'advisory'"))
        lock.execute("SELECT pg_advisory_unlock(%s)", [_HOLD_KEY])
        deadline = time.monotonic() + 30
        while others("state <> 'idle'"):  # idle: this process's own pooled connections
            assert time.monotonic() < deadline, "the killed client's session never ended"
            time.sleep(0.01)
        lock.execute("DROP FUNCTION pairwise_test_hold() CASCADE")


def _grown_on_postgres(databases: Databases, db: str, by: int) -> Callable[[], bool]:
    """Whether the database has grown by ``by`` bytes since this was called: a writer's rows
    are on disk, committed or not."""
    conn = databases.connect(db)
    query = "SELECT pg_database_size(current_database())"
    start = conn.execute(query).fetchone()[0]
    return lambda: conn.execute(query).fetchone()[0] > start + by


def _stored_bytes(databases: Databases, db: str) -> int:
    """What the database holds on disk (on PostgreSQL, dead rows included)."""
    with databases.connect(db) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


# -- imports ---------------------------------------------------------------------------------------


def _kill_import_mid_transaction(databases: Databases, db: str, kind: str, file: Path) -> bool:
    """Kill an import of ``file`` once two thirds of its rows are written."""
    nth = ROWS * 2 // 3
    if not ON_POSTGRES:
        return _kill(_import_held, (db, kind, file, nth))
    with _held_on_postgres(databases, db, kind, nth, timing="BEFORE") as waiting:
        return _kill(_import, (db, kind, file), waiting)


@pytest.mark.parametrize("kind", sorted(IMPORT))
def test_an_import_killed_mid_transaction_writes_nothing_and_runs_again(
    tmp_path: Path, new_db: NewDatabase, databases: Databases, kind: str
) -> None:
    db, file = _prepare(new_db, tmp_path, kind)
    before = _dump(databases, db)
    size = _stored_bytes(databases, db) if ON_POSTGRES else 0
    assert _kill_import_mid_transaction(databases, db, kind, file)
    # two thirds of the rows were written (to SQLite's log, or the server's tables), none committed
    if ON_POSTGRES:
        assert _stored_bytes(databases, db) > size + 200_000
    else:
        assert Path(f"{db}-wal").stat().st_size > 1_000_000
    assert _dump(databases, db) == before

    with Store(db) as store:
        done = IMPORT[kind](store, file)
        assert done.inserted[kind] == ROWS
        assert sum(IMPORT[kind](store, file).inserted.values()) == 0
        assert store.counts()[kind] == ROWS
    _dump(databases, db)


def test_an_import_killed_at_a_random_moment_leaves_all_or_nothing(
    tmp_path: Path, new_db: NewDatabase, databases: Databases
) -> None:
    base, file = _prepare(new_db, tmp_path, "responses")
    before = _dump(databases, base)
    outcomes = []
    for attempt in range(5):
        db = new_db(f"race-{attempt}", copy_of=base)
        if ON_POSTGRES:
            midway = _grown_on_postgres(databases, db, 64_000)
        else:
            wal = Path(f"{db}-wal")

            def midway(wal: Path = wal) -> bool:
                return wal.exists() and wal.stat().st_size > 2_000_000

        killed = _kill(_import, (db, "responses", file), midway)
        with Store(db) as store:
            check_intact(store)
            stored = store.counts()["responses"]
            assert stored in (0, ROWS)
            outcomes.append((killed, stored))
            if stored == 0:
                assert _dump(databases, db) == before
            assert (
                store.counts()["responses"] + IMPORT["responses"](store, file).inserted["responses"]
                == ROWS
            )
        if (True, 0) in outcomes:
            break
    assert (True, 0) in outcomes, f"no kill landed before the commit: {outcomes}"


# -- judgments -------------------------------------------------------------------------------------


def _study(new_db: NewDatabase, annotators: list[str]) -> str:
    db = new_db("judge")
    ids = [f"q{i}" for i in range(20)]
    with Store(db) as store:
        store.add_prompts(Prompt(p, "c", [{"role": "user", "content": p}], [], 1) for p in ids)
        store.add_responses((p, m, f"{m} on {p}") for p in ids for m in ("m1", "m2", "m3"))
        store.create_study("s", pairs=plan_pairs(["m1", "m2", "m3"]), overlap=OVERLAP, scale=3)
        for name in annotators:
            store.add_annotator(name)
    return db


class _Told:
    """The ids of the judgments a child was told were stored, in memory shared with the parent;
    written one at a time, so that a kill loses at most the last report, never garbles one."""

    def __init__(self, most: int = 1024) -> None:
        self.ids = _fork.Array("q", most, lock=False)
        self.count = _fork.Value("i", 0, lock=False)

    def put(self, judgment_id: int) -> None:
        self.ids[self.count.value] = judgment_id
        self.count.value += 1

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids[: self.count.value])


def _consistent(store: Store, told: _Told | None = None) -> int:
    """Check every comparison's count against its rows, and that each judgment reported stored
    is there once; the number of judgments."""
    rows = store.query(
        "SELECT c.n_judgments, c.is_open, count(j.id) AS n FROM comparisons c"
        " LEFT JOIN judgments j ON j.comparison_id = c.id GROUP BY c.id"
    )
    assert all(
        r["n_judgments"] == r["n"] <= OVERLAP and r["is_open"] == (r["n"] < OVERLAP) for r in rows
    )
    if told is not None:
        reported = list(told)
        found = store.query("SELECT id FROM judgments")
        assert reported and len(set(reported)) == len(reported)
        assert set(reported) <= {r["id"] for r in found}
    check_intact(store)
    return sum(r["n"] for r in rows)


def test_a_judgment_killed_between_its_row_and_its_count_is_not_stored(
    new_db: NewDatabase, databases: Databases
) -> None:
    db = _study(new_db, ["ann"])
    told = _Told()
    # the fifth judgment's row is in, its count is not
    if ON_POSTGRES:
        with _held_on_postgres(databases, db, "judgments", 5, timing="AFTER") as waiting:
            assert _kill(_judge, (db, ["ann"], None), waiting, told=told)
    else:
        assert _kill(_judge, (db, ["ann"], 5), told=told)
    with Store(db) as store:
        assert _consistent(store, told) == 4 == len(list(told))
        who = store.get_annotator("ann").id
        # the annotator comes back to the same item (its lease outlived the crash) and rates it
        held = store.query("SELECT comparison_id FROM leases WHERE annotator_id = ?", [who])
        again = store.next_comparison(store.get_study("s"), who)
        assert [r["comparison_id"] for r in held] == [again.comparison_id]
        assert store.record_judgment(again.comparison_id, who, score=-1, shown_order="BA").stored
        assert _consistent(store, told) == 5


def test_judging_killed_at_a_random_moment_keeps_counts(new_db: NewDatabase) -> None:
    people = [f"a{i}" for i in range(4)]
    db = _study(new_db, people)
    told = _Told()
    with Store(db) as watcher:

        def some_judged() -> bool:
            return watcher.counts()["judgments"] >= 40

        assert _kill(_judge, (db, people, None), some_judged, told=told)
    with Store(db) as store:
        judged = _consistent(store, told)
        assert 40 <= judged < 60 * OVERLAP
    _judge(db, people, None, _fork.Event())  # the rest, after the crash
    with Store(db) as store:
        assert _consistent(store, told) == 60 * OVERLAP  # 20 prompts, 3 pairs
