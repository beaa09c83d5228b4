"""Graded scores: the strength of a preference, not only its direction.

On a 7-point scale "A slightly better" and "A much better" are both wins, but a report that only
counts wins throws the difference away. This module reports the mean signed score per pair with
an interval, how the judgments spread over the scale, and the table that states how each point of
a scale maps to an outcome, so that readers can see exactly what "win" meant.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from pairwise.scales import Scale

from .frame import (
    PAIR,
    PAIR_AND_PROMPT,
    canonical_pairs,
    outcome_from_score,
    outcome_signs,
    require_columns,
    require_values,
)
from .intervals import (
    MIN_PROMPTS,
    bootstrapped_pairs,
    bounded_wilson,
    check_settings,
    cluster_bootstrap_intervals,
    effective_prompts,
    method_columns,
)

Method = Literal["auto", "t", "cluster_bootstrap"]


def outcome_mapping(scale: int) -> pd.DataFrame:
    """Each point of a ``scale``-point scale: its score for model A, its outcome and its label.

    The labels are the annotator-facing ones with "Response 1" read as model A, from
    "A much better" through "Tie" to "B much better". Printing this next to a report states
    how scores became wins, ties and losses.
    """
    choices = Scale(scale).choices()
    scores = pd.Series([choice.value for choice in choices], name="score")
    labels = [
        choice.label.replace("Response 1", "A").replace("Response 2", "B") for choice in choices
    ]
    return pd.DataFrame({"score": scores, "outcome": outcome_from_score(scores), "label": labels})


def mean_scores(
    frame: pd.DataFrame,
    *,
    method: Method = "auto",
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Mean signed score for model A per pair, with an interval.

    ``method="auto"`` uses the t interval when each prompt of the pair has one judgment and a
    cluster bootstrap over prompts otherwise (as ``rates.pair_rates`` does); ``"t"`` or
    ``"cluster_bootstrap"`` forces one. Intervals lie within the scale (the t interval is clipped
    to it). With fewer than ``MIN_PROMPTS`` prompts (``"auto"``), or where an interval would
    have no width (every score alike), the interval is Wilson's for a mean of values bounded by
    the scale over the prompts' effective number (``intervals.bounded_wilson``), which holds
    whatever the scores' spread; ``method`` then reads ``wilson_prompts`` and ``small_sample``
    marks pairs with fewer than ``MIN_PROMPTS`` prompts. The scale's ends are those of the
    ``scale`` column, or the largest absolute score in the frame without one.

    Means are only comparable within one scale, so a pair judged on several scales is an error.
    Columns: model_a, model_b, scale (when the frame has it), n, n_prompts, mean_score,
    mean_score_ci_low, mean_score_ci_high, method, rounds, seed, small_sample.
    """
    check_settings(method, rounds, seed, confidence, closed_form="t")
    oriented = _graded_frame(frame, needed_by="mean_scores")
    clusters = (
        oriented[PAIR_AND_PROMPT + ["score"]]
        .assign(judgments=1)
        .groupby(PAIR_AND_PROMPT, sort=True, observed=True)
        .sum()
    )
    clusters["squared"] = clusters["judgments"] ** 2
    pairs = clusters.groupby(PAIR, sort=True, observed=True)
    result = pairs["judgments"].sum().to_frame("n")
    result.insert(0, "scale", _scale_per_pair(oriented, result.index))
    result["n_prompts"] = pairs.size()
    result["mean_score"] = pairs["score"].sum() / result["n"]

    n = result["n"].to_numpy(dtype=float)
    mean = result["mean_score"].to_numpy(dtype=float)
    top = _scale_ends(oriented, result["scale"])
    sd = oriented.groupby(PAIR, sort=True, observed=True)["score"].std(ddof=1).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n)
    low = np.clip(mean - half, -top, top)
    high = np.clip(mean + half, -top, top)
    small = result["n_prompts"].to_numpy() < MIN_PROMPTS
    bootstrapped = bootstrapped_pairs(method, result["n"], result["n_prompts"])
    by_prompts = small & (method == "auto")
    bootstrapped &= ~by_prompts
    boot_low, boot_high = cluster_bootstrap_intervals(
        clusters[["score", "judgments"]].to_numpy(dtype=float),
        result["n_prompts"].to_numpy(),
        result.index,
        bootstrapped,
        lambda totals: (totals[:, 0] / totals[:, 1])[:, None],
        rounds=rounds,
        seed=seed,
        confidence=confidence,
    )
    low = np.where(bootstrapped, boot_low[:, 0], low)
    high = np.where(bootstrapped, boot_high[:, 0], high)
    # Few prompts, or no width where the scores leave doubt: Wilson for a bounded mean.
    by_prompts |= ~(high - low > 0)
    prompts = effective_prompts(n, pairs["squared"].sum().to_numpy())
    bounded_low, bounded_high = bounded_wilson(mean, prompts, -top, top, confidence)
    result["mean_score_ci_low"] = np.where(by_prompts, bounded_low, low)
    result["mean_score_ci_high"] = np.where(by_prompts, bounded_high, high)
    bootstrapped &= ~by_prompts
    columns = method_columns(bootstrapped, "t", rounds, seed, over_prompts=by_prompts)
    for column, values in columns.items():
        result[column] = values
    result["small_sample"] = small
    if "scale" not in oriented.columns:
        result = result.drop(columns="scale")
    return result.reset_index()


