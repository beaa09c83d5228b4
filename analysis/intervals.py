"""Intervals and tests shared by the reports: Wilson, the sign test, and the cluster bootstrap.

Judgments of one prompt by several annotators are not independent, so the bootstrap resamples
prompts (clusters), not judgments. It works on aggregated counts: resampling n clusters with
replacement picks each cluster a Multinomial(n, 1/n) number of times, so clusters with the same
row of counts (say 2 wins, 1 tie, 0 losses) can be merged and the draw becomes one multinomial over
the few distinct rows, weighted by how often each occurs. That is the textbook bootstrap exactly,
at a cost that does not grow with the number of judgments.

A multinomial costs a binomial draw per distinct row and round. When most clusters have a row of
their own (prompts with many judgments each), drawing n cluster numbers per round is several times
cheaper and is the textbook bootstrap too; each resample takes whichever way costs less.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

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


MIN_PROMPTS = 20
"""Fewest prompts for which a pair's interval comes from the bootstrap (or a t interval): below,
a bootstrap over a handful of clusters has too few distinct resamples to find its tails, so the
intervals come from Wilson over the prompts (see :func:`effective_prompts`) and every output
marks the row ``small_sample``."""


def expanded_tail(confidence: float, clusters: int | np.ndarray) -> np.ndarray:
    """The tail share of the *expanded* percentile interval over ``clusters`` resampled units.

    A percentile bootstrap of a mean over n units is as narrow as a normal interval with the
    plug-in variance, which is too small by (n - 1) / n and ignores the t distribution's wider
    quantiles; on 50 prompts a 95% interval covers about 94%. Hesterberg (2015, "What teachers
    should know about the bootstrap", The American Statistician 69(4): 371-386) widens it
    by taking the percentiles at the tail share whose normal quantile is
    ``sqrt(n / (n - 1)) * t_{n-1}``: 1.6% instead of 2.5% on 20 prompts, 2.1% on 50, 2.4% on
    200. Fewer than two clusters leave nothing to widen with, and get the plain tail.
    """
    _check_confidence(confidence)
    tail = (1 - confidence) / 2
    n = np.asarray(clusters, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.sqrt(n / (n - 1)) * stats.t.ppf(1 - tail, n - 1)
    return np.where(n >= 2, stats.norm.sf(z), tail)


def percentile_interval(
    samples: np.ndarray, confidence: float = 0.95, *, clusters: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of each column of ``samples`` (one row per round).

    With ``clusters`` (the number of units each resample drew) the interval is Hesterberg's
    expanded percentile interval (see :func:`expanded_tail`), for small samples.
    """
    _check_confidence(confidence)
    tail = (1 - confidence) / 2 if clusters is None else float(expanded_tail(confidence, clusters))
    low, high = np.quantile(samples, [tail, 1 - tail], axis=0)
    return low, high


def effective_prompts(judgments: np.ndarray, squared: np.ndarray) -> np.ndarray:
    """Kish's effective sample size ``(sum m)^2 / sum m^2`` of prompts with m judgments each.

    ``judgments`` and ``squared`` are per pair the sum of m and of m squared over its prompts.
    When the judgments of a prompt all agree (the worst case of correlation), a rate or mean over
    the pair is a weighted mean of one value per prompt, whose variance is exactly that of
    this many independent observations; any weaker correlation gives more information. So an
    interval that treats the data as this many independent draws holds whatever the correlation
    between annotators. It is the number of prompts when every prompt has as many judgments.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(judgments, dtype=float) ** 2 / np.asarray(squared, dtype=float)


def bounded_wilson(
    means: np.ndarray,
    trials: np.ndarray,
    lowest: np.ndarray | float,
    highest: np.ndarray | float,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson intervals for means of values bounded in [``lowest``, ``highest``], element-wise.

    A value in [0, 1] with mean p has variance at most p (1 - p), the variance of a coin with
    that mean; so the Wilson interval of the rescaled mean over ``trials`` observations holds
    for any such values (conservatively for values that spread less than a coin). The interval
    lies within the bounds, and has width whenever ``trials`` is positive.
    """
    span = np.asarray(highest, dtype=float) - np.asarray(lowest, dtype=float)
    share = (np.asarray(means, dtype=float) - lowest) / span
    low, high = wilson_interval(share * trials, trials, confidence)
    return lowest + low * span, lowest + high * span


def resampled_totals(
    cluster_rows: np.ndarray, *, rounds: int, rng: np.random.Generator
) -> np.ndarray:
    """Column totals of ``rounds`` cluster-bootstrap resamples, one row per round.

    ``cluster_rows`` holds one row per cluster (prompt) with that cluster's additive counts, e.g.
    wins, ties and losses, or the sum of scores and the number of judgments.
    """
    rows = np.asarray(cluster_rows)
    _, distinct, frequency = distinct_rows(rows, np.zeros(len(rows), dtype=np.int64))
    return _draw_totals(distinct, frequency, rounds, rng)


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
    """Expanded percentile intervals per pair from a cluster bootstrap over its prompts.

    ``cluster_rows`` holds one row of additive counts per prompt, grouped by pair in the order of
    ``pairs``; ``clusters_per_pair`` says how many rows each pair has. ``statistic`` turns the
    resampled totals (one row per round) into the statistics (one column each). Rows of pairs not
    ``selected`` are NaN. Each pair draws from its own generator (see ``pair_generator``).
    """
    pair_of_row = np.repeat(np.arange(len(pairs)), clusters_per_pair)
    chosen = np.asarray(selected)[pair_of_row]
    pair_of_distinct, distinct, frequency = distinct_rows(
        np.asarray(cluster_rows)[chosen], pair_of_row[chosen]
    )
    bounds = np.searchsorted(pair_of_distinct, np.arange(len(pairs) + 1))

    def interval(position: int) -> tuple[np.ndarray, np.ndarray]:
        block = slice(bounds[position], bounds[position + 1])
        rng = pair_generator(seed, *pairs[position])
        totals = _draw_totals(distinct[block], frequency[block], rounds, rng)
        clusters = int(frequency[block].sum())
        return percentile_interval(statistic(totals), confidence, clusters=clusters)

    positions = np.flatnonzero(selected)
    # numpy draws without holding the GIL, and each pair has its own generator, so threads
    # share the work without changing a single number.
    with ThreadPoolExecutor(max_workers=_available_cores()) as pool:
        intervals = list(pool.map(interval, positions))
    width = len(intervals[0][0]) if intervals else 1
    low = np.full((len(pairs), width), np.nan)
    high = np.full((len(pairs), width), np.nan)
    for position, (pair_low, pair_high) in zip(positions, intervals, strict=True):
        low[position], high[position] = pair_low, pair_high
    return low, high


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def distinct_rows(rows: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows within each group and how often each occurs, sorted by group.

    Returns (group of each distinct row, the distinct rows, their frequencies). Whole-number rows,
    the usual case, are packed into one integer key so that a single fast sort finds them all.
    """
    rows = np.asarray(rows)
    group = np.asarray(group, dtype=np.int64)
    if rows.size and np.issubdtype(rows.dtype, np.floating) and np.all(rows == np.round(rows)):
        rows = rows.astype(np.int64)
    packable = rows.size and np.issubdtype(rows.dtype, np.integer)
    if packable:
        low = rows.min(axis=0)
        span = rows.max(axis=0) - low + 1
        packable = (group.max() + 1) * np.prod(span.astype(float)) < 2**62
    if not packable:
        keyed, frequency = np.unique(np.column_stack([group, rows]), axis=0, return_counts=True)
        return keyed[:, 0].astype(np.int64), keyed[:, 1:], frequency
    key = group.copy()
    for column in range(rows.shape[1]):
        key = key * span[column] + (rows[:, column] - low[column])
    keys, frequency = np.unique(key, return_counts=True)
    distinct = np.empty((len(keys), rows.shape[1]), dtype=np.int64)
    for column in reversed(range(rows.shape[1])):
        keys, distinct[:, column] = np.divmod(keys, span[column])
    return keys, distinct + low, frequency


def _draw_totals(
    distinct: np.ndarray, frequency: np.ndarray, rounds: int, rng: np.random.Generator
) -> np.ndarray:
    """Totals of resamples of ``frequency.sum()`` clusters, drawn the cheaper of two exact ways.

    The choice depends only on the rows and their frequencies, so the seed alone fixes the result.
    """
    clusters = int(frequency.sum())
    packing = _packing(distinct, clusters)
    if packing is not None and _picking_is_cheaper(frequency):
        return _draw_by_picking(distinct, frequency, packing, rounds, rng)
    picks = rng.multinomial(clusters, frequency / clusters, size=rounds)
    return picks @ distinct


# Nanoseconds per round, measured with numpy 2 on x86-64: a binomial draw per distinct row, plus a
# step per expected pick of that row up to where numpy's binomial turns to a constant-time method;
# against a uniform integer, a look-up and an addition per cluster.
_BINOMIAL_NS = 45.0
_BINOMIAL_STEP_NS = 3.0
_BINOMIAL_STEPS = 30
_PICK_NS = 3.5
# Cluster numbers drawn at a time: a few MB of scratch whatever the number of clusters.
_PICKS_PER_CHUNK = 2**18


def _picking_is_cheaper(frequency: np.ndarray) -> bool:
    """Whether drawing cluster numbers beats a multinomial over the distinct rows."""
    steps = np.minimum(frequency, _BINOMIAL_STEPS).sum()
    multinomial = len(frequency) * _BINOMIAL_NS + steps * _BINOMIAL_STEP_NS
    return frequency.sum() * _PICK_NS < multinomial


def _packing(distinct: np.ndarray, clusters: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(lowest value, bit width) per column when a round's column totals, less the lowest values,
    fit side by side in one 63-bit integer, so that a resample sums one number per cluster."""
    if not np.issubdtype(distinct.dtype, np.integer) or not distinct.size:
        return None
    low = distinct.min(axis=0).astype(np.int64)
    spans = distinct.max(axis=0) - low
    widths = np.array([int(clusters * int(span)).bit_length() for span in spans], dtype=np.int64)
    return (low, widths) if widths.sum() <= 62 else None


def _draw_by_picking(
    distinct: np.ndarray,
    frequency: np.ndarray,
    packing: tuple[np.ndarray, np.ndarray],
    rounds: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Totals of resamples drawn as ``clusters`` uniform cluster numbers per round.

    Each cluster's row, less the lowest values, is packed into one integer with a field of
    ``width`` bits per column, wide enough for that column's total, so that a round's sum holds
    every column total without carries.
    """
    low, widths = packing
    offsets = np.cumsum(widths) - widths
    clusters = int(frequency.sum())
    packed = np.repeat(((distinct - low) << offsets).sum(axis=1), frequency)
    index_type = np.uint16 if clusters <= 2**16 else np.uint32 if clusters <= 2**32 else np.int64
    per_chunk = max(1, _PICKS_PER_CHUNK // clusters)
    sums = np.empty(rounds, dtype=np.int64)
    for start in range(0, rounds, per_chunk):
        size = min(per_chunk, rounds - start)
        picks = rng.integers(0, clusters, size=(size, clusters), dtype=index_type)
        sums[start : start + size] = packed[picks].sum(axis=1)
    fields = (sums[:, None] >> offsets) & ((np.int64(1) << widths) - 1)
    return fields + clusters * low


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


SMALL_SAMPLE_METHOD = "wilson_prompts"
"""The method named in rows whose interval is Wilson over the prompts (see ``MIN_PROMPTS``)."""


def method_columns(
    bootstrapped: np.ndarray,
    closed_form: str,
    rounds: int,
    seed: int,
    *,
    over_prompts: np.ndarray | None = None,
) -> dict[str, pd.api.extensions.ExtensionArray]:
    """The ``method``, ``rounds`` and ``seed`` columns that make each row reproducible.

    ``rounds`` and ``seed`` are missing for rows with the ``closed_form`` interval, or with
    Wilson over prompts (``over_prompts``, for small samples).
    """
    missing = pd.NA
    names = np.where(bootstrapped, "cluster_bootstrap", closed_form)
    if over_prompts is not None:
        names = np.where(over_prompts, SMALL_SAMPLE_METHOD, names)
    return {
        "method": pd.array(names, dtype="str"),
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
