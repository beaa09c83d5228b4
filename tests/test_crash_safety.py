"""A process killed with SIGKILL in the middle of a write leaves a consistent database.

SQLite makes a transaction all or nothing even when its process dies (recovery drops the
uncommitted tail of the write-ahead log); these tests check that our writes are shaped so that
the promise covers them: a whole import file is one transaction, and so is a judgment with its
comparison's count. After each kill the file passes ``PRAGMA integrity_check``, holds either
all of the killed write or none of it (a full SQL dump compares equal to the one before), and
running the write again completes it.

The moment of the kill is chosen two ways:

- a hook: the child's connection traces its statements (``sqlite3``'s trace callback) and at a
  chosen statement inside the transaction tells the parent, then waits to be killed, so the kill
  lands mid-transaction every time;
- a race: the parent watches the write-ahead log grow while the child imports a big file, or
  counts judgments while it records them, and kills at that moment; retried a few times until a
  kill lands before the import's commit.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

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


def _prepare(folder: Path, kind: str) -> tuple[Path, Path]:
    """A database and a big file of ``kind`` to import into it."""
    db = folder / "base.db"
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


def _dump(db: Path) -> list[str]:
    with Store(db) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return list(store.conn.iterdump())


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


def _import_held(db: Path, kind: str, file: Path, nth: int, ready) -> None:
    with Store(db) as store:
        _hold_at(store, ready, after=f"INSERT INTO {kind}", nth=nth)
        IMPORT[kind](store, file)


def _import(db: Path, kind: str, file: Path, ready) -> None:
    ready.set()
    with Store(db) as store:
        IMPORT[kind](store, file)


def _judge(db: Path, annotators: list[str], hold: int | None, ready) -> None:
    """Record judgments until none is left; with ``hold``, stop inside the ``hold``-th one."""
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
                store.record_judgment(got.comparison_id, who, score=1, shown_order="AB")


def _kill(target: Callable, args: tuple, moment: Callable[[], bool] | None = None) -> bool:
    """Start ``target(*args, ready)`` in a child and SIGKILL it once it is ready and ``moment()``
    holds; ``False`` when the child finished first."""
    ready = _fork.Event()
    child = _fork.Process(target=target, args=(*args, ready))
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


# -- imports ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(IMPORT))
def test_an_import_killed_mid_transaction_writes_nothing_and_runs_again(
    tmp_path: Path, kind: str
) -> None:
    db, file = _prepare(tmp_path, kind)
    before = _dump(db)
    wal = Path(f"{db}-wal")
    assert _kill(_import_held, (db, kind, file, ROWS * 2 // 3))
    # two thirds of the rows were written, some spilled to the log, none committed
    assert wal.stat().st_size > 1_000_000
    assert _dump(db) == before

    with Store(db) as store:
        done = IMPORT[kind](store, file)
        assert done.inserted[kind] == ROWS
        assert sum(IMPORT[kind](store, file).inserted.values()) == 0
        assert store.counts()[kind] == ROWS
    _dump(db)


def test_an_import_killed_at_a_random_moment_leaves_all_or_nothing(tmp_path: Path) -> None:
    base, file = _prepare(tmp_path, "responses")
    before = _dump(base)
    outcomes = []
    for attempt in range(5):
        db = tmp_path / f"race-{attempt}.db"
        shutil.copyfile(base, db)
        wal = Path(f"{db}-wal")

        def midway(wal: Path = wal) -> bool:
            return wal.exists() and wal.stat().st_size > 2_000_000

        killed = _kill(_import, (db, "responses", file), midway)
        with Store(db) as store:
            assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = store.counts()["responses"]
            assert stored in (0, ROWS)
            outcomes.append((killed, stored))
            if stored == 0:
                assert _dump(db) == before
            assert (
                store.counts()["responses"] + IMPORT["responses"](store, file).inserted["responses"]
                == ROWS
            )
        if (True, 0) in outcomes:
            break
    assert (True, 0) in outcomes, f"no kill landed before the commit: {outcomes}"


# -- judgments -------------------------------------------------------------------------------------


def _study(folder: Path, annotators: list[str]) -> Path:
    db = folder / "judge.db"
    ids = [f"q{i}" for i in range(20)]
    with Store(db) as store:
        store.add_prompts(Prompt(p, "c", [{"role": "user", "content": p}], [], 1) for p in ids)
        store.add_responses((p, m, f"{m} on {p}") for p in ids for m in ("m1", "m2", "m3"))
        store.create_study("s", pairs=plan_pairs(["m1", "m2", "m3"]), overlap=OVERLAP, scale=3)
        for name in annotators:
            store.add_annotator(name)
    return db


def _consistent(store: Store) -> int:
    """Check every comparison's count against its rows; the number of judgments."""
    rows = store.query(
        "SELECT c.n_judgments, c.is_open, count(j.id) AS n FROM comparisons c"
        " LEFT JOIN judgments j ON j.comparison_id = c.id GROUP BY c.id"
    )
    assert all(
        r["n_judgments"] == r["n"] <= OVERLAP and r["is_open"] == (r["n"] < OVERLAP) for r in rows
    )
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return sum(r["n"] for r in rows)


def test_a_judgment_killed_between_its_row_and_its_count_is_not_stored(tmp_path: Path) -> None:
    db = _study(tmp_path, ["ann"])
    assert _kill(_judge, (db, ["ann"], 5))  # the fifth judgment's row is in, its count is not
    with Store(db) as store:
        assert _consistent(store) == 4
        who = store.get_annotator("ann").id
        # the annotator comes back to the same item (its lease outlived the crash) and rates it
        held = store.query("SELECT comparison_id FROM leases WHERE annotator_id = ?", [who])
        again = store.next_comparison(store.get_study("s"), who)
        assert [r["comparison_id"] for r in held] == [again.comparison_id]
        assert store.record_judgment(again.comparison_id, who, score=-1, shown_order="BA").stored
        assert _consistent(store) == 5


def test_judging_killed_at_a_random_moment_keeps_counts(tmp_path: Path) -> None:
    people = [f"a{i}" for i in range(4)]
    db = _study(tmp_path, people)
    with Store(db) as watcher:

        def some_judged() -> bool:
            return watcher.counts()["judgments"] >= 40

        assert _kill(_judge, (db, people, None), some_judged)
    with Store(db) as store:
        judged = _consistent(store)
        assert 40 <= judged < 60 * OVERLAP
    _judge(db, people, None, _fork.Event())  # the rest, after the crash
    with Store(db) as store:
        assert _consistent(store) == 60 * OVERLAP  # 20 prompts, 3 pairs
