"""Many processes against one store for a few seconds, with everything going wrong at once.

Eight worker processes, two annotators each, take and judge comparisons until a deadline: some
leases are a few milliseconds long and lapse while others wait, one item in ten is abandoned
(its lease left to expire), one in ten is skipped or flagged, one in ten is submitted twice with
a different score (a double click, a retry). Meanwhile an importer process keeps adding
judgments made elsewhere to the same study, which brings new prompts, responses and
comparisons, and re-imports every file once (which must write nothing).

Afterwards the counts are exact: every judgment a worker was told was stored is in the table
exactly once with the score first sent, nothing else is; every import wrote exactly its rows;
each comparison's ``n_judgments`` equals its rows, no regular comparison holds more than the
overlap, ``is_open`` agrees, no annotator judged or passed an item twice; on SQLite, the file's
integrity and foreign-key checks pass. (``test_assignment.py`` runs the gentler version to completion.)
"""

from __future__ import annotations

import json
import multiprocessing
import random
import time
from collections import Counter
from pathlib import Path

import pytest
from databases import check_intact
from test_assignment import _collect, _counts, _fill

from pairwise.ingest import import_judgments
from pairwise.plans import plan_pairs
from pairwise.store import PASS_REASONS, Store

pytestmark = pytest.mark.stress

SECONDS = 3.0  # the least time the run lasts; it goes on until imported work was judged
MOST_SECONDS = 60.0  # on a very busy machine, the most it waits for that
WORKERS, PER_WORKER, OVERLAP = 8, 2, 3
SHORT_LEASE = 0.005  # lapses while the worker's other annotator, or another worker, goes on
IMPORTERS = ("elsewhere-1", "elsewhere-2")  # judge every imported comparison: one slot is left


def _running(started: float, reached, enough: bool = True) -> bool:
    """Go on for the least time, then until a worker judged an imported comparison (``reached``).

    A fixed window alone would leave that to luck on a loaded machine, where the importer's first
    batch can land just as the window closes.
    """
    elapsed = time.monotonic() - started
    if elapsed < SECONDS:
        return True
    return elapsed < MOST_SECONDS and not (reached.is_set() and enough)


def _worker(path: str, annotators: list[int], seed: int, start, reached, results) -> None:
    """Take and act on comparisons until the deadline; report every attempt and its answer.

    An attempt is ``(kind, status, judgment_id, comparison_id, annotator_id, value)`` where kind
    is ``judge``, ``again`` (a second submit of the same item), ``pass`` or ``abandon``, and
    value the score or pass reason sent.
    """
    rng = random.Random(seed)
    attempts = []
    start.wait()
    started = time.monotonic()
    with Store(path) as store:
        study = store.get_study("busy")
        while _running(started, reached):
            who = rng.choice(annotators)
            lease = SHORT_LEASE if rng.random() < 0.3 else 600.0
            got = store.next_comparison(study, who, lease_seconds=lease, rng=rng)
            if got is None:
                time.sleep(0.001)  # nothing for this annotator now; correctness does not rely on it
                continue
            item = (got.comparison_id, who)
            roll = rng.random()
            if roll < 0.1:
                attempts.append(("abandon", None, None, *item, lease))
            elif roll < 0.2:
                reason = rng.choice(PASS_REASONS)
                done = store.record_pass(*item, reason=reason, note=f"note {reason}")
                attempts.append(("pass", done.status, None, *item, reason))
            else:
                for kind in ("judge", "again") if roll > 0.9 else ("judge",):
                    score = rng.choice(study.scale.values)
                    done = store.record_judgment(*item, score=score, shown_order=got.shown_order)
                    attempts.append((kind, done.status, done.judgment_id, *item, score))
                    if done.status == "stored" and got.prompt.id.startswith("imported-"):
                        reached.set()
    results.put(("worker", attempts))


def _importer(path: str, folder: Path, start, reached, results) -> None:
    """Import batches of outside judgments into the study until the deadline, each file twice."""
    rng = random.Random(99)
    batches = []
    start.wait()
    started = time.monotonic()
    with Store(path) as store:
        while _running(started, reached, enough=len(batches) >= 2):
            n = len(batches)
            file = folder / f"elsewhere-{n}.jsonl"
            rows = [
                {
                    "prompt_id": f"imported-{n}-{i}",
                    "prompt": f"Imported question {n}.{i}",
                    "model_a": a,
                    "model_b": b,
                    "response_a": f"{a} on {n}.{i}",
                    "response_b": f"{b} on {n}.{i}",
                    "annotator": who,
                    "score": rng.choice((-1, 0, 1)),
                }
                for i, (a, b) in enumerate(plan_pairs(["m1", "m2", "m3"]))
                for who in IMPORTERS
            ]
            file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            first = import_judgments(store, file, study="busy")
            again = import_judgments(store, file, study="busy")
            batches.append((len(rows), first.inserted, again.inserted))
    results.put(("importer", batches))


