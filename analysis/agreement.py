"""How much annotators agree when a comparison has several judgments.

A win rate is only as trustworthy as the judgments behind it; agreement coefficients say how much
of the annotators' agreement exceeds what chance would give. Reports differ in which one they quote
(MT-Bench: pairwise agreement; Llama 2: Gwet's AC2), so all the usual ones are here, computed from
one item x category count table.

An item is a comparison (``comparison_id``; without that column, a prompt and its pair of models).
Raters are annotators, and the rated value is the ordinal ``score`` or the ``outcome`` (loss < tie <
win). Categories are the points of the study's scale when the frame has a ``scale`` column (so that
unused points still count for chance agreement, as Gwet prescribes), else the scores observed; for
outcomes they are loss, tie and win (loss and win on a two-point scale).

Notation: ``n`` items, ``q`` categories with values ``x_1 < ... < x_q``, ``r_ik`` ratings of item
``i`` in category ``k``, ``r_i = sum_k r_ik``, agreement weights ``w_kl`` (1 on the diagonal):

- identity ``w_kl = [k = l]``; linear ``1 - |x_k - x_l| / (x_q - x_1)``; quadratic
  ``1 - (x_k - x_l)^2 / (x_q - x_1)^2``; ordinal (Gwet) ``1 - C(|k - l| + 1, 2) / C(q, 2)``, on ranks.
- Weighted percent agreement over the ``n'`` items with two or more ratings:
  ``pa = (1/n') sum_i sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1))`` with ``r*_ik = sum_l w_kl r_il``.
- Category shares ``pi_k = (1/n) sum_i r_ik / r_i`` over all rated items.
- Fleiss' kappa: ``pe = sum_kl w_kl pi_k pi_l``; Gwet's AC1 (identity weights) and AC2 (other
  weights): ``pe = T_w / (q (q - 1)) * sum_k pi_k (1 - pi_k)`` with ``T_w = sum_kl w_kl``; each
  coefficient is ``(pa - pe) / (1 - pe)``. Items rated by varying numbers of raters are handled as in
  Gwet's "Handbook of Inter-Rater Reliability" (and the irrCAC package); with the same number of
  raters on every item, Fleiss' kappa is Fleiss' (1971).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Literal

import numpy as np
import pandas as pd

from pairwise.scales import Scale

from .frame import canonical_pairs, describe_row, outcome_signs, require_columns

On = Literal["score", "outcome"]
Weights = Literal["identity", "linear", "quadratic", "ordinal"]
Level = Literal["nominal", "ordinal", "interval"]
ONS: tuple[On, ...] = ("score", "outcome")
WEIGHTS: tuple[Weights, ...] = ("identity", "linear", "quadratic", "ordinal")
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval")


@dataclass(frozen=True)
class Agreement:
    """One agreement coefficient and what it was computed on.

    ``n_items`` and ``n_ratings`` count the items and ratings that entered this coefficient (for
    example, only items with two or more ratings give pairs).
    """

    method: str
    value: float
    n_items: int
    n_ratings: int
    on: On
    categories: tuple[int, ...]


@dataclass(frozen=True)
class _Items:
    """Each judgment's item (comparison) and annotator code, from a checked frame."""

    frame: pd.DataFrame
    item: np.ndarray
    rater: np.ndarray | None
    raters: pd.Index | None


@dataclass(frozen=True)
class _Table:
    """Ratings as an item x category count matrix, with each rating's item, category and rater."""

    counts: np.ndarray
    categories: np.ndarray
    on: On
    items: _Items
    category: np.ndarray


def pairwise_agreement(frame: pd.DataFrame, *, ties: bool = True) -> Agreement:
    """Share of pairs of judgments on the same comparison that agree on the outcome.

    As the MT-Bench paper reports human agreement: every pair of judgments of one comparison (by
    two annotators) counts once, and agrees when both say win, both tie or both loss. ``ties=False``
    keeps only the pairs where neither judgment is a tie. Chance level is 1/3 with ties and 1/2
    without when outcomes are uniform.
    """
    return _pairwise(_table(frame, "outcome", needed_by="pairwise_agreement"), ties)


