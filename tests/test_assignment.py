"""Who gets which comparison: overlap, no repeats, leases, gold items, pair plans, and many
processes writing one SQLite file at once."""

from __future__ import annotations

import math
import multiprocessing
import queue
import random
import time
from collections import Counter

import pytest
from databases import check_intact

from pairwise.plans import describe_plan, plan_pairs
from pairwise.store import MAX_NOTE_CHARS, Prompt, Store, StoreError

T0 = 1_000_000.0  # a fixed clock, so lease expiry needs no sleeping


def _fill(store: Store, n_prompts: int, models: dict[str, int | None]) -> None:
    """``n_prompts`` prompts; each model answers the first ``models[m]`` of them (all when None).

    Prompts alternate between the categories ``chat`` and ``code``.
    """
    ids = [f"p{i:03d}" for i in range(n_prompts)]
    store.add_prompts(
        Prompt(pid, "chat" if i % 2 == 0 else "code", [{"role": "user", "content": pid}], [], 1)
        for i, pid in enumerate(ids)
    )
    store.add_responses(
        (pid, model, f"{model} on {pid}")
        for model, upto in models.items()
        for pid in ids[: upto if upto is not None else n_prompts]
    )


@pytest.fixture
def store(new_db):
    s = Store(new_db("assign"))
    _fill(s, 6, {"m1": None, "m2": None, "m3": 3})
    yield s
    s.close()


def _judge_all(store: Store, study, annotator_ids, *, clock=T0, rng=None) -> list[int]:
    """Round robin: each annotator takes and judges until nothing is left for anyone."""
    rng = rng or random.Random(0)
    active, stored = list(annotator_ids), []
    while active:
        for a in list(active):
            got = store.next_comparison(study, a, clock=clock, rng=rng)
            if got is None:
                active.remove(a)
                continue
            result = store.record_judgment(
                got.comparison_id,
                a,
                score=rng.choice(study.scale.values),
                shown_order=got.shown_order,
            )
            assert result.stored
            stored.append(got.comparison_id)
    return stored


def _counts(store: Store, study) -> dict[int, tuple[int, int]]:
    """comparison id: (judgments counted in the table, the n_judgments column)."""
    rows = store.query(
        "SELECT c.id, (SELECT count(*) FROM judgments j WHERE j.comparison_id = c.id) AS actual,"
        " c.n_judgments FROM comparisons c WHERE c.study_id = ? AND c.is_gold = 0",
        [study.id],
    )
    return {r["id"]: (r["actual"], r["n_judgments"]) for r in rows}


def test_every_comparison_gets_exactly_k_and_nobody_repeats(store):
    study = store.create_study("s", pairs=[("m1", "m2")], overlap=2, seed=1)
    people = [store.add_annotator(f"a{i}").id for i in range(5)]
    _judge_all(store, study, people)
    counts = _counts(store, study)
    assert len(counts) == 6
    assert set(counts.values()) == {(2, 2)}
    pairs = store.query("SELECT comparison_id, annotator_id FROM judgments")
    assert len(pairs) == len({(r["comparison_id"], r["annotator_id"]) for r in pairs}) == 12
    assert store.study_progress(study) == {
        "comparisons": 6,
        "complete": 6,
        "wanted": 12,
        "done": 12,
        "judgments": 12,
    }


def test_a_passed_item_is_not_shown_again_and_does_not_count(store):
    study = store.create_study("s", pairs=[("m1", "m2")], overlap=1, seed=2)
    a, b = store.add_annotator("a").id, store.add_annotator("b").id
    first = store.next_comparison(study, a, clock=T0)
    assert store.record_pass(first.comparison_id, a, reason="unsafe", note="x").stored
    seen = {first.comparison_id}
    while (got := store.next_comparison(study, a, clock=T0)) is not None:
        assert got.comparison_id not in seen
        seen.add(got.comparison_id)
        store.record_judgment(got.comparison_id, a, score=0, shown_order=got.shown_order)
    assert len(seen) == 6
    # The passed item is still open for someone else, and is all that is left.
    other = store.next_comparison(study, b, clock=T0)
    assert other.comparison_id == first.comparison_id
    assert store.record_pass(first.comparison_id, a).status == "duplicate"