@pytest.mark.timeout(120)
def test_a_busy_store_keeps_exact_counts(tmp_path: Path, new_db) -> None:
    path = new_db("busy")
    with Store(path) as store:
        _fill(store, 30, {"m1": None, "m2": None, "m3": None})
        study = store.create_study(
            "busy", pairs=plan_pairs(["m1", "m2", "m3"]), overlap=OVERLAP, scale=3, gold_rate=0.1
        )
        gold = store.comparisons_frame("busy")["comparison_id"].tolist()[:3]
        for cid in gold:
            store.set_gold(cid, 1)
        people = [store.add_annotator(f"w{i}").id for i in range(WORKERS * PER_WORKER)]
    ctx = multiprocessing.get_context("fork")
    start, reached, results = ctx.Barrier(WORKERS + 1), ctx.Event(), ctx.Queue()
    processes = [
        ctx.Process(
            target=_worker,
            args=(path, people[w * PER_WORKER : (w + 1) * PER_WORKER], w, start, reached, results),
        )
        for w in range(WORKERS)
    ]
    processes.append(ctx.Process(target=_importer, args=(path, tmp_path, start, reached, results)))
    for p in processes:
        p.start()
    reports = _collect(processes, results)
    for p in processes:
        p.join(timeout=10)
        assert p.exitcode == 0
    attempts = [a for kind, rows in reports if kind == "worker" for a in rows]
    batches = next(rows for kind, rows in reports if kind == "importer")

    kinds = Counter((a[0], a[1]) for a in attempts)
    assert set(kinds) <= {
        ("judge", "stored"),
        ("judge", "full"),
        ("again", "duplicate"),
        ("again", "full"),
        ("pass", "stored"),
        ("abandon", None),
    }
    # the run was as rough as intended
    assert kinds["judge", "stored"] > 100 and kinds["again", "duplicate"] > 5
    assert kinds["pass", "stored"] > 5 and kinds["abandon", None] > 5
    assert len(batches) >= 2

    with Store(path) as store:
        _check_judgments(store, attempts)
        _check_imports(store, batches)
        _check_comparisons(store, store.get_study(study.id), set(gold))
        check_intact(store)
        # workers reached the comparisons that the imports brought while they ran
        imported = store.query(
            "SELECT count(*) AS n FROM judgments j JOIN comparisons c ON c.id = j.comparison_id"
            " JOIN annotators a ON a.id = j.annotator_id"
            " WHERE c.prompt_id LIKE 'imported-%' AND a.name LIKE 'w%'"
        )[0]["n"]
        assert imported > 0


def _check_judgments(store: Store, attempts: list[tuple]) -> None:
    """The table holds exactly the workers' stored judgments and passes, with the first score."""
    stored = {a[2]: (a[3], a[4], a[5]) for a in attempts if a[:2] == ("judge", "stored")}
    first = {(a[3], a[4]): a for a in attempts if a[0] == "judge"}
    for kind, status, judgment_id, cid, who, _ in attempts:
        if kind == "again":  # a second submit answers like the first, and changes nothing
            before = first[cid, who]
            assert (status, judgment_id) == (
                ("duplicate", before[2]) if before[1] == "stored" else ("full", None)
            )
    rows = store.query(
        "SELECT j.id, j.comparison_id, j.annotator_id, j.score FROM judgments j"
        " JOIN annotators a ON a.id = j.annotator_id WHERE a.name LIKE 'w%'"
    )
    assert {r["id"]: (r["comparison_id"], r["annotator_id"], r["score"]) for r in rows} == stored
    passed = {(a[3], a[4]): a[5] for a in attempts if a[0] == "pass"}
    rows = store.query("SELECT comparison_id, annotator_id, reason FROM passes")
    assert {(r["comparison_id"], r["annotator_id"]): r["reason"] for r in rows} == passed


def _check_imports(store: Store, batches: list[tuple]) -> None:
    """Each file wrote its rows once; importing it again wrote nothing."""
    for rows, first, again in batches:
        assert first["judgments"] == rows and first["prompts"] == rows // len(IMPORTERS)
        assert sum(again.values()) == 0
    found = store.query(
        "SELECT count(*) AS n FROM judgments j JOIN annotators a ON a.id = j.annotator_id"
        " WHERE a.name LIKE 'elsewhere-%'"
    )[0]["n"]
    assert found == sum(rows for rows, _, _ in batches)


def _check_comparisons(store: Store, study, gold: set[int]) -> None:
    """Counts agree with the rows, no regular comparison went over the overlap, and nobody saw
    an item twice."""
    counts = _counts(store, study)
    assert all(actual == column <= OVERLAP for actual, column in counts.values())
    is_open = {
        r["id"]: (r["is_open"], r["n_judgments"])
        for r in store.query(
            "SELECT id, is_open, n_judgments FROM comparisons WHERE study_id = ? AND is_gold = 0",
            [study.id],
        )
    }
    assert all(flag == (n < OVERLAP) for flag, n in is_open.values())
    gold_counts = store.query(
        "SELECT c.id, c.n_judgments, count(j.id) AS n FROM comparisons c"
        " LEFT JOIN judgments j ON j.comparison_id = c.id WHERE c.is_gold = 1 GROUP BY c.id"
    )
    assert {r["id"] for r in gold_counts} == gold
    assert all(r["n_judgments"] == r["n"] for r in gold_counts)
    twice = store.query(
        "SELECT comparison_id, annotator_id FROM (SELECT comparison_id, annotator_id FROM"
        " judgments UNION ALL SELECT comparison_id, annotator_id FROM passes) AS seen"
        " GROUP BY comparison_id, annotator_id HAVING count(*) > 1"
    )
    assert twice == []
    progress = store.study_progress(study)
    total = store.query(
        "SELECT count(*) AS n FROM judgments j JOIN comparisons c ON c.id = j.comparison_id"
        " WHERE c.study_id = ? AND c.is_gold = 0",
        [study.id],
    )[0]["n"]
    assert progress["judgments"] == progress["done"] == total
