"""Adaptive assignment: pair counts kept by triggers, the least settled pair first, prompts within
a pair in the study's random order, and stores written before pairs were kept."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from pairwise.ingest import StudySpec, create_study
from pairwise.store import ImportedJudgment, Prompt, Store

T0 = 1_000_000.0
MODELS = ["m1", "m2", "m3", "m4"]


def _fill(store: Store, n_prompts: int, models=MODELS) -> None:
    ids = [f"p{i:03d}" for i in range(n_prompts)]
    store.add_prompts(Prompt(p, "chat", [{"role": "user", "content": p}], [], 1) for p in ids)
    store.add_responses((p, m, f"{m} answers {p}") for m in models for p in ids)


def _unsettled(judgments: int, wins: int) -> float:
    """The squared half-width, up to a constant, of a pair's win rate shrunk towards one half."""
    rate = (wins + 1) / (judgments + 2)
    return rate * (1 - rate) / (judgments + 2)


@pytest.fixture
def store(new_db):
    s = Store(new_db("adaptive"))
    _fill(s, 30)
    yield s
    s.close()


def _pair_counts(store: Store, study_id: int) -> dict[tuple[str, str], tuple[int, int]]:
    rows = store.conn.execute(
        "SELECT model_a, model_b, judgments, wins FROM study_pairs WHERE study_id = ?",
        [study_id],
    )
    return {(a, b): (n, w) for a, b, n, w in rows if n}


def _recount(store: Store, study: str) -> dict[tuple[str, str], tuple[int, int]]:
    """The same counts from the judgments frame: regular comparisons, every annotator."""
    frame = store.judgments_frame(study, include_excluded=True, include_gold=False)
    if frame.empty:
        return {}
    grouped = frame.assign(win=frame["score"] > 0).groupby(["model_a", "model_b"])
    return {
        key: (int(n), int(w))
        for key, n, w in zip(
            grouped.size().index, grouped.size(), grouped["win"].sum(), strict=True
        )
    }


def _judge(store, study, annotator, rng, score=None):
    got = store.next_comparison(study, annotator, clock=T0, rng=rng, gold=False)
    if got is None:
        return None
    value = rng.choice(study.scale.values) if score is None else score(got)
    store.record_judgment(got.comparison_id, annotator, score=value, shown_order=got.shown_order)
    return got


def test_pair_counts_follow_judgments_gold_marks_and_imports(store):
    spec = StudySpec(name="s", models=MODELS, overlap=2, seed=1, adaptive=True)
    study = create_study(store, spec)
    assert study.adaptive
    rng = random.Random(2)
    people = [store.add_annotator(f"a{i}").id for i in range(3)]
    for _ in range(40):
        _judge(store, study, rng.choice(people), rng)
    assert _pair_counts(store, study.id) == _recount(store, "s")
    # a judged comparison marked gold leaves the counts, and comes back when unmarked
    judged = store.conn.execute("SELECT comparison_id FROM judgments LIMIT 1").fetchone()[0]
    store.set_gold(judged, 1)
    assert _pair_counts(store, study.id) == _recount(store, "s")
    store.set_gold(judged, None)
    assert _pair_counts(store, study.id) == _recount(store, "s")
    # a deleted judgment leaves them too
    store.conn.execute("DELETE FROM judgments WHERE id = (SELECT max(id) FROM judgments)")
    assert _pair_counts(store, study.id) == _recount(store, "s")
    # imported judgments: comparisons made without a pair get one from the trigger
    imported = store.add_study("outside", scale=7, overlap=1, models=["m1", "m2"], pair_plan={})
    made = store.add_comparisons(imported.id, [("p000", "m2", "m1"), ("p001", "m1", "m2")])
    store.add_judgments(
        ImportedJudgment(comparison_id, people[0], score=2) for comparison_id, _ in made
    )
    assert _pair_counts(store, imported.id) == _recount(store, "outside")
    assert (
        store.conn.execute("SELECT count(*) FROM comparisons WHERE pair_id IS NULL").fetchone()[0]
        == 0
    )


def test_the_least_settled_pair_is_served_first(store):
    study = store.create_study(
        "s", pairs=[("m1", "m2"), ("m1", "m3"), ("m2", "m3")], overlap=1, seed=3, adaptive=True
    )
    rng = random.Random(4)
    annotator = store.add_annotator("a").id
    # before any judgment every pair is equally unsettled: the first three go one to each pair
    first = [_judge(store, study, annotator, rng, score=lambda g: 3) for _ in range(3)]
    assert len({(g.model_a, g.model_b) for g in first}) == 3
    # from then on each pick is a pair with the highest p(1-p)/(n+2)
    for _ in range(40):
        counts = {
            (a, b): (n, w)
            for a, b, n, w in store.conn.execute(
                "SELECT model_a, model_b, judgments, wins FROM study_pairs WHERE study_id = ?",
                [study.id],
            )
        }
        best = max(_unsettled(n, w) for n, w in counts.values())
        # m1 beats m2 always; the other pairs split evenly, so they stay unsettled longer
        got = _judge(
            store,
            study,
            annotator,
            rng,
            score=lambda g: 3 if (g.model_a, g.model_b) == ("m1", "m2") else rng.choice([3, -3]),
        )
        assert _unsettled(*counts[got.model_a, got.model_b]) == pytest.approx(best)
    served = pd.Series([k for k, (n, _) in _pair_counts(store, study.id).items() for _ in range(n)])
    shares = served.value_counts(normalize=True)
    assert shares[("m1", "m2")] < shares[("m1", "m3")]
    assert shares[("m1", "m2")] < shares[("m2", "m3")]


