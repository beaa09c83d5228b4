"""How often the report's intervals cover the truth, measured on judgments with known truth.

Not a speed benchmark but a check of the statistics: for each interval the report prints, draw
many independent studies from ``analysis.simulate_judgments`` (prompt effects shared by a
prompt's annotators, logistic annotator noise, a tie band), compute the interval on each exactly
as the report does, and count how often it holds the true value. The true value of a statistic is
its value on one very large draw from the same simulator (a million comparisons), whose own
error is printed and is far below the intervals' widths.

Measured, per number of prompts per pair and judgments per prompt:

- pair rates (win, tie, loss, win + ½ tie) and the per-prompt majority win rate;
- the mean score (7-point scale);
- the position and length checks (share of decided judgments won by the left-shown / longer
  response; the simulator plants neither bias, so the truth is one half);
- Bradley-Terry ratings (three models, fewer replications: each fit bootstraps).

The breakdowns by category, turns and length use the same function as the pair rates, on the
judgments of each group, so their coverage is that of the pair rates at the group's number of
prompts. ``--plain`` measures the plain percentile bootstrap instead of the expanded one, to see
what the small-sample correction changes.

    python benchmarks/validate_coverage.py                     # the table in docs/coverage.md
    python benchmarks/validate_coverage.py --quick             # a smoke run of a few seconds
    python benchmarks/validate_coverage.py --plain --prompts 50
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import analysis  # noqa: E402
from analysis import intervals  # noqa: E402

STRENGTHS = (0.4, -0.4)
RATINGS_STRENGTHS = (0.5, 0.0, -0.5)
RATES = ("win_rate", "tie_rate", "loss_rate", "win_half_tie_rate")
TRUTH_COMPARISONS = 1_000_000


def simulate(prompts: int, per_prompt: int, seed: int, strengths=STRENGTHS) -> pd.DataFrame:
    """One study: about ``prompts`` comparisons of each pair (pairs are drawn at random), each
    its own prompt, with ``per_prompt`` judgments each.

    The simulator gives every comparison its own prompt effect, shared by its annotators; so
    each comparison is one prompt here (the simulator's prompt ids, drawn from a pool, would
    merge unrelated comparisons into one cluster now and then).
    """
    pairs = len(strengths) * (len(strengths) - 1) // 2
    frame = analysis.simulate_judgments(
        n_models=len(strengths),
        strengths=list(strengths),
        n_prompts=50,
        n_comparisons=prompts * pairs,
        judgments_per_comparison=per_prompt,
        n_annotators=12,
        seed=seed,
    )
    frame["prompt_id"] = "c" + frame["comparison_id"].astype(str)
    return frame


def replicated(prompts: int, per_prompt: int, reps: int, seed: int) -> pd.DataFrame:
    """``reps`` independent studies of one pair, stacked: replication r is the pair ``r{r}`` vs
    ``ref``, so that one call of a pair function computes every replication (each pair draws
    from its own generator, so the replications stay independent)."""
    frames = []
    for r in range(reps):
        frame = simulate(prompts, per_prompt, seed * 1_000_003 + r)
        frame["model_a"] = f"r{r:05d}"
        frame["model_b"] = "ref"
        frame["prompt_id"] = f"r{r}-" + frame["prompt_id"].astype(str)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def truths(per_prompt: int) -> dict[str, float]:
    """Each statistic on one very large study (its standard error is about 0.0005 on rates)."""
    frame = simulate(TRUTH_COMPARISONS, per_prompt, seed=987_654)
    rates = analysis.pair_rates(frame, method="wilson").iloc[0]
    majority = analysis.pair_rates(analysis.majority_outcomes(frame), method="wilson").iloc[0]
    scores = analysis.mean_scores(frame, method="t").iloc[0]
    out = {rate: float(rates[rate]) for rate in RATES}
    out["majority_win_rate"] = float(majority["win_rate"])
    out["mean_score"] = float(scores["mean_score"])
    return out


def covered(low, high, truth) -> np.ndarray:
    return (np.asarray(low) <= truth) & (truth <= np.asarray(high))


def rate_rows(prompts: int, per_prompt: int, reps: int, rounds: int, truth: dict) -> list[dict]:
    frame = replicated(prompts, per_prompt, reps, seed=prompts * 10 + per_prompt)
    rates = analysis.pair_rates(frame, rounds=rounds, seed=1)
    majority = analysis.pair_rates(analysis.majority_outcomes(frame), rounds=rounds, seed=1)
    scores = analysis.mean_scores(frame, rounds=rounds, seed=1)
    rows = []

    def row(name: str, table: pd.DataFrame, column: str, value: float) -> None:
        hits = covered(table[f"{column}_ci_low"], table[f"{column}_ci_high"], value)
        width = (table[f"{column}_ci_high"] - table[f"{column}_ci_low"]).median()
        rows.append(_row(name, prompts, per_prompt, hits, width, table["method"]))

    for rate in RATES:
        row(rate.replace("_", " "), rates, rate, truth[rate])
    row("majority win rate", majority, "win_rate", truth["majority_win_rate"])
    row("mean score", scores, "mean_score", truth["mean_score"])
    return rows


def bias_rows(prompts: int, per_prompt: int, reps: int, rounds: int) -> list[dict]:
    """Position and length checks: the simulator plants neither bias, so the truth is 0.5."""
    rows = []
    for name, check in (
        ("position check", analysis.position_preference),
        ("length check", analysis.length_preference),
    ):
        found = [
            check(simulate(prompts, per_prompt, seed=50_000 + r), rounds=rounds, seed=r)
            for r in range(reps)
        ]
        hits = covered([p.ci_low for p in found], [p.ci_high for p in found], 0.5)
        width = float(np.median([p.ci_high - p.ci_low for p in found]))
        rows.append(_row(name, prompts, per_prompt, hits, width, [p.method for p in found]))
    return rows


def ratings_rows(prompts: int, per_prompt: int, reps: int, rounds: int) -> list[dict]:
    """Bradley-Terry ratings of three models; the truth is the fit on a very large study."""
    big = simulate(TRUTH_COMPARISONS // 3, per_prompt, seed=4321, strengths=RATINGS_STRENGTHS)
    truth = analysis.bradley_terry(big, rounds=1).table.set_index("model")["rating"]
    hits, widths = [], []
    for r in range(reps):
        frame = simulate(prompts, per_prompt, seed=70_000 + r, strengths=RATINGS_STRENGTHS)
        table = analysis.bradley_terry(frame, rounds=rounds, seed=r).table.set_index("model")
        hits.extend(covered(table["ci_low"], table["ci_high"], truth.reindex(table.index)))
        widths.extend(table["ci_high"] - table["ci_low"])
    method = ["bootstrap over prompts"] * len(hits)
    return [
        _row("rating (3 models)", prompts, per_prompt, np.array(hits), np.median(widths), method)
    ]


def _row(name, prompts, per_prompt, hits, width, methods) -> dict:
    hits = np.asarray(hits, dtype=bool)
    share = hits.mean()
    error = np.sqrt(share * (1 - share) / len(hits))
    used = pd.Series(list(methods)).value_counts()
    return {
        "interval": name,
        "prompts per pair": prompts,
        "judgments per prompt": per_prompt,
        "replications": len(hits),
        "coverage": f"{share:.1%} ± {error:.1%}",
        "median width": f"{width:.3g}",
        "method": ", ".join(used.index),
    }


def markdown(rows: list[dict]) -> str:
    table = pd.DataFrame(rows)
    head = "| " + " | ".join(table.columns) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", default="5,10,20,50,200", help="prompts per pair")
    parser.add_argument("--per-prompt", default="1,3", help="judgments per prompt")
    parser.add_argument("--reps", type=int, default=2000, help="replications per setting")
    parser.add_argument("--bias-reps", type=int, default=400)
    parser.add_argument("--ratings-reps", type=int, default=300)
    parser.add_argument("--ratings-prompts", default="20,50")
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds (as reports)")
    parser.add_argument("--ratings-rounds", type=int, default=200)
    parser.add_argument("--plain", action="store_true", help="plain percentile bootstrap")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.per_prompt, args.reps, args.rounds = "10,50", "3", 100, 200
        args.bias_reps, args.ratings_reps, args.ratings_prompts = 30, 5, "20"
    if args.plain:
        intervals.expanded_tail = _plain_tail
    started = time.perf_counter()
    rows: list[dict] = []
    for per_prompt in map(int, args.per_prompt.split(",")):
        truth = truths(per_prompt)
        print(f"truth, {per_prompt} judgment(s) per prompt: {truth}", file=sys.stderr)
        for prompts in map(int, args.prompts.split(",")):
            rows += rate_rows(prompts, per_prompt, args.reps, args.rounds, truth)
            rows += bias_rows(prompts, per_prompt, args.bias_reps, args.rounds)
            print(f"  {prompts} prompts done", file=sys.stderr)
        if per_prompt > 1:
            for prompts in map(int, args.ratings_prompts.split(",")):
                rows += ratings_rows(prompts, per_prompt, args.ratings_reps, args.ratings_rounds)
    rows.sort(key=lambda r: (r["interval"], r["judgments per prompt"], r["prompts per pair"]))
    print(
        f"Coverage of 95% intervals ({'plain' if args.plain else 'expanded'} percentile "
        f"bootstrap, {args.rounds} rounds; small samples below {analysis.MIN_PROMPTS} prompts); "
        f"{time.perf_counter() - started:.0f} s\n"
    )
    print(markdown(rows))


def _plain_tail(confidence: float, clusters: np.ndarray | int) -> np.ndarray:
    """The plain percentile interval's tail share, whatever the number of clusters."""
    return np.full(np.shape(clusters), (1 - confidence) / 2)


if __name__ == "__main__":
    main()
