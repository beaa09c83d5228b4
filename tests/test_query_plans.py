"""The annotation hot path stays fast as a study grows: a correctness property, not a timing.

Every statement the store runs to hand out a comparison, to record a judgment or a pass and to
show progress is captured as SQLite executes it, and its ``EXPLAIN QUERY PLAN`` must read rows through an index:
no full ``SCAN`` of comparisons, judgments, leases or passes, and no sort of every open comparison
to find the first. The shortcut that lets an annotator far ahead of the others skip the items they
already judged is checked against a plain reading of the tables.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from pairwise.store import Prompt, Store

T0 = 1_000_000.0
BIG_TABLES = ("comparisons", "judgments", "leases", "passes", "scan_starts")


def _fill(store: Store, n_prompts: int, models: list[str]) -> None:
    ids = [f"p{i:03d}" for i in range(n_prompts)]
    store.add_prompts(Prompt(p, "chat", [{"role": "user", "content": p}], [], 1) for p in ids)
    store.add_responses((p, m, f"{m} answers {p}") for m in models for p in ids)


@pytest.fixture
def busy(tmp_path):
    """A study part way through: judgments, a pass, live and stale leases, a gold item."""
    store = Store(tmp_path / "plans.db")
    _fill(store, 12, ["m1", "m2", "m3"])
    study = store.create_study("s", pairs=[("m1", "m2"), ("m2", "m3")], overlap=3, seed=1)
    store.set_gold(1, 2)
    people = [store.add_annotator(f"a{i}").id for i in range(4)]
    for a in people[:3]:
        for _ in range(5):
            got = store.next_comparison(study, a, clock=T0, gold=False)
            store.record_judgment(got.comparison_id, a, score=1, shown_order=got.shown_order)
    got = store.next_comparison(study, people[0], clock=T0, gold=False)
    store.record_pass(got.comparison_id, people[0])
    store.next_comparison(study, people[1], clock=T0 - 7200, gold=False)  # stale by now
    store.next_comparison(study, people[2], clock=T0, gold=False)  # live
    yield store, store.get_study("s"), people
    store.close()


def _plans(store: Store, action: Callable[[], object]) -> list[tuple[str, list[str]]]:
    """Each data statement ``action`` runs, with the detail lines of its query plan."""
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        action()
    finally:
        store.conn.set_trace_callback(None)
    data = [
        s
        for s in statements
        if s.split(None, 1)[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}
    ]
    return [
        (sql, [row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql)])
        for sql in dict.fromkeys(data)
    ]


def _full_scans(plans: list[tuple[str, list[str]]]) -> list[str]:
    return [
        f"{detail}  <-  {sql}"
        for sql, details in plans
        for detail in details
        if detail.startswith("SCAN ") and detail != "SCAN CONSTANT ROW"
    ]


def _hot_path(store: Store, study, people) -> dict[str, Callable[[], object]]:
    a, b, c, d = people
    held = {}

    def take_new():
        held["new"] = store.next_comparison(study, d, clock=T0, gold=False)

    def record():
        item = held["new"]
        store.record_judgment(item.comparison_id, d, score=-1, shown_order=item.shown_order)

    def record_again():
        item = held["new"]
        store.record_judgment(item.comparison_id, d, score=-1, shown_order=item.shown_order)

    return {
        "next_comparison (new item)": take_new,
        "record_judgment": record,
        "record_judgment (duplicate)": record_again,
        "next_comparison (live lease)": lambda: store.next_comparison(study, c, clock=T0),
        "next_comparison (gold)": lambda: store.next_comparison(study, b, clock=T0, gold=True),
        "record_pass": lambda: store.record_pass(held["new"].comparison_id, a),
        "release": lambda: store.release(held["new"].comparison_id, c),
        "annotator_progress": lambda: store.annotator_progress(study, a),
        "study_progress": lambda: store.study_progress(study),
    }


@pytest.mark.sqlite_only("reads the plans of SQLite's query planner")
@pytest.mark.parametrize("adaptive", [False, True])
def test_the_hot_path_reads_through_indexes(busy, adaptive):
    store, study, people = busy
    study = store.update_study(study.id, adaptive=adaptive)
    for name, action in _hot_path(store, study, people).items():
        plans = _plans(store, action)
        assert plans, f"{name} ran no statement"
        assert _full_scans(plans) == [], name


@pytest.mark.sqlite_only("reads the plans of SQLite's query planner")
@pytest.mark.parametrize(
    "adaptive, picking, index",
    [(False, "c.is_gold = 0", "comparisons_next"), (True, "c.pair_id =", "comparisons_pair_next")],
)
def test_the_next_comparison_is_found_in_index_order_without_a_sort(busy, adaptive, picking, index):
    """In the study's random order; an adaptive study's, within the chosen pair."""
    store, study, people = busy
    study = store.update_study(study.id, adaptive=adaptive)
    plans = _plans(store, lambda: store.next_comparison(study, people[3], clock=T0, gold=False))
    picks = [(sql, details) for sql, details in plans if picking in sql]
    assert picks, "no statement picked a regular comparison"
    for sql, details in picks:
        assert any(index in d and "is_open=?" in d for d in details), sql
        # the (sub)query that reads the index sorts nothing (another part may sort a few rows)
        plan = store.conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        readers = {parent for _, parent, _, detail in plan if index in detail}
        sorts = [d for _, parent, _, d in plan if parent in readers and "TEMP B-TREE" in d]
        assert sorts == [], (sql, details)


@pytest.mark.sqlite_only("reads the plans of SQLite's query planner")
def test_a_full_scan_would_be_caught(busy):
    store, _, _ = busy
    plans = _plans(
        store,
        lambda: store.conn.execute("SELECT count(*) FROM judgments WHERE seconds > 1").fetchone(),
    )
    assert _full_scans(plans)


# -- work per call does not grow with the study ----------------------------------------------------


def _work(store: Store, action: Callable[[], object]) -> int:
    """SQLite virtual machine steps ``action`` takes, in units of ten."""
    ticks = 0

    def tick() -> int:
        nonlocal ticks
        ticks += 1
        return 0

    store.conn.set_progress_handler(tick, 10)
    try:
        action()
    finally:
        store.conn.set_progress_handler(None, 10)
    return ticks


def _take_and_judge(store: Store, study, annotator: int, times: int) -> None:
    for _ in range(times):
        got = store.next_comparison(study, annotator, clock=T0, gold=False)
        store.record_judgment(got.comparison_id, annotator, score=1, shown_order=got.shown_order)


def _work_per_call(tmp_path, factor: int) -> dict[str, int]:
    """Work of the hot path in a study ``factor`` times the size: more complete comparisons, more
    open ones, and a fast annotator with more judged ones still waiting for a second judgment."""
    store = Store(tmp_path / f"grown-{factor}.db")
    _fill(store, 20 * factor, ["m1", "m2", "m3"])
    study = store.create_study("s", pairs=[("m1", "m2"), ("m2", "m3")], overlap=2, seed=1)
    a, b, fast, me = (store.add_annotator(n).id for n in ("a", "b", "fast", "me"))
    _take_and_judge(store, study, a, 10 * factor)
    _take_and_judge(store, study, b, 10 * factor)  # the same items: now complete
    _take_and_judge(store, study, fast, 10 * factor + 1)  # open, waiting for a second judgment
    _take_and_judge(store, study, me, 3)
    got = {}
    work = {
        "next_comparison (fast annotator)": lambda: got.setdefault(
            "fast", store.next_comparison(study, fast, clock=T0, gold=False)
        ),
        "next_comparison": lambda: got.setdefault(
            "me", store.next_comparison(study, me, clock=T0, gold=False)
        ),
        "record_judgment": lambda: store.record_judgment(
            got["me"].comparison_id, me, score=0, shown_order=got["me"].shown_order
        ),
        "annotator_progress": lambda: store.annotator_progress(study, me),
        "study_progress": lambda: store.study_progress(study),
    }
    figures = {name: _work(store, action) for name, action in work.items()}
    store.close()
    return figures


@pytest.mark.sqlite_only("counts the steps of SQLite's virtual machine")
def test_the_work_per_call_does_not_grow_with_the_study(tmp_path):
    small, large = _work_per_call(tmp_path, 1), _work_per_call(tmp_path, 12)
    grown = {
        name: (small[name], large[name]) for name in small if large[name] > 1.5 * small[name] + 5
    }
    assert grown == {}, "work (small study, 12 times larger): " + str(grown)


# -- the scan start shortcut against a plain reading of the tables --------------------------------


def _expected(store: Store, study, annotator: int, now: float) -> int | None:
    """The comparison ``next_comparison`` must hand out, computed from whole tables in Python."""
    q = store.conn.execute
    leases = q("SELECT comparison_id, annotator_id, leased_at, expires_at FROM leases").fetchall()
    comparisons = q(
        "SELECT id, is_gold, sort_key FROM comparisons WHERE study_id = ?", [study.id]
    ).fetchall()
    in_study = {row[0] for row in comparisons}
    mine = sorted(
        (leased_at, cid)
        for cid, aid, leased_at, expires in leases
        if aid == annotator and expires > now and cid in in_study
    )
    if mine:
        return mine[0][1]
    overlap = q("SELECT overlap FROM studies WHERE id = ?", [study.id]).fetchone()[0]
    judged: dict[int, set[int]] = {}
    for cid, aid in q("SELECT comparison_id, annotator_id FROM judgments"):
        judged.setdefault(cid, set()).add(aid)
    passed = {(cid, aid) for cid, aid in q("SELECT comparison_id, annotator_id FROM passes")}
    held: dict[int, int] = {}
    for cid, aid, _, expires in leases:
        if expires > now and aid != annotator:
            held[cid] = held.get(cid, 0) + 1
    fits = [
        (sort_key, cid)
        for cid, is_gold, sort_key in comparisons
        if not is_gold
        and annotator not in judged.get(cid, set())
        and (cid, annotator) not in passed
        and len(judged.get(cid, ())) + held.get(cid, 0) < overlap
    ]
    return min(fits)[1] if fits else None


def _expected_progress(store: Store, study, annotator: int) -> tuple[dict, dict]:
    """``study_progress`` and ``annotator_progress`` counted from whole tables in Python."""
    q = store.conn.execute
    overlap = q("SELECT overlap FROM studies WHERE id = ?", [study.id]).fetchone()[0]
    regular = {
        cid
        for cid, is_gold in q("SELECT id, is_gold FROM comparisons WHERE study_id = ?", [study.id])
        if not is_gold
    }
    in_study = {r[0] for r in q("SELECT id FROM comparisons WHERE study_id = ?", [study.id])}
    n = dict.fromkeys(regular, 0)
    mine = set()
    for cid, aid in q("SELECT comparison_id, annotator_id FROM judgments"):
        if cid in regular:
            n[cid] += 1
            if aid == annotator:
                mine.add(cid)
    passed = {
        cid for cid, aid in q("SELECT comparison_id, annotator_id FROM passes") if aid == annotator
    }
    study_figures = {
        "comparisons": len(regular),
        "complete": sum(k >= overlap for k in n.values()),
        "wanted": len(regular) * overlap,
        "done": sum(min(k, overlap) for k in n.values()),
        "judgments": sum(n.values()),
    }
    available = sum(1 for c, k in n.items() if k < overlap and c not in mine and c not in passed)
    gold = in_study - regular
    my_gold = {
        cid
        for cid, aid in q("SELECT comparison_id, annotator_id FROM judgments")
        if aid == annotator
    } & gold
    rate = q("SELECT gold_rate FROM studies WHERE id = ?", [study.id]).fetchone()[0]
    # gold items met while rating regular ones: each new item is gold with the rate
    expected = len(gold) if rate >= 1 else 0
    if 0 < rate < 1:
        expected = min(len(gold), math.ceil((len(mine) + available) * rate / (1 - rate) - 1e-9))
    gold_left = max(0, expected - len(my_gold) - len(passed & gold)) if available and rate else 0
    annotator_figures = {
        "done": len(mine) + len(my_gold),
        "passed": len(passed & in_study),
        "available": available,
        "total": len(mine) + len(my_gold) + available + gold_left,
    }
    return study_figures, annotator_figures


@pytest.mark.parametrize("seed", range(6))
def test_the_next_comparison_matches_a_plain_reading_of_the_tables(new_db, seed):
    """Random judging, passing, releasing, lapsing leases, overlap changes, gold marks and new
    comparisons: whatever moved, the store hands out exactly the first fitting comparison, and
    its kept progress totals equal a fresh count."""
    rng = random.Random(seed)
    store = Store(new_db("model"))
    _fill(store, 10, ["m1", "m2", "m3", "m4"])
    study = store.create_study("s", pairs=[("m1", "m2"), ("m1", "m3")], overlap=2, seed=seed)
    people = [store.add_annotator(f"a{i}").id for i in range(4)]
    now = T0
    added = 0
    for _ in range(250):
        now += rng.choice([1.0, 1.0, 1.0, 400.0])
        roll = rng.random()
        if roll < 0.05:
            study = store.update_study(
                "s", overlap=rng.randint(1, 4), gold_rate=rng.choice([0.0, 0.1, 0.5, 1.0])
            )
        elif roll < 0.10:
            cid = rng.randint(1, store.counts()["comparisons"])
            store.set_gold(cid, rng.choice([None, None, 1]))
        elif roll < 0.12 and added < 10:
            # a new comparison early in the order, written behind the store's back
            ra, rb = (
                store.conn.execute(
                    "SELECT id FROM responses WHERE prompt_id = ? AND model = ?",
                    [f"p{added:03d}", m],
                ).fetchone()[0]
                for m in ("m4", "m2")
            )
            store.conn.execute(
                "INSERT INTO comparisons (study_id, prompt_id, response_a, response_b, sort_key)"
                " VALUES (?, ?, ?, ?, ?)",
                [study.id, f"p{added:03d}", ra, rb, rng.randint(0, 40)],
            )
            added += 1
        else:
            a = rng.choice(people)
            expected = _expected(store, study, a, now)
            got = store.next_comparison(study, a, clock=now, gold=False, lease_seconds=500, rng=rng)
            assert (got and got.comparison_id) == expected
            study = store.get_study("s")
            assert (store.study_progress(study), store.annotator_progress(study, a)) == (
                _expected_progress(store, study, a)
            )
            if got is None:
                continue
            action = rng.random()
            if action < 0.6:
                store.record_judgment(got.comparison_id, a, score=0, shown_order=got.shown_order)
            elif action < 0.7:
                store.record_pass(got.comparison_id, a)
            elif action < 0.8:
                store.release(got.comparison_id, a)
    store.close()


@pytest.mark.sqlite_only(
    "an older SQLite file gets its totals when opened; a PostgreSQL store has them from the start"
)
def test_totals_are_filled_in_for_a_database_written_before_they_existed(new_db):
    old = new_db("old")
    store = Store(old)
    _fill(store, 8, ["m1", "m2", "m3"])
    study = store.create_study("s", pairs=[("m1", "m2"), ("m2", "m3")], overlap=2, seed=3)
    store.set_gold(2, 1)
    people = [store.add_annotator(f"a{i}").id for i in range(3)]
    for a in people:
        for _ in range(4):
            got = store.next_comparison(study, a, clock=T0, gold=False)
            store.record_judgment(got.comparison_id, a, score=1, shown_order=got.shown_order)
    store.record_pass(store.next_comparison(study, people[0], clock=T0).comparison_id, people[0])
    expected = _expected_progress(store, study, people[0])
    store.conn.execute("DELETE FROM study_totals")  # as before the table existed
    store.close()
    copy = new_db("reopened", copy_of=old)  # not opened by this process: the schema step runs
    with Store(copy) as reopened:
        study = reopened.get_study("s")
        got = (reopened.study_progress(study), reopened.annotator_progress(study, people[0]))
    assert got == expected
    assert expected[0]["judgments"] == 12 and expected[1]["passed"] == 1


def test_a_store_at_the_first_revision_gets_its_totals_in_shards(new_db):
    """Revision 0002 on both backends: one totals row per study becomes rows by shard, filled
    from the comparisons, and the triggers keep them from then on."""
    old = new_db("first-revision")
    store = Store(old)
    _fill(store, 8, ["m1", "m2", "m3"])
    study = store.create_study("s", pairs=[("m1", "m2"), ("m2", "m3")], overlap=2, seed=3)
    people = [store.add_annotator(f"a{i}").id for i in range(3)]
    for a in people:
        for _ in range(4):
            got = store.next_comparison(study, a, clock=T0, gold=False)
            store.record_judgment(got.comparison_id, a, score=1, shown_order=got.shown_order)
    expected = _expected_progress(store, study, people[0])
    on = " ON comparisons" if store.backend == "postgresql" else ""
    with store.transaction() as conn:  # the table as revision 0001 made it, one row per study
        for name in ("study_totals_added", "study_totals_changed", "study_totals_removed"):
            conn.execute(f"DROP TRIGGER IF EXISTS {name}{on}")
        conn.execute("DROP TABLE study_totals")
        conn.execute(
            "CREATE TABLE study_totals (study_id INTEGER PRIMARY KEY REFERENCES studies(id),"
            " regular INTEGER NOT NULL, complete INTEGER NOT NULL, judgments INTEGER NOT NULL,"
            " open_judgments INTEGER NOT NULL)"
        )
        conn.execute(
            "INSERT INTO study_totals SELECT study_id, count(*), sum(1 - is_open),"
            " sum(n_judgments), sum(n_judgments * is_open) FROM comparisons WHERE is_gold = 0"
            " GROUP BY study_id"
        )
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    store.close()
    copy = new_db("upgraded", copy_of=old)  # not opened by this process: the migration runs
    with Store(copy) as upgraded:
        assert upgraded.conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            "0002",
        )
        shards = upgraded.conn.execute("SELECT count(*) FROM study_totals").fetchone()[0]
        assert shards > 1
        study = upgraded.get_study("s")
        got = (upgraded.study_progress(study), upgraded.annotator_progress(study, people[0]))
        assert got == expected and expected[0]["judgments"] == 12
        item = upgraded.next_comparison(study, people[0], clock=T0, gold=False)
        upgraded.record_judgment(item.comparison_id, people[0], score=1, shown_order="AB")
        assert upgraded.study_progress(study)["judgments"] == 13
        assert (upgraded.study_progress(study), upgraded.annotator_progress(study, people[0])) == (
            _expected_progress(upgraded, study, people[0])
        )