def test_a_live_lease_holds_the_last_slot_until_it_expires(store):
    study = store.create_study("s", pairs=[("m1", "m3")], overlap=2, seed=3, prompt_ids=["p000"])
    a, b, c = (store.add_annotator(n).id for n in "abc")
    got_a = store.next_comparison(study, a, clock=T0, lease_seconds=60)
    store.record_judgment(got_a.comparison_id, a, score=1, shown_order=got_a.shown_order)
    got_b = store.next_comparison(study, b, clock=T0, lease_seconds=60)
    assert got_b.comparison_id == got_a.comparison_id
    # One judgment plus b's live lease fill the overlap of two: nothing for c.
    assert store.next_comparison(study, c, clock=T0 + 59) is None
    # The lease lapses at 60 s and the slot returns to the pool.
    got_c = store.next_comparison(study, c, clock=T0 + 60)
    assert got_c.comparison_id == got_a.comparison_id
    assert store.record_judgment(got_c.comparison_id, c, score=-1, shown_order="AB").stored
    # b comes back late: the comparison is full and b's judgment is refused, not stored.
    late = store.record_judgment(got_b.comparison_id, b, score=2, shown_order=got_b.shown_order)
    assert late.status == "full" and late.judgment_id is None
    assert _counts(store, study) == {got_a.comparison_id: (2, 2)}
    assert store.query("SELECT count(*) AS n FROM leases WHERE annotator_id = ?", [b])[0]["n"] == 0


def test_a_lease_that_would_be_over_before_it_began_is_refused(store):
    study = store.create_study("s", pairs=[("m1", "m2")], overlap=3, seed=4)
    a = store.add_annotator("a").id
    for seconds in (0, -5.0, float("nan")):
        with pytest.raises(StoreError, match="lease_seconds must be positive"):
            store.next_comparison(study, a, clock=T0, lease_seconds=seconds)
    assert store.query("SELECT count(*) AS n FROM leases")[0]["n"] == 0


def test_purging_expired_leases_keeps_live_ones(store):
    study = store.create_study("s", pairs=[("m1", "m2")], overlap=3, seed=4)
    a, b = store.add_annotator("a").id, store.add_annotator("b").id
    store.next_comparison(study, a, clock=T0, lease_seconds=10)
    store.next_comparison(study, b, clock=T0, lease_seconds=100)
    assert store.purge_expired_leases(clock=T0 + 50) == 1
    assert [r["annotator_id"] for r in store.query("SELECT annotator_id FROM leases")] == [b]


def test_a_reload_hands_back_the_same_comparison_and_sides(store):
    study = store.create_study("s", pairs=[("m1", "m2"), ("m2", "m3")], overlap=1, seed=5)
    a = store.add_annotator("a").id
    first = store.next_comparison(study, a, clock=T0, rng=random.Random(1))
    for seed in range(10):  # whatever the random draws, the live lease wins
        again = store.next_comparison(study, a, clock=T0 + seed, rng=random.Random(seed))
        assert again == first
    store.release(first.comparison_id, a)
    other = store.add_annotator("b").id
    assert store.next_comparison(study, other, clock=T0).comparison_id == first.comparison_id


def test_double_submit_is_a_duplicate_with_the_first_id(store):
    study = store.create_study("s", pairs=[("m1", "m2")], overlap=1, seed=6)
    a = store.add_annotator("a").id
    got = store.next_comparison(study, a, clock=T0)
    first = store.record_judgment(got.comparison_id, a, score=3, shown_order=got.shown_order)
    second = store.record_judgment(got.comparison_id, a, score=-3, shown_order=got.shown_order)
    assert (first.status, second.status) == ("stored", "duplicate")
    assert second.judgment_id == first.judgment_id
    assert store.query("SELECT score FROM judgments") == [{"score": 3}]
    assert _counts(store, study)[got.comparison_id] == (1, 1)


def _gold_study(new_db, rate: float, *, n_prompts=200, n_gold=60, overlap=1):
    store = Store(new_db(f"gold{rate}"))
    _fill(store, n_prompts, {"m1": None, "m2": None})
    study = store.create_study("g", pairs=[("m1", "m2")], overlap=overlap, gold_rate=rate, seed=7)
    gold_ids = store.comparisons_frame("g")["comparison_id"].tolist()[:n_gold]
    for cid in gold_ids:
        store.set_gold(cid, 2)
    return store, study, set(gold_ids)


