"""How long the store takes to hand out the next comparison and to record a judgment.

For each database size it times ``Store.next_comparison`` and ``Store.record_judgment`` (p50, p95,
p99 in milliseconds) and the judgments stored per second, in four scenarios:

- ``alone``: one process, a random annotator from the pool each time;
- ``heavy``: one process, the annotator who has judged many comparisons that still wait for other
  annotators (10,000 by default). Only their first call steps over those, and records where
  their scan starts from then on; the table shows that first call on its own;
- ``8 writers``: eight processes, each with its own ``Store``, judging at once;
- ``8 writers + heavy``: the same, with the heavy annotator as one of the eight.

Each figure is the median over ``--runs`` runs, each on a fresh copy of the database. With
``--adaptive`` the study hands out the least settled pair's comparisons first.

    python benchmarks/bench_store.py            # 1,000 / 100,000 / 1,000,000 judgments
    python benchmarks/bench_store.py --quick    # a small smoke run
    python benchmarks/bench_store.py --adaptive # the same, with adaptive assignment
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from _common import (
    Built,
    Shape,
    build_store,
    fresh_copy,
    median_of,
    options,
    parse,
    percentiles_ms,
    print_table,
    temp_dir,
)

from pairwise.store import Store

GOAL_MS = 20.0


@dataclass(frozen=True)
class Job:
    """One writer's share of a run."""

    path: str
    study: str
    annotators: list[int]
    ops: int
    seed: int


@dataclass(frozen=True)
class Timings:
    next_seconds: list[float]
    record_seconds: list[float]
    stored: int
    first_next: float


def annotate(job: Job, start=None) -> Timings:
    """Pick and judge ``job.ops`` comparisons, timing both calls; ``start`` is a barrier that
    lines the writers up."""
    rng = random.Random(job.seed)
    store = Store(job.path)
    study = store.get_study(job.study)
    values = study.scale.values
    next_seconds, record_seconds = [], []
    stored = 0
    if start is not None:
        start.wait()
    for _ in range(job.ops):
        annotator = rng.choice(job.annotators)
        t0 = time.perf_counter()
        item = store.next_comparison(study, annotator, rng=rng)
        t1 = time.perf_counter()
        next_seconds.append(t1 - t0)
        if item is None:
            continue
        result = store.record_judgment(
            item.comparison_id, annotator, score=rng.choice(values), shown_order=item.shown_order
        )
        record_seconds.append(time.perf_counter() - t1)
        stored += result.stored
    store.close()
    return Timings(next_seconds, record_seconds, stored, next_seconds[0])


def _writer(job: Job, start, results) -> None:
    try:
        results.put(annotate(job, start))
    except Exception as error:  # reported by the parent, which would otherwise wait forever
        start.abort()
        results.put(f"{type(error).__name__}: {error}")