def cohens_kappa(
    frame: pd.DataFrame,
    rater_a: str,
    rater_b: str,
    *,
    weights: Weights = "identity",
    on: On = "score",
) -> Agreement:
    """Cohen's kappa between two annotators, on the comparisons both judged.

    ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_o = sum_kl w_kl p_kl`` from the two raters' joint
    table and ``p_e = sum_kl w_kl p_k. p_.l`` from its margins; linear or quadratic weights give
    weighted kappa, for ordinal scores where near misses should count.
    """
    _check_choice("weights", weights, WEIGHTS)
    require_columns(frame, ["annotator"], needed_by="cohens_kappa")
    return _cohen(_table(frame, on, needed_by="cohens_kappa"), rater_a, rater_b, weights)


def fleiss_kappa(
    frame: pd.DataFrame, *, weights: Weights = "identity", on: On = "score"
) -> Agreement:
    """Fleiss' kappa: agreement among any number of annotators, chance from the category shares.

    Items may have different numbers of ratings (see the module notes for the formulas); with a
    constant number it is Fleiss' (1971) kappa.
    """
    _check_choice("weights", weights, WEIGHTS)
    return _fleiss(_table(frame, on, needed_by="fleiss_kappa"), weights)


def gwet_ac(frame: pd.DataFrame, *, weights: Weights = "identity", on: On = "score") -> Agreement:
    """Gwet's AC1 (identity weights) or AC2 (other weights, "ordinal" as in Llama 2's report).

    Unlike kappa, its chance agreement does not collapse when nearly all ratings fall in one
    category, the usual case when one model is clearly better (the "kappa paradox").
    """
    _check_choice("weights", weights, WEIGHTS)
    return _gwet(_table(frame, on, needed_by="gwet_ac"), weights)


def krippendorff_alpha(
    frame: pd.DataFrame, *, level: Level = "ordinal", on: On = "score"
) -> Agreement:
    """Krippendorff's alpha, ``1 - D_o / D_e``, from the coincidence matrix of pairable values.

    ``o_ck = sum_u (number of c-k pairs of ratings in item u) / (m_u - 1)`` over items with
    ``m_u >= 2`` ratings; with ``n_c = sum_k o_ck`` and ``n = sum_c n_c``, alpha is
    ``1 - (n - 1) sum o_ck d_ck / sum n_c n_k d_ck``. The distance ``d_ck`` is ``[c != k]``
    (nominal), ``(x_c - x_k)^2`` (interval) or ``(sum_{g=c..k} n_g - (n_c + n_k) / 2)^2`` (ordinal).
    """
    _check_choice("level", level, LEVELS)
    return _alpha(_table(frame, on, needed_by="krippendorff_alpha"), level)


def agreement_summary(frame: pd.DataFrame, *, on: On = "score") -> pd.DataFrame:
    """Every coefficient in one table: method, on, value, n_items, n_ratings.

    Pairwise agreement is always on outcomes (as MT-Bench defines it); the other coefficients are
    on ``on``. Cohen's kappa is included when exactly two annotators judged. The frame is checked
    and counted once for all of them.
    """
    _check_choice("on", on, ONS)
    items = _items(frame, needed_by="agreement_summary")
    rated = _count(items, on)
    outcomes = rated if on == "outcome" else _count(items, "outcome")
    results = [
        _pairwise(outcomes, ties=True),
        _pairwise(outcomes, ties=False),
        _fleiss(rated, "identity"),
        _alpha(rated, "nominal"),
        _alpha(rated, "ordinal"),
        _gwet(rated, "identity"),
        _gwet(rated, "ordinal"),
    ]
    if items.raters is not None and len(items.raters) == 2:
        results.append(_cohen(rated, *items.raters, "identity"))
    columns = ["method", "on", "value", "n_items", "n_ratings"]
    return pd.DataFrame([[getattr(r, c) for c in columns] for r in results], columns=columns)


def _pairwise(table: _Table, ties: bool) -> Agreement:
    counts = table.counts if ties else table.counts[:, table.categories != 0]
    per_item = counts.sum(axis=1)
    pairs = per_item * (per_item - 1) / 2
    agreeing = (counts * (counts - 1) / 2).sum(axis=1)
    paired = per_item >= 2
    value = agreeing.sum() / pairs.sum() if paired.any() else np.nan
    method = "pairwise agreement" + (" (with ties)" if ties else " (without ties)")
    return _result(method, value, paired.sum(), per_item[paired].sum(), table)


