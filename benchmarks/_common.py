"""Shared pieces of the benchmark scripts: synthetic stores, timing, tables, machine info.

A benchmark is only as honest as its data. :func:`build_store` writes a study in the shape a real
one has part way through annotation (overlap 3, a round robin of models, many annotators, a prefix
of complete comparisons, a frontier of half-judged ones, live and stale leases, passes), with bulk
SQL in one transaction, so that a million judgments take seconds to build rather than the hours
the public API would need. The same rows go to a SQLite file (through the store's own connection)
or to a PostgreSQL database (``COPY``): a location is a path or a ``postgresql://`` URL, and
:class:`Server` makes and drops the benchmark's databases on a server.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pairwise.store import Store, content_hash  # noqa: E402
from pairwise.store.connection import dispose_engines  # noqa: E402
from pairwise.store.schema import FILL_STUDY_TOTALS  # noqa: E402

STUDY = "bench"
HEAVY = "heavy"
_WORDS = [
    "the",
    "model",
    "answers",
    "clearly",
    "and",
    "cites",
    "the",
    "relevant",
    "passage",
    "while",
    "another",
    "response",
    "hedges",
    "without",
    "giving",
    "a",
    "direct",
    "recommendation",
    "about",
    "the",
    "question",
    "asked",
    "by",
    "the",
    "user",
    "today",
]


@dataclass(frozen=True)
class Shape:
    """The size and shape of a synthetic study.

    ``judgments`` are split into a prefix of complete comparisons (``overlap`` judgments each), a
    frontier of open ones, and ``heavy_open`` open comparisons judged by one fast annotator who is
    now waiting for the others: the case that makes the next-comparison scan skip many rows.
    ``open_share`` of the comparisons are still untouched.
    """

    judgments: int
    models: int = 20
    overlap: int = 3
    annotators: int = 300
    heavy_open: int = 0
    open_share: float = 0.25
    frontier_share: float = 0.02
    live_leases: int = 50
    stale_leases: int = 2_000
    pass_share: float = 0.01
    response_chars: int = 400
    seed: int = 0


@dataclass(frozen=True)
class Built:
    """What a benchmark needs to know about a built store."""

    location: str
    study: str
    heavy_id: int
    comparisons: int
    judgments: int
    prompts: int
    seconds: float
    annotator_ids: list[int] = field(repr=False, default_factory=list)

    @property
    def path(self) -> Path:
        """The store's file (SQLite)."""
        return Path(self.location)

    def remove(self) -> None:
        """Delete the store: its file, or its database on the server."""
        if is_postgres(self.location):
            Server(self.location).drop(self.location)
        else:
            self.path.unlink()