def _take(store: Store, study, annotator_id: int, n: int, rng: random.Random) -> list:
    taken = []
    for _ in range(n):
        got = store.next_comparison(study, annotator_id, clock=T0, rng=rng)
        if got is None:
            break
        store.record_judgment(got.comparison_id, annotator_id, score=1, shown_order=got.shown_order)
        taken.append(got)
    return taken


def test_gold_items_come_at_the_study_rate(new_db):
    store, study, gold_ids = _gold_study(new_db, 0.2)
    a = store.add_annotator("a").id
    n = 150
    taken = _take(store, study, a, n, random.Random(11))
    golds = sum(t.is_gold for t in taken)
    assert all(t.is_gold == (t.comparison_id in gold_ids) for t in taken)
    # Binomial(150, 0.2): mean 30, sd about 4.9.
    assert abs(golds - 0.2 * n) < 4 * math.sqrt(n * 0.2 * 0.8)
    store.close()


def test_no_gold_at_rate_zero_and_each_gold_item_once_at_rate_one(new_db):
    store, study, gold_ids = _gold_study(new_db, 0.0, n_prompts=40, n_gold=10)
    a = store.add_annotator("a").id
    assert not any(t.is_gold for t in _take(store, study, a, 30, random.Random(1)))
    store.close()
    store, study, gold_ids = _gold_study(new_db, 1.0, n_prompts=40, n_gold=10)
    for name in ("a", "b"):
        taken = _take(store, study, store.add_annotator(name).id, 40, random.Random(2))
        # Gold first, each once, then the regular items: gold ignores the overlap of one, so both
        # annotators see all ten.
        assert [t.is_gold for t in taken] == [True] * 10 + [False] * (30 if name == "a" else 0)
        assert {t.comparison_id for t in taken[:10]} == gold_ids
    progress = store.study_progress(study)
    assert (progress["comparisons"], progress["wanted"], progress["done"]) == (30, 30, 30)
    store.close()


def test_pair_plans_make_the_right_comparisons(store):
    models = ["m1", "m2", "m3"]  # m3 answered only p000-p002
    first_three = {"p000", "p001", "p002"}
    everything = {f"p{i:03d}" for i in range(6)}
    plans = {
        "all": plan_pairs(models, "all"),
        "baseline": plan_pairs(models, "baseline", baseline="m1"),
        "list": plan_pairs(models, "list", pairs=[("m3", "m2")]),
    }
    assert plans["all"] == [("m1", "m2"), ("m1", "m3"), ("m2", "m3")]
    assert plans["baseline"] == [("m2", "m1"), ("m3", "m1")]
    expected = {
        "all": {(p, "m1", "m2") for p in everything}
        | {(p, "m1", "m3") for p in first_three}
        | {(p, "m2", "m3") for p in first_three},
        "baseline": {(p, "m2", "m1") for p in everything} | {(p, "m3", "m1") for p in first_three},
        "list": {(p, "m3", "m2") for p in first_three},
    }
    for kind, pairs in plans.items():
        predicted = store.count_comparisons(pairs)
        store.create_study(
            kind, pairs=pairs, pair_plan=describe_plan(kind, baseline="m1", pairs=pairs), seed=0
        )
        frame = store.comparisons_frame(kind)
        got = set(zip(frame["prompt_id"], frame["model_a"], frame["model_b"], strict=True))
        assert got == expected[kind] and len(frame) == len(expected[kind]) == predicted
        assert store.get_study(kind).pair_plan["kind"] == kind
    with pytest.raises(ValueError, match="baseline"):
        plan_pairs(models, "baseline", baseline="m9")
    with pytest.raises(ValueError, match="twice"):
        plan_pairs(models, "list", pairs=[("m1", "m2"), ("m2", "m1")])


def test_category_filter_keeps_only_its_prompts(store):
    code = store.prompt_ids(categories=["code"])
    assert code == {"p001", "p003", "p005"}
    assert store.categories() == ["chat", "code"]
    assert store.count_comparisons([("m1", "m3")], code) == 1  # m3 answered p001 only of these
    store.create_study("c", pairs=[("m1", "m2")], prompt_ids=code, seed=0)
    assert set(store.comparisons_frame("c")["prompt_id"]) == code


