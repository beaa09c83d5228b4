"""Adaptive against random-order assignment: judgments until every pair's interval is narrow enough.

A 10-model study (45 pairs, every pair, one judgment per comparison) with unequal gaps between the
models' strengths runs through the real store twice per replication: once handing comparisons out
in the study's random order, once adaptively (``Store.create_study(..., adaptive=True)``). Each
judgment's score is drawn from ``analysis.simulate_judgments``' model for the pair handed out
(a pool of that pair's simulated judgments, taken in order). After every judgment the 95% Wilson
interval of each pair's win rate is read from the store's pair counts; a run stops when every
pair's half-width is at most the target. The script reports the judgments each way took, the
saving, and the coverage of the true win rates (from the model, by Gauss-Hermite quadrature) by
the final Wilson intervals and by the anytime-valid sequences, over all pairs of all runs.

    python benchmarks/sim_adaptive.py             # 20 replications, target half-width 0.07
    python benchmarks/sim_adaptive.py --quick     # 2 replications
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
from _common import machine, print_table, temp_dir
from scipy import special

import analysis
from analysis.intervals import wilson_interval
from pairwise.store import Prompt, Store

STRENGTHS = np.array([2.4, 2.2, 1.6, 0.9, 0.7, 0.0, -0.5, -1.3, -2.1, -3.0])
PROMPT_SD, TIE_BAND = 0.5, 0.6  # simulate_judgments' defaults, named so the truth uses them too
MODELS = [f"model-{i:02d}" for i in range(len(STRENGTHS))]


def true_win_rates() -> dict[tuple[str, str], float]:
    """P(score > 0) per pair under the model: E over the prompt effect of the logistic tail."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    rates = {}
    for i, a in enumerate(MODELS):
        for j in range(i + 1, len(MODELS)):
            gap = STRENGTHS[i] - STRENGTHS[j]
            rates[a, MODELS[j]] = float(
                np.sum(weights * special.expit(gap + PROMPT_SD * nodes - TIE_BAND))
            )
    return rates


def score_pools(seed: int, per_pair: int) -> dict[tuple[str, str], list[int]]:
    """Simulated scores per pair, about ``per_pair`` each, in the order they were drawn."""
    pairs = len(MODELS) * (len(MODELS) - 1) // 2
    frame = analysis.simulate_judgments(
        n_models=len(MODELS),
        strengths=STRENGTHS,
        n_prompts=10_000,
        n_comparisons=pairs * per_pair * 2,
        judgments_per_comparison=1,
        n_annotators=50,
        prompt_sd=PROMPT_SD,
        tie_band=TIE_BAND,
        seed=seed,
    )
    pools: dict[tuple[str, str], list[int]] = {}
    for a, b, score in zip(frame["model_a"], frame["model_b"], frame["score"], strict=True):
        pools.setdefault((a, b), []).append(int(score))
    return pools


def build(path: Path, prompts: int) -> None:
    """A store with ``prompts`` prompts, each answered by every model."""
    with Store(path) as store:
        ids = [f"p{i:05d}" for i in range(prompts)]
        store.add_prompts(Prompt(p, "chat", [{"role": "user", "content": p}], [], 1) for p in ids)
        store.add_responses((p, m, f"{m} answers {p}") for m in MODELS for p in ids)


