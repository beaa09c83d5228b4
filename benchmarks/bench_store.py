"""How long the store takes to hand out the next comparison and to record a judgment.

For each database size it times ``Store.next_comparison`` and ``Store.record_judgment`` (p50, p95,
p99 in milliseconds) and the judgments stored per second, in four scenarios:

- ``alone``: one process, a random annotator from the pool each time;
- ``heavy``: one process, the annotator who has judged many comparisons that still wait for other
  annotators (10,000 by default). Only their first call steps over those, and records where
  their scan starts from then on; the table shows that first call on its own;
- ``8 writers``: eight processes, each with its own ``Store``, judging at once;
- ``8 writers + heavy``: the same, with the heavy annotator as one of the eight;
- ``32 writers``, ``32 writers + heavy``: the same with 32 processes (``--writers`` sets the
  counts);
- ``8 writers, floor``, ``32 writers, floor``: the baseline for the concurrent scenarios,
  measured in the same run on the same database: as many processes, each doing nothing but the
  least a durable write can be, one row inserted and committed by one statement (on PostgreSQL
  one round trip), twice per judgment (timed in the ``next`` and ``record`` columns). Where the
  writers and the server outnumber the machine's cores, this floor already waits for a core,
  and the goal lines give the store's p95 as a multiple of it;
- with ``--paced RATE``, ``32 writers at RATE/s each``: the writers no longer judge as fast as
  they can, but start a judgment every ``1 / RATE`` seconds each (from a random offset), as
  annotators on pages do: the latency at a load below what the machine can take, rather than
  the queue of a machine taken to its limit.

Each figure is the median over ``--runs`` runs, each on a fresh copy of the database. With
``--adaptive`` the study hands out the least settled pair's comparisons first. It also times
loading the judgments frame (``Store.judgments_frame``) of each built store.

With ``--db postgresql://user:password@host:port/NAME`` every store is built twice, as a SQLite
file and as the PostgreSQL database ``NAME_<judgments>`` (each run on a copy of it,
``NAME_<judgments>_run_<n>``; all dropped at the end), from the same rows, and the tables show
both backends side by side.

    python benchmarks/bench_store.py            # 1,000 / 100,000 / 1,000,000 judgments
    python benchmarks/bench_store.py --quick    # a small smoke run
    python benchmarks/bench_store.py --adaptive # the same, with adaptive assignment
    python benchmarks/bench_store.py --db postgresql://user:password@localhost/bench
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from _common import (
    Built,
    Server,
    Shape,
    build_store,
    fresh_copy,
    median_of,
    options,
    parse,
    percentiles_ms,
    print_table,
    temp_dir,
    time_calls,
)

from pairwise.store import Store
from pairwise.store.connection import connect

GOAL_MS = 20.0
GOAL_FRAME_RATIO = 2.0  # PostgreSQL's judgments-frame load against SQLite's


@dataclass(frozen=True)
class Job:
    """One writer's share of a run."""

    path: str
    study: str
    annotators: list[int]
    ops: int
    seed: int
    floor: bool = False  # commit one-row inserts instead of judging (the baseline)
    interval: float = 0.0  # seconds from the start of one judgment to the next (0: at once)


@dataclass(frozen=True)
class Timings:
    next_seconds: list[float]
    record_seconds: list[float]
    stored: int
    first_next: float


def annotate(job: Job, start=None) -> Timings:
    """Pick and judge ``job.ops`` comparisons, timing both calls; ``start`` is a barrier that
    lines the writers up."""
    if job.floor:
        return committed_rows(job, start)
    rng = random.Random(job.seed)
    store = Store(job.path)
    study = store.get_study(job.study)
    values = study.scale.values
    next_seconds, record_seconds = [], []
    stored = 0
    if start is not None:
        start.wait()
    due = time.perf_counter() + (rng.uniform(0, job.interval) if job.interval else 0.0)
    for _ in range(job.ops):
        annotator = rng.choice(job.annotators)
        if job.interval:
            time.sleep(max(0.0, due - time.perf_counter()))
            due += job.interval
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


FLOOR_TABLE = "bench_floor"