def build_store(location: str | Path, shape: Shape) -> Built:
    """Write a synthetic study of ``shape`` into a new store at ``location`` (a file path, or a
    ``postgresql://`` URL of a database that :class:`Server` creates, replacing one of that name)."""
    start = time.perf_counter()
    location = str(location)
    rng = np.random.default_rng(shape.seed)
    k = shape.overlap
    models = [f"model-{i:02d}" for i in range(shape.models)]
    pairs = list(combinations(range(shape.models), 2))
    frontier = max(1, int(shape.judgments * shape.frontier_share / 1.5))
    # frontier comparisons hold 1 or 2 judgments (1.5 on average), heavy ones exactly 1
    frontier_judgments = rng.integers(1, k, size=frontier)
    used = int(frontier_judgments.sum()) + shape.heavy_open
    complete = max(0, (shape.judgments - used) // k)
    started = complete + shape.heavy_open + frontier
    untouched = math.ceil(started * shape.open_share / (1 - shape.open_share))
    n_comparisons = started + untouched
    n_prompts = math.ceil(n_comparisons / len(pairs))

    if is_postgres(location):
        server = Server(location)
        server.drop(location)
        server.create(location)
    Store(location).close()  # the schema
    now = time.time()
    created = "2026-01-01T00:00:00.000+00:00"
    with _bulk_writer(location) as rows:
        _insert_prompts_and_responses(rows, n_prompts, models, shape.response_chars, rng, created)
        rows.insert(
            "studies",
            "id name question guidelines scale overlap models pair_plan gold_rate created_at",
            [
                (1, STUDY, "Which is more helpful?", "", 7, k, json.dumps(models))
                + (json.dumps({"kind": "all"}), 0, created)
            ],
        )
        # the pairs in the order the store's trigger would add them (that of the comparisons)
        rows.insert(
            "study_pairs",
            "id study_id model_a model_b",
            [(i + 1, 1, models[a], models[b]) for i, (a, b) in enumerate(pairs)],
        )
        annotators = [
            (i, f"annotator-{i:04d}", "annotator", created) for i in range(1, 1 + shape.annotators)
        ]
        heavy_id = shape.annotators + 1
        annotators.append((heavy_id, HEAVY, "annotator", created))
        rows.insert("annotators", "id name role created_at", annotators)

        # comparison i (0-based) is prompt i // len(pairs), pair i % len(pairs); its place in the
        # hand-out order is a random permutation, so the order has no relation to prompts
        order = rng.permutation(n_comparisons)  # order[rank] = comparison index
        counts = np.zeros(n_comparisons, dtype=np.int64)
        complete_idx = order[:complete]
        heavy_idx = order[complete : complete + shape.heavy_open]
        frontier_idx = order[complete + shape.heavy_open : started]
        counts[complete_idx] = k
        counts[heavy_idx] = 1
        counts[frontier_idx] = frontier_judgments
        sort_key = np.empty(n_comparisons, dtype=np.int64)
        sort_key[order] = np.sort(rng.choice(n_comparisons * 4, n_comparisons, replace=False))
        n_pairs = len(pairs)
        pair_a = np.array([a for a, _ in pairs])
        pair_b = np.array([b for _, b in pairs])
        index = np.arange(n_comparisons)
        prompt_index = index // n_pairs
        response_a = prompt_index * shape.models + pair_a[index % n_pairs] + 1
        response_b = prompt_index * shape.models + pair_b[index % n_pairs] + 1
        rows.insert(
            "comparisons",
            "id study_id prompt_id response_a response_b n_judgments is_open sort_key pair_id",
            zip(
                (index + 1).tolist(),
                itertools.repeat(1),
                [_prompt_id(p) for p in prompt_index.tolist()],
                response_a.tolist(),
                response_b.tolist(),
                counts.tolist(),
                (counts < k).astype(int).tolist(),
                sort_key.tolist(),
                (index % n_pairs + 1).tolist(),
                strict=False,  # the study id repeats
            ),
        )

        judged_by = _judges(rng, counts, shape.annotators, heavy_idx, heavy_id)
        n_judgments = _insert_judgments(rows, rng, judged_by, now)
        _insert_passes(rows, rng, judged_by, shape, n_comparisons)
        _insert_leases(rows, rng, shape, order[complete:], judged_by, now)
    return Built(
        location=location,
        study=STUDY,
        annotator_ids=list(range(1, shape.annotators + 1)),
        heavy_id=heavy_id,
        comparisons=n_comparisons,
        judgments=n_judgments,
        prompts=n_prompts,
        seconds=time.perf_counter() - start,
    )


def _prompt_id(index: int) -> str:
    return f"p{index:07d}"


class _SQLiteRows:
    """Bulk rows into a SQLite store: ``executemany`` in one transaction of the store's own
    connection, its triggers keeping the counts as they do for the app's writes."""

    def __init__(self, store: Store) -> None:
        self.conn = store.conn

    def insert(self, table: str, columns: str, rows: Any) -> None:
        names = columns.split()
        self.conn.executemany(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            rows,
        )


class _PostgresRows:
    """Bulk rows into a PostgreSQL store: ``COPY`` in one transaction.

    Row by row, the triggers that keep a study's totals and its pairs' counts would update the
    same few rows hundreds of thousands of times in one transaction (each update a new row
    version that the next one steps over), so they are off while the rows go in, and the counts
    are then computed from the rows in one statement each: the counts the triggers keep (the
    benchmark compares them with the SQLite build's).
    """

    COUNTED = ("comparisons", "judgments")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        for table in self.COUNTED:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")

    def insert(self, table: str, columns: str, rows: Any) -> None:
        names = ", ".join(columns.split())
        with self.conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def finish(self) -> None:
        for statement in _RECOUNT:
            self.conn.execute(statement)
        for table in self.COUNTED:
            self.conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        for table in ("responses", "studies", "study_pairs", "comparisons", "annotators"):
            self.conn.execute(  # rows came with their ids; new ones continue after them
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )


_RECOUNT = (
    FILL_STUDY_TOTALS,
    "UPDATE study_pairs p SET judgments = counted.judgments, wins = counted.wins FROM ("
    " SELECT c.pair_id, count(*) AS judgments, sum(CASE WHEN j.score > 0 THEN 1 ELSE 0 END)"
    " AS wins FROM judgments j JOIN comparisons c ON c.id = j.comparison_id"
    " WHERE c.is_gold = 0 GROUP BY c.pair_id) counted WHERE p.id = counted.pair_id",
)


@contextlib.contextmanager
def _bulk_writer(location: str) -> Iterator[_SQLiteRows | _PostgresRows]:
    """A writer of bulk rows into the (migrated, empty) store at ``location``, committed as one
    transaction when the block ends; a PostgreSQL database is then vacuumed and analysed, as the
    server's autovacuum would soon do, so that the planner knows the tables' sizes."""
    if not is_postgres(location):
        with Store(location) as store, store.transaction():
            yield _SQLiteRows(store)
        return
    import psycopg

    with psycopg.connect(location) as conn:
        with conn.transaction():
            rows = _PostgresRows(conn)
            yield rows
            rows.finish()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def _insert_prompts_and_responses(
    rows: _SQLiteRows | _PostgresRows,
    n_prompts: int,
    models: list[str],
    chars: int,
    rng: np.random.Generator,
    created: str,
) -> None:
    prompt_rows = []
    for p in range(n_prompts):
        messages = [{"role": "user", "content": f"Question {p}: " + " ".join(_WORDS[: 5 + p % 9])}]
        category = f"category-{p % 8}"
        prompt_rows.append(
            (
                _prompt_id(p),
                category,
                json.dumps(messages),
                1,
                content_hash([category, messages, []]),
                created,
            )
        )
    rows.insert("prompts", "id category messages turns content_hash created_at", prompt_rows)
    words = np.array(_WORDS)
    per_response = max(1, chars // 6)

    def responses():
        for p in range(n_prompts):
            for m, model in enumerate(models):
                text = " ".join(rng.choice(words, per_response).tolist())
                yield (
                    p * len(models) + m + 1,
                    _prompt_id(p),
                    model,
                    text,
                    len(text),
                    content_hash(text),
                    created,
                )

    rows.insert(
        "responses", "id prompt_id model content chars content_hash created_at", responses()
    )


def _judges(
    rng: np.random.Generator,
    counts: np.ndarray,
    n_annotators: int,
    heavy_idx: np.ndarray,
    heavy_id: int,
) -> np.ndarray:
    """An array of shape (comparisons, 3) with distinct annotator ids per row, 0 for none."""
    n = len(counts)
    first = rng.integers(0, n_annotators, size=n)
    step1 = rng.integers(1, n_annotators, size=n)
    step2 = rng.integers(1, n_annotators - 1, size=n)
    step2 = step2 + (step2 >= step1)
    judges = np.stack(
        [first, (first + step1) % n_annotators, (first + step2) % n_annotators], axis=1
    )
    judges = judges + 1
    width = judges.shape[1]
    judges[np.arange(width)[None, :] >= counts[:, None]] = 0
    judges[heavy_idx, 0] = heavy_id
    return judges


def _insert_judgments(
    rows: _SQLiteRows | _PostgresRows,
    rng: np.random.Generator,
    judged_by: np.ndarray,
    now: float,
) -> int:
    comparison_idx, slot = np.nonzero(judged_by)
    n = len(comparison_idx)
    scores = rng.integers(-3, 4, size=n).tolist()
    orders = np.where(rng.random(n) < 0.5, "AB", "BA").tolist()
    seconds = np.round(rng.gamma(2.0, 15.0, size=n), 1).tolist()
    base = now - n * 2.0
    stamps = [
        time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(base + 2.0 * i)) for i in range(n)
    ]
    rows.insert(
        "judgments",
        "comparison_id annotator_id score shown_order seconds created_at",
        zip(
            (comparison_idx + 1).tolist(),
            judged_by[comparison_idx, slot].tolist(),
            scores,
            orders,
            seconds,
            stamps,
            strict=True,
        ),
    )
    return n


def _insert_passes(
    rows: _SQLiteRows | _PostgresRows,
    rng: np.random.Generator,
    judged_by: np.ndarray,
    shape: Shape,
    n_comparisons: int,
) -> None:
    """Skips and flags by annotators who did not judge the comparison."""
    n = int(shape.judgments * shape.pass_share)
    comparison_idx = rng.integers(0, n_comparisons, size=n)
    annotator = rng.integers(1, shape.annotators + 1, size=n)
    clash = (judged_by[comparison_idx] == annotator[:, None]).any(axis=1)
    keys = comparison_idx * (shape.annotators + 2) + annotator
    _, first = np.unique(keys, return_index=True)
    keep = np.zeros(n, dtype=bool)
    keep[first] = True
    keep &= ~clash
    reasons = np.array(["skip", "skip", "skip", "unsafe", "broken"])
    rows.insert(
        "passes",
        "comparison_id annotator_id reason created_at",
        zip(
            (comparison_idx[keep] + 1).tolist(),
            annotator[keep].tolist(),
            reasons[rng.integers(0, len(reasons), size=int(keep.sum()))].tolist(),
            itertools.repeat("2026-01-01T00:00:00.000+00:00"),
            strict=False,  # the time repeats
        ),
    )


def _insert_leases(
    rows: _SQLiteRows | _PostgresRows,
    rng: np.random.Generator,
    shape: Shape,
    open_order: np.ndarray,
    judged_by: np.ndarray,
    now: float,
) -> None:
    """Live leases on the first open comparisons, and stale ones nobody purged yet."""
    total = min(len(open_order), shape.live_leases + shape.stale_leases)
    comparisons = open_order[rng.permutation(min(len(open_order), total * 4))[:total]] + 1
    live = min(shape.live_leases, shape.annotators)
    holders = rng.permutation(shape.annotators)[:live] + 1
    stale_holders = rng.integers(1, shape.annotators + 1, size=total - live)
    annotators = np.concatenate([holders, stale_holders])
    leased_at = np.where(np.arange(total) < live, now - 30.0, now - 7200.0)
    held = {
        (int(c), int(a)): float(t)
        for c, a, t in zip(comparisons, annotators, leased_at, strict=True)
        if a not in judged_by[c - 1]
    }
    rows.insert(
        "leases",
        "comparison_id annotator_id shown_order leased_at expires_at",
        [(c, a, "AB", t, t + 600.0) for (c, a), t in held.items()],
    )


# -- PostgreSQL databases ------------------------------------------------------------------------


def is_postgres(location: str | Path) -> bool:
    return str(location).startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


class Server:
    """The PostgreSQL server of a location: makes, copies and drops databases there, through its
    maintenance database ``postgres`` (the role needs ``CREATEDB``)."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.admin = urlsplit(location)._replace(path="/postgres").geturl()

    @staticmethod
    def name(location: str) -> str:
        return urlsplit(location).path.lstrip("/")

    def at(self, name: str) -> str:
        """The location of database ``name`` on this server."""
        return urlsplit(self.location)._replace(path=f"/{name}").geturl()

    def _run(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def create(self, location: str, template: str | None = None) -> None:
        source = f' TEMPLATE "{self.name(template)}"' if template else ""
        if template:  # a template must have no sessions: this process's pools hold some
            dispose_engines()
        self._run(f'CREATE DATABASE "{self.name(location)}"{source}')

    def drop(self, location: str) -> None:
        dispose_engines()
        self._run(f'DROP DATABASE IF EXISTS "{self.name(location)}" WITH (FORCE)')


# -- timing and tables ---------------------------------------------------------------------------


# Runs a command and writes its wall and CPU seconds and peak memory to the file named first. It is
# a small process of its own: a child's peak resident memory counts the pages of the process it
# was forked from, so a command forked straight from a benchmark that holds a large store in
# memory would be charged for it.
_LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"seconds": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
               "peak_mb": usage.ru_maxrss / 1024, "status": os.waitstatus_to_exitcode(status)}, out)
"""


def measured_run(command: Sequence[str], log: Path) -> dict[str, float]:
    """Run ``command`` in its own process, output to ``log``: wall and CPU seconds and peak
    resident MB of that very process (kilobytes from ``os.wait4`` on Linux)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    figures = log.with_name(log.name + ".json")
    with open(log, "wb") as output:
        launcher = [sys.executable, "-c", _LAUNCHER, str(figures), *map(str, command)]
        subprocess.run(launcher, stdout=output, stderr=subprocess.STDOUT, env=env, check=True)
    measured = json.loads(figures.read_text())
    if measured.pop("status") != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{log.read_text()}")
    return measured


@contextlib.contextmanager
def temp_dir() -> Iterator[Path]:
    """A scratch folder outside the repository, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="pairwise-bench-") as folder:
        yield Path(folder)


