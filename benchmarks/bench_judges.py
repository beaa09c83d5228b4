"""What the report's optional views cost: a leaderboard against a baseline (with length-controlled
win rates and their bootstrap) and style-controlled ratings, each next to the plain report measured
in the same run (the ratio is the figure to read; absolute seconds depend on the machine's load).

The frame is ``bench_report``'s simulated one (20 models, overlap 3, 300 annotators), with response
texts whose length and Markdown vary, so that both fits see real covariates.

    python benchmarks/bench_judges.py            # 10,000 / 100,000 judgments
    python benchmarks/bench_judges.py --quick    # 2,000 judgments, 100 rounds
"""

from __future__ import annotations

from functools import partial

import numpy as np
from _common import options, parse, print_table
from bench_report import median_seconds, simulated

import analysis
from pairwise.report import build_report


def with_texts(frame, seed: int):
    """Response texts of the frame's lengths, some with headers, list items and bold spans."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    for side in ("a", "b"):
        headers = rng.integers(0, 3, len(frame))
        items = rng.integers(0, 5, len(frame))
        bold = rng.integers(0, 3, len(frame))
        frame[f"response_{side}"] = [
            "# Title\n" * h + "- item\n" * i + "**key** " * b + "x" * int(n)
            for h, i, b, n in zip(headers, items, bold, frame[f"len_{side}"], strict=True)
        ]
    return frame


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=None, help="bootstrap rounds")
    args = parse(parser, sizes="10000,100000", quick_sizes="2000")
    rounds = args.rounds or (100 if args.quick else 1000)
    rows = []
    for size in args.sizes:
        frame = with_texts(simulated(size, args.models, seed=1), seed=2)
        baseline = "model-00"
        settings = {"rounds": rounds, "seed": 0}
        plain = median_seconds(partial(build_report, frame, **settings), args.runs)
        board = median_seconds(
            partial(analysis.leaderboard, frame, baseline, **settings), args.runs
        )
        style = median_seconds(
            partial(analysis.style_controlled_ratings, frame, **settings), args.runs
        )
        both = median_seconds(
            partial(build_report, frame, baseline=baseline, style_control=True, **settings),
            args.runs,
        )
        rows.append([len(frame), plain, board, style, both, both / plain])
        print(f"  {len(frame):,} judgments: {rows[-1]}", flush=True)
    print_table(
        f"Report views: seconds, {args.models} models, {rounds:,} bootstrap rounds"
        f" (median of {args.runs} runs)",
        [
            "judgments",
            "plain report",
            "leaderboard",
            "style control",
            "report with both",
            "ratio to plain",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
