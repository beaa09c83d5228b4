"""How often a watched interval errs: the anytime-valid sequence against the fixed-size interval.

Many runs of a study whose true win rate is known, looked at after every prompt up to 2,000
prompts. For each run: did the anytime-valid confidence sequence (``analysis.anytime``) ever
exclude the true rate, and did the fixed-size interval, checked the same way, ever exclude it?
Also the final look alone, where both should err about 5% of the time or less. Three designs: one
judgment per prompt at a true rate of 50% (the fixed interval is Wilson's, as in the reports);
three alike judgments per prompt (each prompt's chance from a Beta(2, 2), true rate 50%; the fixed
interval shown is Wilson's on all judgments, which ignores that they are alike, so it errs even at
the last look: the reports use the cluster bootstrap there); and one judgment per prompt at a true
rate of 80%. The tests run smaller versions of these.

    python benchmarks/validate_anytime.py            # 4,000 runs per design
    python benchmarks/validate_anytime.py --quick    # 400 runs
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from _common import print_table

from analysis.anytime import log_wealth
from analysis.intervals import wilson_interval

PROMPTS = 2000
ALPHA = 0.05


def design(name: str, runs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """(wins, judgments) per run and prompt, and the true per-judgment win rate."""
    if name == "one judgment, 50%":
        wins = (rng.random((runs, PROMPTS)) < 0.5).astype(float)
        return wins, np.ones_like(wins), 0.5
    if name == "three alike judgments, 50%":
        chance = rng.beta(2.0, 2.0, (runs, PROMPTS))
        wins = rng.binomial(3, chance).astype(float)
        return wins, np.full_like(wins, 3.0), 0.5
    wins = (rng.random((runs, PROMPTS)) < 0.8).astype(float)
    return wins, np.ones_like(wins), 0.8


def error_rates(wins: np.ndarray, judgments: np.ndarray, truth: float) -> dict[str, float]:
    threshold = math.log(1 / ALPHA)
    wealth = np.concatenate(
        [
            log_wealth(wins[i : i + 200], judgments[i : i + 200], truth)
            for i in range(0, len(wins), 200)
        ]
    )
    so_far = np.cumsum(wins, axis=1)
    seen = np.cumsum(judgments, axis=1)
    low, high = wilson_interval(so_far, seen)
    fixed_out = (low > truth) | (high < truth)
    return {
        "anytime, ever": float((wealth >= threshold).any(axis=1).mean()),
        "fixed, ever": float(fixed_out.any(axis=1).mean()),
        "anytime, last look": float((wealth[:, -1] >= threshold).mean()),
        "fixed, last look": float(fixed_out[:, -1].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="400 runs per design")
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    runs = 400 if args.quick else args.runs
    rng = np.random.default_rng(args.seed)
    rows = []
    for name in ("one judgment, 50%", "three alike judgments, 50%", "one judgment, 80%"):
        began = time.perf_counter()
        wins, judgments, truth = design(name, runs, rng)
        rates = error_rates(wins, judgments, truth)
        error = 1.96 * math.sqrt(ALPHA * (1 - ALPHA) / runs)
        rows.append([name, runs, *(f"{rates[k]:.1%}" for k in rates), f"±{error:.1%}"])
        print(f"  {name}: {rates} ({time.perf_counter() - began:.1f} s)", flush=True)
    print_table(
        f"Share of runs in which the interval ever excluded the true rate, looked at after every"
        f" prompt up to {PROMPTS:,} prompts (and at the last look only)",
        [
            "design",
            "runs",
            "anytime, ever",
            "fixed, ever",
            "anytime, last look",
            "fixed, last look",
            "Monte Carlo ±, at 5%",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