def committed_rows(job: Job, start=None) -> Timings:
    """The floor: ``2 * job.ops`` one-row inserts, each committed on its own (one statement
    outside a transaction, through the store's own connection), timed in pairs."""
    conn = connect(job.path)
    seconds: list[list[float]] = [[], []]
    if start is not None:
        start.wait()
    for op in range(job.ops):
        for call in (0, 1):
            t0 = time.perf_counter()
            conn.execute(f"INSERT INTO {FLOOR_TABLE} (writer, op) VALUES (?, ?)", [job.seed, op])
            seconds[call].append(time.perf_counter() - t0)
    conn.close()
    return Timings(seconds[0], seconds[1], job.ops, seconds[0][0])


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


def scenario_jobs(built: Built, location: str, scenario: str, ops: int, seed: int):
    pool = built.annotator_ids
    if scenario in ("alone", "heavy"):
        annotators = [built.heavy_id] if scenario == "heavy" else pool
        return [Job(location, built.study, annotators, ops, seed)]
    # "8 writers", "32 writers + heavy", "8 writers, floor", "32 writers at 5/s each"
    writers = int(scenario.split()[0])
    floor = scenario.endswith("floor")
    interval = 1 / float(scenario.split(" at ")[1].split("/")[0]) if " at " in scenario else 0.0
    jobs = [
        Job(location, built.study, pool[w::writers], ops, seed * 100 + w, floor, interval)
        for w in range(writers)
    ]
    if scenario.endswith("heavy"):
        jobs[0] = Job(location, built.study, [built.heavy_id], ops, seed * 100)
    return jobs


def run_scenario(built: Built, folder: Path, scenario: str, args) -> dict[str, float]:
    runs = []
    for run in range(args.runs):
        with fresh_copy(built.location, folder / f"run-{run}.db") as location:
            jobs = scenario_jobs(built, location, scenario, args.ops, seed=run)
            if jobs[0].floor:
                with contextlib.closing(connect(location)) as conn:
                    conn.execute(f"CREATE TABLE {FLOOR_TABLE} (writer INTEGER, op INTEGER)")
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


def frame_seconds(location: str, runs: int) -> float:
    """Median seconds to load the judgments frame (without gold items, as the report does)."""
    import pandas  # noqa: F401  (imported on first use otherwise: not part of the load)

    with Store(location) as store:
        return statistics.median(
            time_calls(lambda: store.judgments_frame(include_gold=False), runs)
        )


def same_data(sqlite: str, postgres: str) -> None:
    """Stop unless both builds hold the same rows: counts per table, and the counts the
    triggers keep (per pair and per study) with the sums they come from."""
    checks = [
        f"SELECT '{table}', count(*) FROM {table}"
        for table in ("prompts", "responses", "comparisons", "judgments", "passes", "leases")
    ] + [
        "SELECT 'pairs ' || model_a || ' ' || model_b, judgments * 1000000 + wins FROM study_pairs",
        "SELECT 'totals', regular || ' ' || complete || ' ' || judgments || ' ' || open_judgments"
        " FROM study_totals",
        "SELECT 'scores', sum(score * comparison_id) FROM judgments",
        "SELECT 'order', sum(sort_key * id) FROM comparisons",
    ]
    seen = []
    for location in (sqlite, postgres):
        with Store(location) as store:
            seen.append(sorted(tuple(row) for sql in checks for row in store.conn.execute(sql)))
    if seen[0] != seen[1]:
        differ = sorted(set(seen[0]) ^ set(seen[1]))[:5]
        raise SystemExit(f"the SQLite and PostgreSQL builds differ: {differ}")


