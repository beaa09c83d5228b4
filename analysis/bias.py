"""Bias checks: do judgments follow the side shown, the length of a response, or the annotator?

Human preferences carry known biases: the response shown first (left) tends to be preferred, and
so does the longer one, and some annotators call far more ties than others. A win rate is only as
good as the study's defence against them, so the report shows each one with an interval and a test.

Position and length preferences are computed as a pair report between two pseudo-models (the
favoured side and the other) over the judgments that had a winner, so they get the same intervals
as win rates: Wilson when each prompt has one judgment, otherwise a bootstrap over prompts; and the
sign test over prompts. With one judgment per prompt that is the binomial test against one half on
non-tied judgments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .breakdown import breakdown
from .frame import (
    cell,
    describe_row,
    outcome_signs,
    require_columns,
    require_outcomes,
    require_values,
)
from .intervals import check_settings, sign_test, wilson_interval
from .rates import Method, pair_rates

LENGTH_EDGES = (0.0, 0.1, 0.25, 0.5, 1.0)
SHOWN_ORDERS = ("AB", "BA")


@dataclass(frozen=True)
class Preference:
    """How often the ``favoured`` side won among the judgments that had a winner.

    ``share`` is ``wins / n``; a share of 0.5 means no preference. ``p_value`` is the two-sided
    sign test against 0.5; ``method``, ``rounds`` and ``seed`` record how the interval was made.
    """

    favoured: str
    n: int
    n_prompts: int
    wins: int
    share: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str
    rounds: int | None
    seed: int | None
    small_sample: bool = False
    """Fewer than ``MIN_PROMPTS`` prompts: the interval is Wilson over prompts; read with care."""
    unknown_side: int = 0
    """Judgments left out because the side each response was shown on is unknown (position check:
    judgments imported without ``shown_order``)."""


def position_preference(
    frame: pd.DataFrame,
    *,
    method: Method = "auto",
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Preference:
    """Share of non-tied judgments won by the response shown on the left (Response 1).

    A share well above one half means annotators favour whatever comes first, and that the study
    needs (as the app does) to randomise the side each model is shown on. Needs ``shown_order``;
    judgments whose shown order is missing (imported without it) are left out, never guessed,
    and counted in ``unknown_side``.
    """
    require_columns(frame, ["prompt_id", "shown_order"], needed_by="position_preference")
    left = _a_shown_left(frame)
    favoured = _favoured_judgments(frame, left, needed_by="position_preference")
    found = _preference("left-shown response", favoured, method, rounds, seed, confidence)
    return replace(found, unknown_side=int((left == 0).sum()))


def length_preference(
    frame: pd.DataFrame,
    *,
    method: Method = "auto",
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Preference:
    """Share of non-tied judgments won by the longer response (equal lengths left out).

    Annotators and automatic judges alike tend to reward length; a share well above one half says
    a win rate may partly measure verbosity. Needs ``len_a`` and ``len_b``.
    """
    require_columns(frame, ["prompt_id", "len_a", "len_b"], needed_by="length_preference")
    longer = _a_longer(frame)
    favoured = _favoured_judgments(frame, longer, needed_by="length_preference")
    return _preference("longer response", favoured, method, rounds, seed, confidence)


def length_buckets(
    frame: pd.DataFrame,
    *,
    edges: Sequence[float] = LENGTH_EDGES,
    method: Method = "auto",
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Win, tie and loss rates of the longer response by how much longer it is.

    The relative difference is ``(longer - shorter) / shorter``; buckets run from each edge up to
    (not including) the next, the last one open-ended, labelled like ``"10%–25%"`` and ``"≥100%"``.
    A length bias shows as a win rate that climbs with the difference. Judgments with equal
    lengths are left out. The columns are those of ``pair_rates`` for the longer response, with
    ``length_bucket`` in front instead of the model names.
    """
    require_columns(frame, ["prompt_id", "len_a", "len_b"], needed_by="length_buckets")
    check_settings(method, rounds, seed, confidence)
    if list(edges) != sorted(set(edges)) or not edges or edges[0] != 0:
        raise ValueError(f"edges must start at 0 and increase, not {tuple(edges)!r}")
    longer = _a_longer(frame)
    len_a, len_b = _lengths(frame)
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = np.abs(len_a - len_b) / np.minimum(len_a, len_b)
    difference[np.isinf(difference)] = np.finfo(float).max  # against an empty response
    labels = [f"{low:.0%}–{high:.0%}" for low, high in zip(edges[:-1], edges[1:], strict=False)]
    labels.append(f"≥{edges[-1]:.0%}")
    bucket = pd.cut(difference, [*edges, np.inf], right=False, labels=labels)
    judgments = _favoured_judgments(frame, longer, keep_ties=True, needed_by="length_buckets")
    judgments["length_bucket"] = bucket[longer != 0]
    rates = breakdown(
        judgments,
        "length_bucket",
        method=method,
        rounds=rounds,
        seed=seed,
        confidence=confidence,
    )
    return rates.drop(columns=["model_a", "model_b"])