@contextlib.contextmanager
def fresh_copy(template: str | Path, path: Path) -> Iterator[str]:
    """A copy of the store at ``template`` for one run to write to, removed afterwards: a file
    at ``path`` (with its WAL files), or on PostgreSQL a database copied from the template's
    (``CREATE DATABASE ... TEMPLATE``) and named after both."""
    if is_postgres(template):
        server = Server(str(template))
        copy = server.at(f"{server.name(str(template))}_{_plain(Path(path).stem)}")
        server.drop(copy)
        server.create(copy, template=str(template))
        try:
            yield copy
        finally:
            server.drop(copy)
        return
    shutil.copyfile(template, path)
    try:
        yield str(path)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _plain(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower())


def options(doc: str) -> argparse.ArgumentParser:
    """The options every size-scaling benchmark has: ``--quick``, ``--sizes`` and ``--runs``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--sizes", help="judgments per database, comma separated")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (median)")
    return parser


def parse(parser: argparse.ArgumentParser, *, sizes: str, quick_sizes: str) -> argparse.Namespace:
    """Parsed options, with ``sizes`` as a list of ints and ``runs`` 3 (1 with ``--quick``)."""
    args = parser.parse_args()
    args.sizes = [int(s) for s in (args.sizes or (quick_sizes if args.quick else sizes)).split(",")]
    args.runs = args.runs or (1 if args.quick else 3)
    return args


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 of durations in seconds, as milliseconds."""
    values = np.asarray(seconds, dtype=float) * 1000.0
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99)}