def _cohen(table: _Table, rater_a: str, rater_b: str, weights: Weights) -> Agreement:
    items = table.items
    codes = []
    for name in (rater_a, rater_b):
        if name not in items.raters:
            raise ValueError(f"cohens_kappa: annotator {name!r} has no judgments in the frame")
        mine = items.rater == items.raters.get_loc(name)
        code = np.full(len(table.counts), -1)
        code[items.item[mine]] = table.category[mine]
        codes.append(code)
    both = (codes[0] >= 0) & (codes[1] >= 0)
    q = len(table.categories)
    joint = np.bincount(codes[0][both] * q + codes[1][both], minlength=q * q).reshape(q, q)
    w = _weights(table.categories, weights)
    n = joint.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = (w * joint).sum() / n
        expected = (w * np.outer(joint.sum(axis=1), joint.sum(axis=0))).sum() / n**2
    method = "Cohen's kappa" + ("" if weights == "identity" else f" ({weights} weights)")
    return _result(method, _chance_corrected(observed, expected), n, 2 * n, table)


def _fleiss(table: _Table, weights: Weights) -> Agreement:
    w = _weights(table.categories, weights)
    pa, pi, used = _percent_agreement(table.counts, w)
    method = "Fleiss' kappa" + ("" if weights == "identity" else f" ({weights} weights)")
    return _result(method, _chance_corrected(pa, pi @ w @ pi), *used, table)


def _gwet(table: _Table, weights: Weights) -> Agreement:
    w = _weights(table.categories, weights)
    pa, pi, used = _percent_agreement(table.counts, w)
    q = len(table.categories)
    # With a single category there is nothing to be wrong about by chance (irrCAC's convention).
    chance = w.sum() / (q * (q - 1)) * (pi * (1 - pi)).sum() if q > 1 else 0.0
    method = "Gwet's AC1" if weights == "identity" else f"Gwet's AC2 ({weights} weights)"
    return _result(method, _chance_corrected(pa, chance), *used, table)


def _alpha(table: _Table, level: Level) -> Agreement:
    per_item = table.counts.sum(axis=1)
    pairable = per_item >= 2
    counts, m = table.counts[pairable], per_item[pairable]
    scaled = counts / (m - 1)[:, None]
    coincidence = scaled.T @ counts - np.diag(scaled.sum(axis=0))
    n_c = coincidence.sum(axis=1)
    if level == "nominal":
        distance = 1.0 - np.eye(len(n_c))
    elif level == "interval":
        distance = np.subtract.outer(table.categories, table.categories) ** 2
    else:
        rank = np.arange(len(n_c))
        low, high = np.minimum.outer(rank, rank), np.maximum.outer(rank, rank)
        cumulative = np.cumsum(n_c)
        between = cumulative[high] - cumulative[low] + n_c[low]  # sum of n_g, g = low..high
        distance = (between - np.add.outer(n_c, n_c) / 2) ** 2
    expected = (np.outer(n_c, n_c) * distance).sum()
    observed = (n_c.sum() - 1) * (coincidence * distance).sum()
    value = 1 - observed / expected if expected > 0 else np.nan
    return _result(f"Krippendorff's alpha ({level})", value, pairable.sum(), m.sum(), table)


def _table(frame: pd.DataFrame, on: On, *, needed_by: str) -> _Table:
    """Check the frame and count each item's ratings per category."""
    _check_choice("on", on, ONS)
    return _count(_items(frame, needed_by=needed_by), on)


def _items(frame: pd.DataFrame, *, needed_by: str) -> _Items:
    """Which item (comparison) and annotator each judgment belongs to."""
    if len(frame) == 0:
        raise ValueError(f"{needed_by} needs at least one judgment")
    if "comparison_id" in frame.columns:
        item, _ = pd.factorize(frame["comparison_id"])
        if (item < 0).any():
            at = np.flatnonzero(item < 0)[0]
            raise ValueError(f"{describe_row(frame, at)}: comparison_id is missing")
    else:
        require_columns(frame, ["prompt_id", "model_a", "model_b"], needed_by=needed_by)
        # Without comparison ids, an item is a prompt and a pair, read from one side.
        frame = canonical_pairs(frame)
        keys = frame[["prompt_id", "model_a", "model_b"]]
        item = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy()
    if "annotator" not in frame.columns:
        return _Items(frame, item, None, None)
    rater, names = pd.factorize(frame["annotator"])
    _check_one_rating_each(frame, item, rater)
    return _Items(frame, item, rater, pd.Index(names))