def main() -> None:
    parser = options(__doc__)
    parser.add_argument(
        "--writers",
        default="8,32",
        help="writer processes of the concurrent scenarios, comma separated",
    )
    parser.add_argument("--ops", type=int, default=None, help="judgments per writer and run")
    parser.add_argument(
        "--heavy-open", type=int, default=10_000, help="open comparisons the heavy annotator judged"
    )
    parser.add_argument("--adaptive", action="store_true", help="make the study adaptive")
    parser.add_argument(
        "--paced",
        type=float,
        default=0.0,
        help="also run the largest writer count at this many judgments per second per writer",
    )
    parser.add_argument(
        "--db",
        help="also run on PostgreSQL: postgresql://user:password@host:port/NAME, where NAME"
        " prefixes the databases the run makes and drops",
    )
    args = parse(parser, sizes="1000,100000,1000000", quick_sizes="1000")
    args.ops = args.ops or (20 if args.quick else 300)
    writers = [int(w) for w in args.writers.split(",")]
    if args.quick:
        writers = [min(w, 2) for w in writers[:1]]
    scenarios = ["alone", "heavy"]
    for count in writers:
        scenarios += [f"{count} writers, floor", f"{count} writers", f"{count} writers + heavy"]
    if args.paced:
        scenarios.append(f"{max(writers)} writers at {args.paced:g}/s each")
    backends = ["SQLite", "PostgreSQL"] if args.db else ["SQLite"]

    rows, frames = [], []
    with temp_dir() as folder:
        for size in args.sizes:
            heavy_open = min(args.heavy_open, size // 10)
            shape = Shape(judgments=size, heavy_open=heavy_open)
            places = {"SQLite": str(folder / f"template-{size}.db")}
            if args.db:
                server = Server(args.db)
                places["PostgreSQL"] = server.at(f"{server.name(args.db)}_{size}")
            built = {backend: build_store(places[backend], shape) for backend in backends}
            try:
                if args.db:
                    same_data(places["SQLite"], places["PostgreSQL"])
                for backend, store in built.items():
                    if args.adaptive:
                        with Store(store.location) as s:
                            s.update_study(store.study, adaptive=True)
                    print(
                        f"{backend}: built {store.judgments:,} judgments, {store.comparisons:,}"
                        f" comparisons, {store.prompts:,} prompts in {store.seconds:.1f} s;"
                        f" heavy annotator waits on {heavy_open:,} open comparisons",
                        flush=True,
                    )
                    frames.append(
                        [backend, store.judgments, frame_seconds(store.location, args.runs)]
                    )
                    print(f"  judgments frame: {frames[-1][-1]:.2f} s", flush=True)
                for scenario in scenarios:
                    for backend, store in built.items():
                        figures = run_scenario(store, folder, scenario, args)
                        rows.append(
                            [
                                backend,
                                store.judgments,
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
                        print(f"  {backend} {scenario}: {figures}", flush=True)
            finally:
                for store in built.values():
                    store.remove()
    print_table(
        f"Store{', adaptive study' if args.adaptive else ''}: next_comparison and"
        f" record_judgment, ms (median of {args.runs} runs,"
        f" {args.ops} judgments per writer)",
        [
            "backend",
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
    base = {size: seconds for backend, size, seconds in frames if backend == "SQLite"}
    print_table(
        f"Judgments frame load (Store.judgments_frame), seconds (median of {args.runs} runs)",
        ["backend", "judgments", "seconds", "x SQLite"],
        [[b, size, seconds, seconds / base[size]] for b, size, seconds in frames],
    )
    largest = max(r[1] for r in rows)
    print()
    for backend in backends:
        for count in writers:

            def p95(kind: str, count: int = count, backend: str = backend) -> float:
                return max(
                    max(r[4], r[7])
                    for r in rows
                    if r[0] == backend
                    and r[1] == largest
                    and r[2].startswith(f"{count} writers")
                    and r[2].endswith("floor") == (kind == "floor")
                    and "/s each" not in r[2]
                )

            worst, floor = p95("store"), p95("floor")
            verdict = "met" if worst < GOAL_MS else "MISSED"
            print(
                f"goal, {backend}: p95 under {GOAL_MS:.0f} ms at {largest:,} judgments with"
                f" {count} writers: {verdict} ({worst:.1f} ms; the floor of one committed row"
                f" per call: {floor:.2f} ms, so {worst / floor:.1f}x the floor)"
            )
        for r in rows:
            if r[0] == backend and r[1] == largest and "/s each" in r[2]:
                print(
                    f"paced, {backend}: {r[2]} ({r[9]:.0f} judgments/s): next p95 {r[4]:.1f} ms,"
                    f" record p95 {r[7]:.1f} ms"
                )
    if args.db:
        ratio = max(
            s / base[size] for b, size, s in frames if b == "PostgreSQL" and size == largest
        )
        verdict = "met" if ratio <= GOAL_FRAME_RATIO else "MISSED"
        print(
            f"goal: PostgreSQL's judgments-frame load at {largest:,} judgments at most"
            f" {GOAL_FRAME_RATIO:.0f}x SQLite's: {verdict} ({ratio:.2f}x)"
        )


if __name__ == "__main__":
    main()
