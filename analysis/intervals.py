"""Intervals and tests shared by the reports: Wilson, the sign test, and the cluster bootstrap.

Judgments of one prompt by several annotators are not independent, so the bootstrap resamples
prompts (clusters), not judgments. It works on aggregated counts: resampling n clusters with
replacement picks each cluster a Multinomial(n, 1/n) number of times, so clusters with the same
row of counts (say 2 wins, 1 tie, 0 losses) can be merged and the draw becomes one multinomial over
the few distinct rows, weighted by how often each occurs. That is the textbook bootstrap exactly,
at a cost that does not grow with the number of judgments.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for ``confidence`` (1.96 for 0.95)."""
    _check_confidence(confidence)
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(
    successes: np.ndarray, trials: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for proportions ``successes / trials``, element-wise.

    Unlike the Wald interval it stays inside [0, 1] and keeps near-nominal coverage for small
    samples and rates near 0 or 1, which is where model comparisons often live. ``successes`` may be
    fractional (ties counted as half wins). NaN where ``trials`` is 0.
    """
    z = z_value(confidence)
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        shrink = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / shrink
        half = z / shrink * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low = np.where(k <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(k >= n, 1.0, np.clip(centre + half, 0.0, 1.0))
    empty = n <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def sign_test(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Two-sided exact binomial test of ``successes`` out of ``trials`` against one half.

    The binomial(n, ½) distribution is symmetric, so the two-sided p-value is twice the smaller
    tail, capped at 1. NaN where there are no trials: with every outcome tied there is no evidence
    either way, and a p-value of 1 would pretend there was a test.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    smaller = np.minimum(k, n - k)
    with np.errstate(invalid="ignore"):
        p = np.minimum(1.0, 2 * stats.binom.cdf(smaller, n, 0.5))
    return np.where(n > 0, p, np.nan)


def percentile_interval(
    samples: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of each column of ``samples`` (one row per round)."""
    _check_confidence(confidence)
    tail = (1 - confidence) / 2
    low, high = np.quantile(samples, [tail, 1 - tail], axis=0)
    return low, high


def resampled_totals(
    cluster_rows: np.ndarray, *, rounds: int, rng: np.random.Generator
) -> np.ndarray:
    """Column totals of ``rounds`` cluster-bootstrap resamples, one row per round.

    ``cluster_rows`` holds one row per cluster (prompt) with that cluster's additive counts, e.g.
    wins, ties and losses, or the sum of scores and the number of judgments.
    """
    rows = np.asarray(cluster_rows)
    distinct, frequency = np.unique(rows, axis=0, return_counts=True)
    picks = rng.multinomial(len(rows), frequency / len(rows), size=rounds)
    return picks @ distinct


def cluster_bootstrap_intervals(
    cluster_rows: np.ndarray,
    clusters_per_pair: np.ndarray,
    pairs: Sequence[tuple[str, str]],
    selected: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    rounds: int,
    seed: int,
    confidence: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals per pair from a cluster bootstrap over its prompts.

    ``cluster_rows`` holds one row of additive counts per prompt, grouped by pair in the order of
    ``pairs``; ``clusters_per_pair`` says how many rows each pair has. ``statistic`` turns the
    resampled totals (one row per round) into the statistics (one column each). Rows of pairs not
    ``selected`` are NaN. Each pair draws from its own generator (see ``pair_generator``).
    """
    starts = np.concatenate([[0], np.cumsum(clusters_per_pair)[:-1]])
    lows, highs = {}, {}
    for position in np.flatnonzero(selected):
        block = cluster_rows[starts[position] : starts[position] + clusters_per_pair[position]]
        rng = pair_generator(seed, *pairs[position])
        totals = resampled_totals(block, rounds=rounds, rng=rng)
        lows[position], highs[position] = percentile_interval(statistic(totals), confidence)
    width = len(next(iter(lows.values()))) if lows else 1
    low = np.full((len(pairs), width), np.nan)
    high = np.full((len(pairs), width), np.nan)
    for position in lows:
        low[position], high[position] = lows[position], highs[position]
    return low, high


def check_settings(
    method: str, rounds: int, seed: int, confidence: float, *, closed_form: str = "wilson"
) -> None:
    """Raise a ``ValueError`` naming the first unusable interval setting, before any work.

    ``method`` may be ``"auto"``, ``"cluster_bootstrap"`` or the function's ``closed_form``.
    """
    methods = ("auto", closed_form, "cluster_bootstrap")
    if method not in methods:
        raise ValueError(f"method must be one of {', '.join(methods)}, not {method!r}")
    check_rounds(rounds)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    _check_confidence(confidence)


def bootstrapped_pairs(method: str, judgments: np.ndarray, prompts: np.ndarray) -> np.ndarray:
    """Which pairs get a cluster bootstrap: all when forced, and with ``"auto"`` those where some
    prompt has more than one judgment, so that judgments are not independent."""
    forced = np.full(len(judgments), method == "cluster_bootstrap")
    return forced | ((method == "auto") & (np.asarray(judgments) != np.asarray(prompts)))


def method_columns(
    bootstrapped: np.ndarray, closed_form: str, rounds: int, seed: int
) -> dict[str, pd.api.extensions.ExtensionArray]:
    """The ``method``, ``rounds`` and ``seed`` columns that make each row reproducible.

    ``rounds`` and ``seed`` are missing for rows with the ``closed_form`` interval.
    """
    missing = pd.NA
    return {
        "method": pd.array(np.where(bootstrapped, "cluster_bootstrap", closed_form), dtype="str"),
        "rounds": pd.array([rounds if b else missing for b in bootstrapped], dtype="Int64"),
        "seed": pd.array([seed if b else missing for b in bootstrapped], dtype="Int64"),
    }


def pair_generator(seed: int, model_a: str, model_b: str) -> np.random.Generator:
    """A random generator for one pair, from the report's seed and the two model names.

    Seeding by name keeps a pair's interval the same whichever other pairs or rows the frame
    holds, so a filtered report reproduces the full report's numbers for that pair. The names are
    taken in either order, so turning a pair around does not reseed it.
    """
    names = sorted(zlib.crc32(str(name).encode()) for name in (model_a, model_b))
    return np.random.default_rng([int(seed), *names])


def check_rounds(rounds: int) -> None:
    """Raise a ``ValueError`` unless ``rounds`` is a usable number of bootstrap rounds."""
    if isinstance(rounds, bool) or not isinstance(rounds, int | np.integer) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, not {rounds!r}")


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence!r}")