def _count(items: _Items, on: On) -> _Table:
    """The item x category count matrix of ``on`` (scores or outcomes)."""
    frame = items.frame
    if on == "score":
        require_columns(frame, ["score"], needed_by="agreement on scores")
        outcome_signs(frame)  # checks scores are numbers, and agree with outcomes if both exist
        values = frame["score"].to_numpy(dtype=float)
    else:
        values = outcome_signs(frame).astype(float)
    categories = _categories(frame, values, on)
    category = np.minimum(np.searchsorted(categories, values), len(categories) - 1)
    off = np.flatnonzero(categories[category] != values)
    if off.size:
        raise ValueError(
            f"{describe_row(frame, off[0])}: {on} {values[off[0]]:g} is not on the scale "
            f"{tuple(int(c) for c in categories)}"
        )
    q = len(categories)
    n_items = items.item.max(initial=-1) + 1
    counts = np.bincount(items.item * q + category, minlength=n_items * q).reshape(-1, q)
    return _Table(counts.astype(float), categories, on, items, category)


def _categories(frame: pd.DataFrame, values: np.ndarray, on: On) -> np.ndarray:
    """The scale's points (or the outcomes they allow), else the values observed."""
    scales = pd.unique(frame["scale"].dropna()) if "scale" in frame.columns else []
    if len(scales) == 0:
        return np.array([-1.0, 0.0, 1.0]) if on == "outcome" else np.unique(values)
    if on == "score" and len(scales) > 1:
        listed = " and ".join(f"{s}-point" for s in sorted(scales))
        raise ValueError(
            f"scores on {listed} scales do not compare; filter by study or scale, or measure "
            "agreement on='outcome'"
        )
    points = {v for s in scales for v in Scale(int(s)).values}
    if on == "outcome":
        points = {np.sign(v) for v in points}
    return np.array(sorted(points), dtype=float)


def _check_one_rating_each(frame: pd.DataFrame, item: np.ndarray, rater: np.ndarray) -> None:
    """An annotator rating the same comparison twice would count as agreeing with themself."""
    key = item.astype(np.int64) * (rater.max(initial=0) + 1) + rater
    repeated = pd.Series(key).duplicated().to_numpy()
    if repeated.any():
        at = np.flatnonzero(repeated)[0]
        raise ValueError(
            f"{describe_row(frame, at)}: annotator {frame['annotator'].iloc[at]!r} judged this "
            "comparison more than once; keep one judgment per annotator and comparison"
        )


def _weights(categories: np.ndarray, kind: Weights) -> np.ndarray:
    """Agreement weights ``w_kl`` (1 on the diagonal), as in the module notes."""
    q = len(categories)
    if kind == "identity" or q == 1:
        return np.eye(q)
    span = categories[-1] - categories[0]
    if kind == "linear":
        return 1 - np.abs(np.subtract.outer(categories, categories)) / span
    if kind == "quadratic":
        return 1 - np.subtract.outer(categories, categories) ** 2 / span**2
    apart = np.abs(np.subtract.outer(np.arange(q), np.arange(q)))  # ordinal: on ranks
    return 1 - (apart + 1) * apart / 2 / comb(q, 2)


def _percent_agreement(
    counts: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray, tuple[int, int]]:
    """Weighted percent agreement ``pa``, category shares ``pi`` and (items, ratings) used."""
    per_item = counts.sum(axis=1)
    rated = per_item >= 1
    paired = per_item >= 2
    weighted = counts @ w.T  # r*_ik = sum_l w_kl r_il
    agreeing = (counts * (weighted - 1)).sum(axis=1)
    m = per_item[paired]
    pa = (agreeing[paired] / (m * (m - 1))).mean() if paired.any() else np.nan
    pi = (counts[rated] / per_item[rated, None]).mean(axis=0)
    return pa, pi, (int(rated.sum()), int(per_item.sum()))


def _chance_corrected(pa: float, chance: float) -> float:
    """``(pa - pe) / (1 - pe)``; undefined (NaN) when chance alone would always agree."""
    return (pa - chance) / (1 - chance) if chance < 1 else np.nan


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {listed}, not {value!r}")


def _result(method: str, value: float, n_items: int, n_ratings: int, table: _Table) -> Agreement:
    return Agreement(
        method=method,
        value=float(value),
        n_items=int(n_items),
        n_ratings=int(n_ratings),
        on=table.on,
        categories=tuple(int(c) for c in table.categories),
    )