def run_writers(jobs: list[Job]) -> tuple[list[Timings], float]:
    """Run each job in its own process, started together; returns timings and wall seconds."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(jobs) + 1)
    results = context.Queue()
    processes = [context.Process(target=_writer, args=(job, start, results)) for job in jobs]
    for process in processes:
        process.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait()
    began = time.perf_counter()
    timings = [results.get() for _ in jobs]
    wall = time.perf_counter() - began
    for process in processes:
        process.join()
    failures = [t for t in timings if isinstance(t, str)]
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(jobs)} writers failed: {failures[0]}")
    return timings, wall


def summarise(timings: list[Timings], wall: float) -> dict[str, float]:
    next_all = [s for t in timings for s in t.next_seconds]
    record_all = [s for t in timings for s in t.record_seconds]
    nxt, rec = percentiles_ms(next_all), percentiles_ms(record_all)
    return {
        **{f"next {k}": v for k, v in nxt.items()},
        **{f"record {k}": v for k, v in rec.items()},
        "judgments/s": sum(t.stored for t in timings) / wall,
    }


def scenario_jobs(built: Built, path: Path, scenario: str, ops: int, writers: int, seed: int):
    pool = built.annotator_ids
    if scenario in ("alone", "heavy"):
        annotators = [built.heavy_id] if scenario == "heavy" else pool
        return [Job(str(path), built.study, annotators, ops, seed)]
    jobs = [
        Job(str(path), built.study, pool[w::writers], ops, seed * 100 + w) for w in range(writers)
    ]
    if scenario.endswith("heavy"):
        jobs[0] = Job(str(path), built.study, [built.heavy_id], ops, seed * 100)
    return jobs


def run_scenario(built: Built, folder: Path, scenario: str, args) -> dict[str, float]:
    runs = []
    for run in range(args.runs):
        with fresh_copy(built.path, folder / f"run-{run}.db") as path:
            jobs = scenario_jobs(built, path, scenario, args.ops, args.writers, seed=run)
            if len(jobs) == 1:
                began = time.perf_counter()
                timings = [annotate(jobs[0])]
                wall = time.perf_counter() - began
            else:
                timings, wall = run_writers(jobs)
        summary = summarise(timings, wall)
        if scenario == "heavy":
            summary["first next ms"] = timings[0].first_next * 1000
        runs.append(summary)
    return median_of(runs)


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--ops", type=int, default=None, help="judgments per writer and run")
    parser.add_argument(
        "--heavy-open", type=int, default=10_000, help="open comparisons the heavy annotator judged"
    )
    parser.add_argument("--adaptive", action="store_true", help="make the study adaptive")
    args = parse(parser, sizes="1000,100000,1000000", quick_sizes="1000")
    args.ops = args.ops or (20 if args.quick else 300)
    if args.quick:
        args.writers = min(args.writers, 2)
    scenarios = ["alone", "heavy", f"{args.writers} writers", f"{args.writers} writers + heavy"]

    rows = []
    with temp_dir() as folder:
        for size in args.sizes:
            heavy_open = min(args.heavy_open, size // 10)
            built = build_store(
                folder / f"template-{size}.db", Shape(judgments=size, heavy_open=heavy_open)
            )
            if args.adaptive:
                with Store(built.path) as store:
                    store.update_study(built.study, adaptive=True)
            print(
                f"built {built.judgments:,} judgments, {built.comparisons:,} comparisons,"
                f" {built.prompts:,} prompts in {built.seconds:.1f} s;"
                f" heavy annotator waits on {heavy_open:,} open comparisons",
                flush=True,
            )
            for scenario in scenarios:
                figures = run_scenario(built, folder, scenario, args)
                rows.append(
                    [
                        built.judgments,
                        scenario,
                        figures["next p50"],
                        figures["next p95"],
                        figures["next p99"],
                        figures["record p50"],
                        figures["record p95"],
                        figures["record p99"],
                        figures["judgments/s"],
                        figures.get("first next ms", ""),
                    ]
                )
                print(f"  {scenario}: {figures}", flush=True)
            built.path.unlink()
    print_table(
        f"Store{', adaptive study' if args.adaptive else ''}: next_comparison and"
        f" record_judgment, ms (median of {args.runs} runs,"
        f" {args.ops} judgments per writer)",
        [
            "judgments",
            "scenario",
            "next p50",
            "next p95",
            "next p99",
            "record p50",
            "record p95",
            "record p99",
            "judgments/s",
            "heavy's first next",
        ],
        rows,
    )
    largest = max(r[0] for r in rows)
    worst = max(max(r[3], r[6]) for r in rows if r[0] == largest and "writers" in r[1])
    verdict = "met" if worst < GOAL_MS else "MISSED"
    print(
        f"\ngoal: p95 under {GOAL_MS:.0f} ms at {largest:,} judgments with writers: {verdict} ({worst:.1f} ms)"
    )


if __name__ == "__main__":
    main()