def test_a_smaller_overlap_closes_comparisons(store):
    study = store.create_study("s", pairs=[("m1", "m2")], overlap=3, seed=8)
    people = [store.add_annotator(n).id for n in "ab"]
    _judge_all(store, study, people)
    assert store.study_progress(study)["complete"] == 0
    study = store.update_study("s", overlap=2)
    assert store.study_progress(study)["complete"] == 6
    assert store.next_comparison(study, store.add_annotator("c").id, clock=T0) is None


# -- many processes, one file ----------------------------------------------------------------------

WORKERS, PER_WORKER, OVERLAP = 6, 4, 3


def _worker(path, study_name, annotator_ids, seed, start, results) -> None:
    """Take and judge until the study is complete; put every attempt on ``results``.

    An attempt is ``(status, judgment_id, comparison_id, annotator_id, is_gold)``. One submit in ten
    is sent twice, as a double click would, and the worker's first annotator skips one item in five.
    A skip frees a slot that others may have been turned away from, so an annotator who finds
    nothing asks again, like a person coming back later, until every comparison is complete.
    """
    rng = random.Random(seed)
    attempts = []
    start.wait()
    with Store(path) as store:
        study = store.get_study(study_name)
        while True:
            took = False
            for a in annotator_ids:
                got = store.next_comparison(study, a, rng=rng)
                if got is None:
                    continue
                took = True
                if a == annotator_ids[0] and rng.random() < 0.2:
                    status = store.record_pass(got.comparison_id, a).status
                    attempts.append(("pass-" + status, None, got.comparison_id, a, got.is_gold))
                    continue
                for _ in range(2 if rng.random() < 0.1 else 1):
                    result = store.record_judgment(
                        got.comparison_id,
                        a,
                        score=rng.choice((-1, 0, 1)),
                        shown_order=got.shown_order,
                    )
                    attempts.append(
                        (result.status, result.judgment_id, got.comparison_id, a, got.is_gold)
                    )
            if not took:
                progress = store.study_progress(study)
                if progress["complete"] == progress["comparisons"]:
                    break
                time.sleep(0.002)  # let the lease holders finish; correctness does not rely on it
    results.put(attempts)


def _collect(workers, results) -> list:
    """Each worker's report; fails at once, not at a timeout, when a worker dies (and stops the
    others, which would go on writing to a store that the test is about to remove)."""
    reports: list = []
    while len(reports) < len(workers):
        try:
            reports.append(results.get(timeout=0.2))
        except queue.Empty:
            died = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
            if died:
                for w in workers:
                    w.kill()
                raise AssertionError(f"a worker failed with exit code {died[0]}") from None
    return reports


@pytest.mark.stress
def test_many_processes_fill_every_comparison_exactly(new_db):
    path = new_db("busy")
    with Store(path) as store:
        _fill(store, 40, {"m1": None, "m2": None, "m3": None})
        store.create_study(
            "busy", pairs=plan_pairs(["m1", "m2", "m3"]), overlap=OVERLAP, scale=3, gold_rate=0.05
        )
        gold = store.comparisons_frame("busy")["comparison_id"].tolist()[:4]
        for cid in gold:
            store.set_gold(cid, 1)
        people = [
            store.add_annotator(f"w{w}-a{i}").id for w in range(WORKERS) for i in range(PER_WORKER)
        ]
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(WORKERS), ctx.Queue()
    workers = [
        ctx.Process(
            target=_worker,
            args=(path, "busy", people[w * PER_WORKER : (w + 1) * PER_WORKER], w, start, results),
        )
        for w in range(WORKERS)
    ]
    for w in workers:
        w.start()
    attempts = [row for rows in _collect(workers, results) for row in rows]
    for w in workers:
        w.join(timeout=10)
        assert w.exitcode == 0

    statuses = Counter(a[0] for a in attempts)
    assert statuses["full"] == 0 and statuses["pass-stored"] > 0 and statuses["duplicate"] > 0
    stored = {a[1]: (a[2], a[3]) for a in attempts if a[0] == "stored"}
    with Store(path) as store:
        # Nothing lost and nothing extra: the table holds exactly the judgments reported stored.
        rows = store.query("SELECT id, comparison_id, annotator_id FROM judgments")
        assert {r["id"]: (r["comparison_id"], r["annotator_id"]) for r in rows} == stored
        assert len(rows) == statuses["stored"]
        study = store.get_study("busy")
        counts = _counts(store, study)
        assert len(counts) == 120 - len(gold)
        assert set(counts.values()) == {(OVERLAP, OVERLAP)}
        seen_twice = store.query(
            "SELECT comparison_id, annotator_id, count(*) AS n FROM (SELECT comparison_id,"
            " annotator_id FROM judgments UNION ALL SELECT comparison_id, annotator_id FROM passes)"
            " AS seen GROUP BY comparison_id, annotator_id HAVING count(*) > 1"
        )
        assert seen_twice == []
        for status, jid, cid, a, _ in attempts:  # a double submit answers with the first id
            if status == "duplicate":
                assert stored[jid] == (cid, a)
        check_intact(store)
        progress = store.study_progress(study)
        assert progress["done"] == progress["wanted"] == progress["judgments"] == 116 * OVERLAP