def test_within_a_pair_comparisons_come_in_the_studys_random_order(store):
    study = store.create_study(
        "s", pairs=[("m1", "m2"), ("m3", "m4")], overlap=1, seed=5, adaptive=True
    )
    keys = dict(store.conn.execute("SELECT id, sort_key FROM comparisons"))
    rng = random.Random(6)
    annotators = [store.add_annotator(f"a{i}").id for i in range(3)]
    served: dict[tuple[str, str], list[int]] = {}
    while (got := _judge(store, study, rng.choice(annotators), rng)) is not None:
        served.setdefault((got.model_a, got.model_b), []).append(keys[got.comparison_id])
    for pair, sort_keys in served.items():
        assert sort_keys == sorted(sort_keys), pair
        assert len(sort_keys) == 30  # every comparison judged once: none lost, none twice


def test_overlap_leases_and_no_repeats_hold_as_for_random_order(store):
    study = store.create_study("s", pairs=[("m1", "m2")], overlap=2, seed=7, adaptive=True)
    a, b, c = (store.add_annotator(name).id for name in "abc")
    rng = random.Random(8)
    held = store.next_comparison(study, a, clock=T0, rng=rng)
    also = store.next_comparison(study, b, clock=T0, rng=rng)
    assert also.comparison_id == held.comparison_id  # room for two
    third = store.next_comparison(study, c, clock=T0, rng=rng)
    assert third.comparison_id != held.comparison_id  # two live leases fill it
    for who, got in ((a, held), (b, also)):
        store.record_judgment(got.comparison_id, who, score=1, shown_order=got.shown_order)
    seen = {held.comparison_id}
    while (got := store.next_comparison(study, a, clock=T0, rng=rng)) is not None:
        assert got.comparison_id not in seen
        seen.add(got.comparison_id)
        store.record_judgment(got.comparison_id, a, score=1, shown_order=got.shown_order)
    assert len(seen) == 30


def test_a_study_can_be_made_adaptive_later(store):
    study = store.create_study("s", pairs=[("m1", "m2")], overlap=1, seed=9)
    assert not study.adaptive
    assert store.update_study("s", adaptive=True).adaptive
    assert not store.update_study("s", adaptive=False).adaptive


@pytest.mark.sqlite_only("a SQLite file written by an earlier version is migrated")
def test_pairs_are_filled_in_for_a_database_written_before_they_existed(tmp_path):
    old = tmp_path / "old.db"
    store = Store(old)
    _fill(store, 10)
    study = store.create_study("s", pairs=[("m1", "m2"), ("m3", "m4")], overlap=2, seed=10)
    rng = random.Random(11)
    people = [store.add_annotator(f"a{i}").id for i in range(3)]
    for _ in range(25):
        _judge(store, study, rng.choice(people), rng)
    expected = _recount(store, "s")
    # as an earlier version wrote it: no pairs, no pair column, no adaptive flag
    conn = store.conn
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'study_pairs%'"
    ).fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP INDEX comparisons_pair_next")
    conn.execute("ALTER TABLE comparisons DROP COLUMN pair_id")
    conn.execute("ALTER TABLE studies DROP COLUMN adaptive")
    conn.execute("DROP TABLE study_pairs")
    store.close()
    copy = tmp_path / "reopened.db"  # a path this process has not opened: the schema step runs
    copy.write_bytes(old.read_bytes())
    with Store(copy) as reopened:
        assert not reopened.get_study("s").adaptive
        assert _pair_counts(reopened, study.id) == expected
        reopened.update_study("s", adaptive=True)
        got = reopened.next_comparison(reopened.get_study("s"), people[0], clock=T0, rng=rng)
        assert got is not None


def test_the_report_says_the_study_was_adaptive(store):
    from pairwise.report import render, report_from_store

    fast = store.create_study("fast", pairs=[("m1", "m2")], overlap=1, seed=12, adaptive=True)
    plain = store.create_study("plain", pairs=[("m3", "m4")], overlap=1, seed=12)
    rng = random.Random(13)
    annotator = store.add_annotator("a").id
    for study in (fast, plain):
        for _ in range(10):
            _judge(store, study, annotator, rng)
    adaptive = report_from_store(store, "fast", rounds=50)
    assert adaptive.meta["assignment"] == "adaptive"
    assert "assigned adaptively" in render(adaptive, "md")
    random_order = report_from_store(store, "plain", rounds=50)
    assert random_order.meta["assignment"] == "random"
    assert "assigned adaptively" not in render(random_order, "md")
    assert "assignment" not in report_from_store(store, rounds=50).meta  # several studies