def run(path: Path, adaptive: bool, pools, target: float, seed: int) -> dict:
    """Judge until every pair's Wilson half-width is at most ``target``; the run's figures."""
    rng = random.Random(seed)
    with Store(path) as store:
        study = store.create_study(
            f"{'adaptive' if adaptive else 'uniform'}-{seed}",
            pairs=[(a, b) for i, a in enumerate(MODELS) for b in MODELS[i + 1 :]],
            overlap=1,
            seed=seed,
            adaptive=adaptive,
        )
        annotator = store.ensure_annotator("simulated").id
        taken = {pair: 0 for pair in pools}
        sequences: dict[tuple[str, str], list[int]] = {pair: [] for pair in pools}
        judgments, seconds = 0, 0.0
        while True:
            began = time.perf_counter()
            got = store.next_comparison(study, annotator, rng=rng)
            seconds += time.perf_counter() - began
            if got is None:
                raise RuntimeError("the study ran out of comparisons: give it more prompts")
            pair = (got.model_a, got.model_b)
            score = pools[pair][taken[pair]]
            taken[pair] += 1
            sequences[pair].append(score > 0)
            store.record_judgment(
                got.comparison_id, annotator, score=score, shown_order=got.shown_order
            )
            judgments += 1
            counts = store.conn.execute(
                "SELECT model_a, model_b, judgments, wins FROM study_pairs WHERE study_id = ?",
                [study.id],
            ).fetchall()
            n = np.array([row[2] for row in counts], dtype=float)
            wins = np.array([row[3] for row in counts], dtype=float)
            low, high = wilson_interval(wins, n)
            if np.all(n > 0) and np.all((high - low) / 2 <= target):
                break
    names = [(row[0], row[1]) for row in counts]
    anytime = [anytime_bounds(np.array(sequences[pair], dtype=float)) for pair in names]
    return {
        "judgments": judgments,
        "pairs": names,
        "wilson": list(zip(low, high, strict=True)),
        "anytime": anytime,
        "per_pair": dict(zip(names, n.astype(int), strict=True)),
        "next_ms": 1000 * seconds / judgments,
    }


def anytime_bounds(wins: np.ndarray) -> tuple[float, float]:
    low, high = analysis.anytime_interval(wins, np.ones_like(wins))
    return float(low[0]), float(high[0])


def covered(result: dict, truth: dict, kind: str) -> list[bool]:
    return [
        low <= truth[pair] <= high
        for pair, (low, high) in zip(result["pairs"], result[kind], strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 replications")
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--target", type=float, default=0.07, help="half-width to reach")
    parser.add_argument("--prompts", type=int, default=500, help="prompts in the study")
    args = parser.parse_args()
    replications = 2 if args.quick else args.replications
    truth = true_win_rates()
    rows, coverage = [], {"uniform": [], "adaptive": []}
    anytime_coverage = {"uniform": [], "adaptive": []}
    with temp_dir() as folder:
        template = folder / "template.db"
        build(template, args.prompts)
        for replication in range(replications):
            pools = score_pools(seed=1000 + replication, per_pair=args.prompts)
            results = {}
            for kind in ("uniform", "adaptive"):
                path = folder / f"{kind}-{replication}.db"
                path.write_bytes(template.read_bytes())
                results[kind] = run(path, kind == "adaptive", pools, args.target, replication)
                coverage[kind] += covered(results[kind], truth, "wilson")
                anytime_coverage[kind] += covered(results[kind], truth, "anytime")
                path.unlink()
            uniform, adaptive = results["uniform"]["judgments"], results["adaptive"]["judgments"]
            rows.append(
                [
                    replication,
                    uniform,
                    adaptive,
                    f"{1 - adaptive / uniform:.1%}",
                    results["uniform"]["next_ms"],
                    results["adaptive"]["next_ms"],
                ]
            )
            print(f"  replication {replication}: {rows[-1]}", flush=True)
    print_table(
        f"Judgments until every pair's 95% Wilson half-width <= {args.target}"
        f" (45 pairs, one judgment per comparison, {args.prompts} prompts)",
        [
            "replication",
            "random order",
            "adaptive",
            "saving",
            "next ms, random order",
            "next ms, adaptive",
        ],
        rows,
    )
    uniform_total = sum(r[1] for r in rows)
    adaptive_total = sum(r[2] for r in rows)
    savings = [1 - r[2] / r[1] for r in rows]
    print(
        f"\nsaving: {1 - adaptive_total / uniform_total:.1%} over all replications"
        f" (least {min(savings):.1%}, most {max(savings):.1%}); goal at least 30%"
    )
    for kind in ("uniform", "adaptive"):
        hits = np.array(coverage[kind])
        error = 1.96 * np.sqrt(hits.mean() * (1 - hits.mean()) / hits.size)
        sequence = np.mean(anytime_coverage[kind])
        print(
            f"coverage, {kind}: Wilson {hits.mean():.1%} ± {error:.1%} of {hits.size} pair"
            f" intervals; anytime {sequence:.1%}; goal 95% ± 2 points"
        )
    print(machine())


if __name__ == "__main__":
    main()