def score_distribution(frame: pd.DataFrame) -> pd.DataFrame:
    """How each pair's judgments spread over the scale: count and share per score value.

    A mean of 0 can be a sea of ties or a split between "A much better" and "B much better";
    the distribution tells them apart. Every point of the pair's scale is listed (every score
    seen in the frame when it has no ``scale`` column), with a count of 0 where nobody chose it.
    Columns: model_a, model_b, score, count, share.
    """
    oriented = _graded_frame(frame, needed_by="score_distribution")
    counts = (
        oriented.groupby(PAIR + ["score"], sort=True, observed=True).size().unstack(fill_value=0)
    )
    scales = _scale_per_pair(oriented, counts.index)
    points_of = {int(scale): set(Scale(int(scale)).values) for scale in scales.dropna().unique()}
    points = set(counts.columns).union(*points_of.values())
    counts = counts.reindex(columns=sorted(points, reverse=True), fill_value=0)
    long = counts.stack().rename("count").reset_index()
    pair_scale = scales.reindex(pd.MultiIndex.from_frame(long[PAIR])).to_numpy()
    off_scale = [
        not pd.isna(scale) and score not in points_of[int(scale)]
        for score, scale in zip(long["score"], pair_scale, strict=True)
    ]
    long = long[(long["count"] > 0).to_numpy() | ~np.asarray(off_scale, dtype=bool)]
    long["share"] = long["count"] / long.groupby(PAIR, observed=True)["count"].transform("sum")
    return long.reset_index(drop=True)


def _graded_frame(frame: pd.DataFrame, *, needed_by: str) -> pd.DataFrame:
    """``frame`` with checked numeric scores, its pairs in canonical orientation."""
    require_columns(frame, PAIR_AND_PROMPT + ["score"], needed_by=needed_by)
    require_values(frame, PAIR_AND_PROMPT, needed_by=needed_by)
    outcome_signs(frame)  # raises on missing or non-numeric scores, or outcomes that disagree
    return canonical_pairs(frame)


def _scale_ends(oriented: pd.DataFrame, scales: pd.Series) -> np.ndarray:
    """The largest score of each pair's scale (3 on the 7-point scale); without a ``scale``
    column, the largest absolute score in the frame (at least 1)."""
    if scales.isna().all():
        observed = float(np.abs(pd.to_numeric(oriented["score"])).max()) if len(oriented) else 1
        return np.full(len(scales), max(1.0, observed))
    return np.array([max(Scale(int(s)).values) for s in scales], dtype=float)


def _scale_per_pair(oriented: pd.DataFrame, pairs: pd.MultiIndex) -> pd.Series:
    """The one scale each pair was judged on (NaN without a ``scale`` column)."""
    if "scale" not in oriented.columns:
        return pd.Series(pd.NA, index=pairs, name="scale", dtype="Int64")
    scales = oriented.groupby(PAIR, sort=True, observed=True)["scale"].agg(["min", "max"])
    mixed = scales[scales["min"] != scales["max"]]
    if len(mixed):
        (model_a, model_b), low, high = mixed.index[0], mixed["min"].iloc[0], mixed["max"].iloc[0]
        raise ValueError(
            f"pair {model_a!r} vs {model_b!r} was judged on more than one scale ({low}- and "
            f"{high}-point); scores only compare within one scale, so filter by study or scale"
        )
    return scales["min"].reindex(pairs).astype("Int64").rename("scale")