def median_of(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over repeated runs."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def time_calls(function: Callable[[], object], repeat: int) -> list[float]:
    """Wall times in seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def timed_methods(
    methods: Sequence[tuple[str, str, Callable[[Path], int]]], folder: Path, runs: int
) -> tuple[dict[str, tuple[float, float]], dict[str, int]]:
    """Each method's median wall time and median CPU time over ``runs`` runs, in seconds, and
    the count it returned.

    A method is ``(name, database, function)``: ``function`` works on the database file
    ``folder / f"{database}-{run}.db"``, so that a method (a re-import) may reuse the database
    an earlier one of the same run wrote. Methods run in the order given, in every run. The CPU
    time (this process's) is the steadier figure on a machine shared with other work.
    """
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in methods}
    counts: dict[str, int] = {}
    for run in range(runs):
        for name, database, function in methods:
            wall, cpu = time.perf_counter(), time.process_time()
            counts[name] = function(folder / f"{database}-{run}.db")
            figures[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    medians = {
        name: (statistics.median(w for w, _ in times), statistics.median(c for _, c in times))
        for name, times in figures.items()
    }
    return medians, counts


TIMED_HEADER = ["seconds", "CPU seconds", "per second", "x baseline", "CPU x baseline"]


def against_first(seconds: dict[str, tuple[float, float]], size: int) -> list[list[object]]:
    """Table rows ``name, size`` and :data:`TIMED_HEADER`, against the first method (the
    baseline of the same run)."""
    wall_base, cpu_base = next(iter(seconds.values()))
    return [
        [name, size, wall, cpu, size / wall, wall / wall_base, cpu / cpu_base]
        for name, (wall, cpu) in seconds.items()
    ]


def machine() -> str:
    """One line naming the machine, so a table can be compared with another run's."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ""
    with contextlib.suppress(OSError, AttributeError):
        load = ", load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}{load}"
    )


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain Markdown table, so results paste straight into the README."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    print(f"\n{title}\n{machine()}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(cell(v) for v in row) + " |")
    sys.stdout.flush()
