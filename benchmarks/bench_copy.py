"""How long ``pairwise copy`` takes on a store of 100,000 and 1,000,000 judgments, and its memory.

Builds a synthetic store (``_common.build_store``: 20 models, overlap 3, 300 annotators, responses
of about 400 characters, leases and passes; bulk inserts in one transaction), then runs the real
command line, ``python -m pairwise.cli copy``, in a fresh process per run, SQLite to SQLite; with
``--pg URL`` (a PostgreSQL server URL whose role may create databases) also SQLite to PostgreSQL
and PostgreSQL back to SQLite, each into a database made for the run and dropped after it. The
baseline, in the same run, is SQLite's own copy of the file, ``VACUUM INTO``, in a fresh process too.
Each figure is the wall time, CPU time and peak resident memory of that very process.

    python benchmarks/bench_copy.py                        # 100,000 and 1,000,000 judgments
    python benchmarks/bench_copy.py --quick                # 20,000 judgments, 1 run
    python benchmarks/bench_copy.py --pg postgresql://pairwise:secret@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from _common import (
    Shape,
    build_store,
    measured_run,
    median_of,
    options,
    parse,
    print_table,
    temp_dir,
)

Figures = dict[str, float]


@contextlib.contextmanager
def pg_database(server: str) -> Iterator[str]:
    """A new PostgreSQL database on ``server`` for one run, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server)
    name = f"copy_bench_{secrets.token_hex(4)}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def copy(source: str | Path, dest: str | Path, log: Path) -> Figures:
    command = [sys.executable, "-m", "pairwise.cli", "copy", str(source), str(dest)]
    return measured_run(command, log)


def vacuum_into(source: Path, dest: Path, log: Path) -> Figures:
    script = f"import sqlite3; sqlite3.connect({str(source)!r}).execute('VACUUM INTO ?', [{str(dest)!r}])"
    return measured_run([sys.executable, "-c", script], log)


def cases(source: Path, folder: Path, server: str | None) -> dict[str, Callable[[], Figures]]:
    """Each way to copy the store at ``source``, as a call that makes one measured run."""
    log = folder / "run.log"

    def fresh(name: str) -> Path:
        path = folder / name
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return path

    found = {
        "VACUUM INTO (baseline)": lambda: vacuum_into(source, fresh("v.db"), log),
        "copy SQLite -> SQLite": lambda: copy(source, fresh("c.db"), log),
    }
    if server:
        found["copy SQLite -> PostgreSQL"] = lambda: to_pg(source, server, log)
        found["copy PostgreSQL -> SQLite"] = lambda: from_pg(source, server, fresh("b.db"), log)
    return found


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--pg", help="a PostgreSQL server URL: copy to and from it too")
    args = parse(parser, sizes="100000,1000000", quick_sizes="20000")
    rows = []
    with temp_dir() as folder:
        for size in args.sizes:
            built = build_store(folder / f"source-{size}.db", Shape(judgments=size))
            print(f"built {built.judgments:,} judgments in {built.seconds:.1f} s", flush=True)
            baseline = None
            for name, case in cases(built.path, folder, args.pg).items():
                figures = median_of([case() for _ in range(args.runs)])
                baseline = baseline or figures["seconds"]
                rows.append(
                    [
                        f"{built.judgments:,}",
                        name,
                        figures["seconds"],
                        figures["cpu"],
                        figures["peak_mb"],
                        figures["seconds"] / baseline,
                    ]
                )
                print(f"  {name}: {rows[-1][2:]}", flush=True)
    print_table(
        f"pairwise copy (median of {args.runs} runs, each a fresh process; peak = resident memory)",
        ["judgments", "case", "wall s", "CPU s", "peak MB", "x VACUUM INTO"],
        rows,
    )


def to_pg(source: Path, server: str, log: Path) -> Figures:
    with pg_database(server) as url:
        return copy(source, url, log)


def from_pg(source: Path, server: str, dest: Path, log: Path) -> Figures:
    """The time to copy back only: the store is put on the server first, untimed."""
    with pg_database(server) as url:
        copy(source, url, log)
        return copy(url, dest, log)


if __name__ == "__main__":
    main()
