"""How long ``pairwise export`` takes on a million judgments, and how much memory it needs.

Builds a synthetic store (``_common.build_store``: 20 models, overlap 3, 300 annotators, responses
of about 400 characters, some comparisons flagged; bulk inserts in one transaction) in a temporary
folder, then runs the real command line, ``python -m pairwise.cli export``, in a fresh process per
run: TRL conversational JSON Lines and Parquet, one record per comparison (majority vote) and one
per judgment. Each run's wall time, CPU time and peak resident memory (``ru_maxrss`` of that very
process, from ``os.wait4``) are measured from outside, so they include starting Python and reading
the database, as a user would see them.

    python benchmarks/bench_export.py              # 1,000,000 judgments, median of 3 runs
    python benchmarks/bench_export.py --quick      # 20,000 judgments, 1 run
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from _common import Shape, build_store, measured_run, print_table, temp_dir

CASES = (
    ("trl-conversational", "majority"),
    ("trl-conversational", "judgment"),
    ("parquet", "majority"),
    ("parquet", "judgment"),
)


def run_export(db: Path, out: Path, fmt: str, aggregation: str) -> dict[str, float]:
    """One ``pairwise export`` in its own process: wall and CPU seconds, peak MB, output size."""
    command = [sys.executable, "-m", "pairwise.cli", "--db", str(db), "export", str(out)]
    command += ["--format", fmt, "--aggregation", aggregation]
    log = out.with_name(out.name + ".log")
    figures = measured_run(command, log)
    text = log.read_text()
    files = [p for p in out.parent.glob(out.name + "*") if p.suffix in (".jsonl", ".parquet")]
    return {
        **figures,
        "records": int(text.split("(", 1)[1].split()[0]),
        "file_mb": sum(p.stat().st_size for p in files) / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--judgments", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None, help="runs per case (median)")
    args = parser.parse_args()
    judgments = args.judgments or (20_000 if args.quick else 1_000_000)
    runs = args.runs or (1 if args.quick else 3)

    with temp_dir() as folder:
        built = build_store(folder / "export.db", Shape(judgments=judgments))
        print(
            f"built {built.judgments:,} judgments, {built.comparisons:,} comparisons,"
            f" {built.prompts:,} prompts in {built.seconds:.1f} s",
            flush=True,
        )
        rows = []
        for fmt, aggregation in CASES:
            results = []
            for run in range(runs):
                out = folder / f"{fmt}-{aggregation}-{run}"
                results.append(run_export(built.path, out, fmt, aggregation))
                for path in folder.glob(out.name + "*"):
                    path.unlink()
            median = {key: statistics.median(r[key] for r in results) for key in results[0]}
            rows.append(
                [
                    fmt,
                    aggregation,
                    int(median["records"]),
                    median["seconds"],
                    median["cpu"],
                    median["peak_mb"],
                    median["file_mb"],
                    round(median["records"] / median["seconds"]),
                ]
            )
            print(f"  {fmt} / {aggregation}: {rows[-1][2:]}", flush=True)
    print_table(
        f"pairwise export of {built.judgments:,} judgments (median of {runs} runs, each a fresh"
        " process; peak = resident memory)",
        [
            "format",
            "one record per",
            "records",
            "wall s",
            "CPU s",
            "peak MB",
            "file MB",
            "records / s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