def test_one_answer_per_person_and_comparison(store):
    """A pass after a judgment, or a judgment after a pass (a stale second tab), is refused as a
    duplicate in the same transaction, and changes nothing."""
    study = store.create_study("s", pairs=[("m1", "m2")], overlap=2, seed=5)
    a = store.add_annotator("a").id
    rated = store.next_comparison(study, a, clock=T0)
    assert store.record_judgment(rated.comparison_id, a, score=1, shown_order="AB").stored
    assert store.record_pass(rated.comparison_id, a, reason="unsafe").status == "duplicate"
    passed = store.next_comparison(study, a, clock=T0)
    assert store.record_pass(passed.comparison_id, a, reason="skip").stored
    late = store.record_judgment(passed.comparison_id, a, score=-1, shown_order="BA")
    assert late.status == "duplicate"
    rows = store.query(
        "SELECT comparison_id, 'judgment' AS kind FROM judgments"
        " UNION ALL SELECT comparison_id, reason FROM passes"
    )
    assert sorted((r["comparison_id"], r["kind"]) for r in rows) == sorted(
        [(rated.comparison_id, "judgment"), (passed.comparison_id, "skip")]
    )
    n = {r["id"]: r["n_judgments"] for r in store.query("SELECT id, n_judgments FROM comparisons")}
    assert n[passed.comparison_id] == 0 and n[rated.comparison_id] == 1
    assert store.query("SELECT * FROM leases") == []


def test_a_rationale_has_a_length_limit(store):
    study = store.create_study("s", pairs=[("m1", "m2")], overlap=1, seed=5)
    a = store.add_annotator("a").id
    first = store.next_comparison(study, a, clock=T0)
    with pytest.raises(StoreError, match=r"at most 5,000 characters; this one has 5,001"):
        store.record_judgment(
            first.comparison_id, a, score=1, shown_order="AB", rationale="x" * 5_001
        )
    with pytest.raises(StoreError, match=r"note holds at most 5,000 characters"):
        store.record_pass(first.comparison_id, a, reason="broken", note="y" * 20_000_000)
    assert store.counts()["judgments"] == 0 and store.query("SELECT * FROM passes") == []
    full = "é" * MAX_NOTE_CHARS
    assert store.record_judgment(first.comparison_id, a, score=1, shown_order="AB", rationale=full)
    assert store.query("SELECT rationale FROM judgments")[0]["rationale"] == full


def test_gold_items_move_the_annotators_progress_like_any_other(store):
    """Rating a gold item adds one to the annotator's done count and leaves the total alone, as
    rating a regular item does; when nothing is left the bar is full."""
    study = store.create_study("s", pairs=[("m1", "m2"), ("m1", "m3")], overlap=1, seed=4)
    for cid in (1, 2, 3):
        store.set_gold(cid, 1)
    study = store.update_study("s", gold_rate=0.25)
    a = store.add_annotator("a").id
    rng = random.Random(1)
    kinds = []
    before = store.annotator_progress(study, a)
    while (got := store.next_comparison(study, a, clock=T0, rng=rng)) is not None:
        kinds.append(got.is_gold)
        store.record_judgment(got.comparison_id, a, score=1, shown_order=got.shown_order)
        after = store.annotator_progress(study, a)
        assert after["done"] == before["done"] + 1
        if after["available"]:
            assert after["total"] == before["total"], (got.is_gold, before, after)
        before = after
    assert any(kinds) and not all(kinds)
    assert before["done"] == before["total"] == len(kinds)