def annotator_summary(frame: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per annotator: how many judgments, how often a tie, how often the left side, how fast.

    An annotator who ties far more than the others, or who picks the left response far more than
    half the time, or who answers in a few seconds, is worth a look before their judgments count.
    Columns: annotator, n, ties, tie_rate (with Wilson interval), decided, left_decided (the
    decided judgments whose shown side is known), left_wins, left_win_share (of left_decided,
    with Wilson interval), left_p_value (sign test against one half), mean_seconds. Each
    annotator judges a comparison once, so their judgments are taken as independent.
    """
    require_columns(frame, ["annotator", "shown_order", "seconds"], needed_by="annotator_summary")
    require_values(frame, ["annotator"], needed_by="annotator_summary")
    require_outcomes(frame, needed_by="annotator_summary")
    signs = outcome_signs(frame)
    left = _a_shown_left(frame)
    per_judgment = pd.DataFrame(
        {
            "annotator": frame["annotator"].to_numpy(),
            "n": 1,
            "ties": signs == 0,
            "decided": signs != 0,
            "left_decided": (signs != 0) & (left != 0),
            "left_wins": signs * left > 0,
            "seconds": pd.to_numeric(frame["seconds"], errors="coerce").to_numpy(),
        }
    )
    grouped = per_judgment.groupby("annotator", sort=True)
    counts = ["n", "ties", "decided", "left_decided", "left_wins"]
    summary = grouped[counts].sum().astype(np.int64)
    summary["mean_seconds"] = grouped["seconds"].mean()
    for share, count, total in (
        ("tie_rate", "ties", "n"),
        ("left_win_share", "left_wins", "left_decided"),
    ):
        with np.errstate(divide="ignore", invalid="ignore"):
            summary[share] = summary[count] / summary[total]
        low, high = wilson_interval(summary[count], summary[total], confidence)
        summary[f"{share}_ci_low"], summary[f"{share}_ci_high"] = low, high
    summary["left_p_value"] = sign_test(summary["left_wins"], summary["left_decided"])
    order = ["n", "ties", "tie_rate", "tie_rate_ci_low", "tie_rate_ci_high", "decided"]
    order += ["left_decided"]
    order += ["left_wins", "left_win_share", "left_win_share_ci_low", "left_win_share_ci_high"]
    order += ["left_p_value", "mean_seconds"]
    return summary[order].reset_index()


def _preference(
    favoured: str,
    judgments: pd.DataFrame,
    method: Method,
    rounds: int,
    seed: int,
    confidence: float,
) -> Preference:
    rates = pair_rates(judgments, method=method, rounds=rounds, seed=seed, confidence=confidence)
    if rates.empty:
        nan = float("nan")
        return Preference(favoured, 0, 0, 0, nan, nan, nan, nan, "none", None, None)
    row = rates.iloc[0]
    return Preference(
        favoured=favoured,
        n=int(row["n"]),
        n_prompts=int(row["n_prompts"]),
        wins=int(row["wins"]),
        share=float(row["win_rate"]),
        ci_low=float(row["win_rate_ci_low"]),
        ci_high=float(row["win_rate_ci_high"]),
        p_value=float(row["p_value"]),
        method=str(row["method"]),
        rounds=None if pd.isna(row["rounds"]) else int(row["rounds"]),
        seed=None if pd.isna(row["seed"]) else int(row["seed"]),
        small_sample=bool(row["small_sample"]),
    )


def _favoured_judgments(
    frame: pd.DataFrame, toward_a: np.ndarray, *, needed_by: str, keep_ties: bool = False
) -> pd.DataFrame:
    """Judgments restated as a pair "favoured" vs "other", scored +1 when the favoured side won.

    ``toward_a`` is +1 where model A is on the favoured side, -1 where B is and 0 where neither
    is (those rows are left out), as are ties unless ``keep_ties``.
    """
    require_values(frame, ["prompt_id"], needed_by=needed_by)
    require_outcomes(frame, needed_by=needed_by)
    score = outcome_signs(frame) * toward_a
    keep = (toward_a != 0) & ((score != 0) | keep_ties)
    kept = int(keep.sum())
    # Both sides as codes of one categorical, so that orienting the pair reads no strings.
    side = pd.CategoricalDtype(["favoured", "other"])
    return pd.DataFrame(
        {
            "prompt_id": frame["prompt_id"].array[keep],
            "model_a": pd.Categorical.from_codes(np.zeros(kept, dtype=np.int8), dtype=side),
            "model_b": pd.Categorical.from_codes(np.ones(kept, dtype=np.int8), dtype=side),
            "score": score[keep],
        }
    )


def _a_shown_left(frame: pd.DataFrame) -> np.ndarray:
    """+1 where model A was shown on the left, -1 where on the right, 0 where the side is unknown
    (missing ``shown_order``: judgments imported without it), so that they are left out."""
    order = frame["shown_order"]
    known = order.notna().to_numpy()
    bad = np.flatnonzero(known & ~order.isin(SHOWN_ORDERS).to_numpy())
    if bad.size:
        raise ValueError(
            f"{describe_row(frame, bad[0])}: shown_order is {cell(frame, 'shown_order', bad[0])!r}; "
            "expected 'AB' (model A shown left) or 'BA'"
        )
    return np.where(known, np.where((order == "AB").to_numpy(), 1, -1), 0).astype(np.int8)


def _a_longer(frame: pd.DataFrame) -> np.ndarray:
    """+1 where model A's response is longer, -1 where B's is, 0 where they are equally long."""
    len_a, len_b = _lengths(frame)
    return np.sign(len_a - len_b).astype(np.int8)


def _lengths(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    lengths = []
    for column in ("len_a", "len_b"):
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        bad = np.flatnonzero(~(values >= 0))
        if bad.size:
            raise ValueError(
                f"{describe_row(frame, bad[0])}: {column} is {cell(frame, column, bad[0])!r}; "
                "it must be a character count of 0 or more"
            )
        lengths.append(values)
    return lengths[0], lengths[1]
