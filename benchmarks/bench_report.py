"""How long the full win-rate report takes, and how that time grows with the number of judgments.

For each size it times loading the judgments frame from a store (``Store.judgments_frame``) and
computing the report on it (``pairwise.report.build_report``: pair rates with cluster-bootstrap
intervals, majority view, graded scores, Bradley-Terry with bootstrap intervals, agreement, bias
checks, annotator summary, breakdowns), plus the three heaviest parts on their own. The frame is
simulated with known model strengths (``analysis.simulate_judgments``: 20 models, overlap 3, 300
annotators) so that the statistics see realistic, structured data; the store load is timed on a
synthetic store of the same size.

    python benchmarks/bench_report.py            # 10,000 / 100,000 / 1,000,000 judgments
    python benchmarks/bench_report.py --quick    # 2,000 judgments, 100 rounds
"""

from __future__ import annotations

import statistics
from functools import partial

from _common import Shape, build_store, options, parse, print_table, temp_dir, time_calls

import analysis
from pairwise.report import build_report
from pairwise.store import Store

GOAL_SECONDS = 10.0


def simulated(judgments: int, models: int, seed: int):
    comparisons = judgments // 3
    prompts = max(50, comparisons // (models * (models - 1) // 2) * 2)
    return analysis.simulate_judgments(
        n_models=models,
        n_prompts=prompts,
        n_comparisons=comparisons,
        judgments_per_comparison=3,
        n_annotators=300,
        seed=seed,
    )


def median_seconds(function, runs: int) -> float:
    return statistics.median(time_calls(function, runs))


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=None, help="bootstrap rounds")
    args = parse(parser, sizes="10000,100000,1000000", quick_sizes="2000")
    rounds = args.rounds or (100 if args.quick else 1000)
    runs = args.runs

    rows = []
    with temp_dir() as folder:
        for size in args.sizes:
            built = build_store(folder / f"report-{size}.db", Shape(judgments=size))
            with Store(built.path) as store:
                load = median_seconds(partial(store.judgments_frame, include_gold=False), runs)
            built.path.unlink()
            frame = simulated(size, args.models, seed=1)
            parts = {
                "pair rates": partial(analysis.pair_rates, frame, rounds=rounds, seed=0),
                "Bradley-Terry": partial(analysis.bradley_terry, frame, rounds=rounds, seed=0),
                "agreement": partial(analysis.agreement_summary, frame),
            }
            part_seconds = {name: median_seconds(run, runs) for name, run in parts.items()}
            report = median_seconds(partial(build_report, frame, rounds=rounds, seed=0), runs)
            rows.append(
                [
                    len(frame),
                    frame["prompt_id"].nunique(),
                    load,
                    *part_seconds.values(),
                    report,
                    load + report,
                ]
            )
            print(f"  {len(frame):,} judgments: {rows[-1]}", flush=True)
    print_table(
        f"Report: seconds, {args.models} models, {rounds:,} bootstrap rounds (median of {runs} runs)",
        [
            "judgments",
            "prompts",
            "load frame",
            *parts,
            "full report",
            "load + report",
        ],
        rows,
    )
    largest = rows[-1]
    verdict = "met" if largest[-1] < GOAL_SECONDS else "MISSED"
    print(
        f"\ngoal: under {GOAL_SECONDS:.0f} s at {largest[0]:,} judgments / {args.models} models /"
        f" {rounds:,} rounds: {verdict} ({largest[-1]:.1f} s)"
    )
    if len(rows) > 1:
        first = rows[0]
        print(
            f"growth: {largest[0] / first[0]:,.0f}x the judgments took"
            f" {largest[-1] / first[-1]:,.1f}x the time"
        )


if __name__ == "__main__":
    main()
