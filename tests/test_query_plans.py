"""The annotation hot path stays fast as a study grows: a correctness property, not a timing.

Every statement the store runs to hand out a comparison and to record a judgment or a pass is
captured as SQLite executes it, and its ``EXPLAIN QUERY PLAN`` must read rows through an index:
no full ``SCAN`` of comparisons, judgments, leases or passes, and no sort of every open comparison
to find the first. The shortcut that lets an annotator far ahead of the others skip the items they
already judged is checked against a plain reading of the tables.
"""

from __future__ import annotations

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
    }


def test_the_hot_path_reads_through_indexes(busy):
    store, study, people = busy
    for name, action in _hot_path(store, study, people).items():
        plans = _plans(store, action)
        assert plans, f"{name} ran no statement"
        assert _full_scans(plans) == [], name


def test_the_next_comparison_is_found_in_index_order_without_a_sort(busy):
    store, study, people = busy
    plans = _plans(store, lambda: store.next_comparison(study, people[3], clock=T0, gold=False))
    picks = [(sql, details) for sql, details in plans if "c.is_gold = 0" in sql]
    assert picks, "no statement picked a regular comparison"
    for sql, details in picks:
        assert any("comparisons_next" in d and "is_open=?" in d for d in details), sql
        assert not any("TEMP B-TREE" in d for d in details), (sql, details)


def test_a_full_scan_would_be_caught(busy):
    store, _, _ = busy
    plans = _plans(
        store,
        lambda: store.conn.execute("SELECT count(*) FROM judgments WHERE seconds > 1").fetchone(),
    )
    assert _full_scans(plans)


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


@pytest.mark.parametrize("seed", range(6))
def test_the_next_comparison_matches_a_plain_reading_of_the_tables(tmp_path, seed):
    """Random judging, passing, releasing, lapsing leases, overlap changes, gold marks and new
    comparisons: whatever moved, the store hands out exactly the first fitting comparison."""
    rng = random.Random(seed)
    store = Store(tmp_path / "model.db")
    _fill(store, 10, ["m1", "m2", "m3", "m4"])
    study = store.create_study("s", pairs=[("m1", "m2"), ("m1", "m3")], overlap=2, seed=seed)
    people = [store.add_annotator(f"a{i}").id for i in range(4)]
    now = T0
    added = 0
    for _ in range(250):
        now += rng.choice([1.0, 1.0, 1.0, 400.0])
        roll = rng.random()
        if roll < 0.05:
            study = store.update_study("s", overlap=rng.randint(1, 4))
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
