"""How many prompts and judgments a study needs, and the pilot figures that go into the answer.

A win rate is a proportion, so the judgments needed for a 95% interval of half-width W around an
expected win rate p follow the textbook closed form ``z² p (1 - p) / W²`` (the normal
approximation behind the Wald interval). Several annotators judging the same comparison add less
than independent judgments would: their judgments are alike, with intra-class correlation ICC, so
K judgments per comparison are worth ``K / (1 + (K - 1) ICC)`` independent ones (Kish's design
effect). Hence ``prompts = closed form × (1 + (K - 1) ICC) / K`` per pair.

To detect a win rate that differs from 50% by D (the sign test the reports run, which leaves ties
out), the decided judgments needed are ``(z_{1-α/2} · ½ + z_{power} · √(p₁ (1 - p₁)))² / D²``
with p₁ = ½ + D, plus 1/D for the sign test being discrete; ties thin them by ``1 - tie rate``.

A pilot study gives the inputs that are hard to guess: the ICC of the win indicator within a
comparison, the tie rate, and the median seconds per judgment. See ``docs/study-design.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .frame import PAIR, canonical_pairs, outcome_signs, require_columns
from .intervals import z_value


@dataclass(frozen=True)
class StudyPlan:
    """The size of a study: prompts and judgments per pair, in total, and in annotator hours.

    ``closed_form`` is the number of independent judgments the goal needs (before the design
    effect and the overlap); ``annotator_hours`` is None when seconds per judgment are unknown.
    """

    goal: str
    prompts: int
    judgments: int
    pairs: int
    total_judgments: int
    overlap: int
    icc: float
    design_effect: float
    closed_form: float
    annotator_hours: float | None
    inputs: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values, as ``pairwise plan --format json`` prints them."""
        return {
            "goal": self.goal,
            "prompts": self.prompts,
            "judgments": self.judgments,
            "pairs": self.pairs,
            "total_judgments": self.total_judgments,
            "annotator_hours": _rounded(self.annotator_hours),
            "overlap": self.overlap,
            "icc": _rounded(self.icc),
            "design_effect": _rounded(self.design_effect),
            "closed_form": _rounded(self.closed_form),
            "inputs": {key: _rounded(value) for key, value in self.inputs.items()},
        }


@dataclass(frozen=True)
class Pilot:
    """What a pilot study says about the next one.

    ``icc`` is the intra-class correlation of the win indicator between judgments of one
    comparison, within each pair (NaN when no comparison has two judgments); ``tie_rate`` and
    ``win_rate`` are shares of all judgments; ``median_seconds`` is NaN when no time was recorded;
    ``pairs`` counts the model pairs judged.
    """

    judgments: int
    comparisons: int
    pairs: int
    icc: float
    tie_rate: float
    win_rate: float
    median_seconds: float


def plan_study(
    *,
    win_rate: float = 0.5,
    half_width: float | None = None,
    detect: float | None = None,
    power: float = 0.8,
    overlap: int = 1,
    icc: float = 0.0,
    pairs: int = 1,
    confidence: float = 0.95,
    tie_rate: float = 0.0,
    seconds_per_judgment: float | None = None,
) -> StudyPlan:
    """The prompts and judgments per pair that reach ``half_width`` or detect ``detect``.

    Give exactly one goal. ``win_rate`` is the expected share of judgments model A wins (0.5, the
    default, is the worst case: no win rate needs more). ``detect`` is the smallest difference
    from 50% in A's share of decided (non-tied) judgments that the sign test at ``1 - confidence``
    should find with probability ``power``; ``tie_rate`` says how many judgments are ties.
    ``overlap`` is the judgments per comparison and ``icc`` how alike they are.
    """
    if (half_width is None) == (detect is None):
        raise ValueError("give exactly one goal: a half-width or a difference to detect")
    _check_share("win_rate", win_rate, closed=True)
    _check_share("confidence", confidence)
    _check_share("tie_rate", tie_rate, upper_open=True, lower_closed=True)
    if isinstance(overlap, bool) or int(overlap) != overlap or overlap < 1:
        raise ValueError(f"overlap must be a whole number of at least 1, not {overlap!r}")
    if isinstance(pairs, bool) or int(pairs) != pairs or pairs < 1:
        raise ValueError(f"pairs must be a whole number of at least 1, not {pairs!r}")
    if not 0 <= icc <= 1:
        raise ValueError(f"icc must lie between 0 and 1, not {icc!r}")
    if seconds_per_judgment is not None and not seconds_per_judgment > 0:
        raise ValueError(f"seconds per judgment must be positive, not {seconds_per_judgment!r}")
    z = z_value(confidence)
    if half_width is not None:
        if not 0 < half_width < 0.5:
            raise ValueError(f"half_width must lie strictly between 0 and 0.5, not {half_width!r}")
        goal = "half_width"
        closed_form = z**2 * win_rate * (1 - win_rate) / half_width**2
        inputs = {"win_rate": win_rate, "half_width": half_width}
    else:
        if not 0 < detect < 0.5:
            raise ValueError(f"detect must lie strictly between 0 and 0.5, not {detect!r}")
        _check_share("power", power)
        goal = "detect"
        # 1/D more judgments, a continuity correction, bring the exact sign test's power to the
        # goal (up to the sawtooth of a discrete test's power)
        decided = decided_judgments(detect, power, confidence) + 1 / detect
        closed_form = decided / (1 - tie_rate)
        inputs = {"detect": detect, "power": power, "tie_rate": tie_rate}
    overlap, pairs = int(overlap), int(pairs)
    design_effect = 1 + (overlap - 1) * icc
    # A whisker of slack keeps a product that is a whole number in exact arithmetic from
    # rounding up to the next one because of the last bit of a float.
    prompts = max(1, math.ceil(closed_form * design_effect / overlap - 1e-9))
    judgments = prompts * overlap
    total = judgments * pairs
    hours = None if seconds_per_judgment is None else total * seconds_per_judgment / 3600
    inputs |= {"overlap": overlap, "icc": icc, "pairs": pairs, "confidence": confidence}
    if seconds_per_judgment is not None:
        inputs["seconds_per_judgment"] = seconds_per_judgment
    return StudyPlan(
        goal=goal,
        prompts=prompts,
        judgments=judgments,
        pairs=pairs,
        total_judgments=total,
        overlap=overlap,
        icc=float(icc),
        design_effect=design_effect,
        closed_form=closed_form,
        annotator_hours=hours,
        inputs=inputs,
    )


def decided_judgments(detect: float, power: float, confidence: float = 0.95) -> float:
    """Independent non-tied judgments for a two-sided test of ½ to find ½ ± ``detect``.

    The one-sample proportion test's normal approximation, with the null's variance under the
    null and the alternative's under the alternative (Fleiss, Levin & Paik 2003, ch. 2).
    """
    _check_share("power", power)
    alternative = 0.5 + detect
    spread = z_value(confidence) * 0.5 + float(stats.norm.ppf(power)) * math.sqrt(
        alternative * (1 - alternative)
    )
    return (spread / detect) ** 2


def pilot_estimates(frame: pd.DataFrame) -> Pilot:
    """ICC, tie rate, win rate and median seconds per judgment of a pilot's judgments frame.

    The ICC is the one-way analysis-of-variance estimator ICC(1) of the win indicator (1 when
    model A won) with the comparison as the group, computed within each pair and pooled, so that
    pairs of unequal strength do not pass for alike judgments; group sizes may differ (Donner
    1986, n₀). It is clipped to [0, 1]: a negative estimate means judgments are no more alike
    than chance. Comparisons are ``comparison_id`` when present, else pair and prompt.
    """
    require_columns(frame, PAIR, needed_by="pilot_estimates")
    if len(frame) == 0:
        raise ValueError("the pilot has no judgments")
    oriented = canonical_pairs(frame)
    signs = outcome_signs(oriented)
    group_keys = PAIR + (["comparison_id"] if "comparison_id" in frame.columns else ["prompt_id"])
    require_columns(oriented, group_keys, needed_by="pilot_estimates")
    seconds = (
        pd.to_numeric(frame["seconds"], errors="coerce").dropna()
        if "seconds" in frame.columns
        else pd.Series(dtype=float)
    )
    pair_codes = oriented.groupby(PAIR, sort=False, observed=True).ngroup().to_numpy()
    group_codes = oriented.groupby(group_keys, sort=False, observed=True).ngroup().to_numpy()
    return Pilot(
        judgments=len(frame),
        comparisons=int(group_codes.max()) + 1,
        pairs=int(pair_codes.max()) + 1,
        icc=intraclass_correlation((signs > 0).astype(float), group_codes, pair_codes),
        tie_rate=float(np.mean(signs == 0)),
        win_rate=float(np.mean(signs > 0)),
        median_seconds=float(seconds.median()) if len(seconds) else math.nan,
    )


def intraclass_correlation(
    values: np.ndarray, groups: np.ndarray, strata: np.ndarray | None = None
) -> float:
    """ICC(1) of ``values`` grouped by ``groups`` (integer codes), pooled over ``strata``.

    Between- and within-group sums of squares are taken about each stratum's own mean and
    pooled; n₀ is the pooled average group size for unequal groups. NaN when there are no
    degrees of freedom within or between groups.
    """
    y = np.asarray(values, dtype=float)
    groups = np.asarray(groups, dtype=np.int64)
    strata = np.zeros_like(groups) if strata is None else np.asarray(strata, dtype=np.int64)
    size = np.bincount(groups).astype(float)
    total = np.bincount(groups, weights=y)
    present = size > 0
    stratum_of_group = np.zeros(len(size), dtype=np.int64)
    stratum_of_group[groups] = strata
    mean_of_group = np.divide(total, size, out=np.zeros_like(total), where=present)
    stratum_size = np.bincount(strata).astype(float)
    stratum_mean = np.bincount(strata, weights=y) / np.where(stratum_size > 0, stratum_size, 1)
    between = np.sum(size * (mean_of_group - stratum_mean[stratum_of_group]) ** 2)
    within = np.sum((y - mean_of_group[groups]) ** 2)
    groups_per_stratum = np.bincount(stratum_of_group[present], minlength=len(stratum_size))
    used = stratum_size > 0
    df_between = float(np.sum(groups_per_stratum[used] - 1))
    df_within = float(len(y) - present.sum())
    if df_between <= 0 or df_within <= 0:
        return math.nan
    squares = np.bincount(stratum_of_group[present], weights=size[present] ** 2)
    n0 = float(np.sum(stratum_size[used] - squares[used] / stratum_size[used])) / df_between
    mean_between, mean_within = between / df_between, within / df_within
    if mean_between + (n0 - 1) * mean_within <= 0:
        return math.nan
    icc = (mean_between - mean_within) / (mean_between + (n0 - 1) * mean_within)
    return float(np.clip(icc, 0.0, 1.0))


def _check_share(
    name: str,
    value: float,
    *,
    closed: bool = False,
    upper_open: bool = False,
    lower_closed: bool = False,
) -> None:
    low_ok = value >= 0 if (closed or lower_closed) else value > 0
    high_ok = value <= 1 if closed else value < 1
    if upper_open:
        high_ok = value < 1
    if isinstance(value, bool) or not (low_ok and high_ok):
        bounds = "[0, 1]" if closed else "[0, 1)" if lower_closed else "(0, 1)"
        raise ValueError(f"{name} must lie in {bounds}, not {value!r}")


def _rounded(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else round(float(value), 6)
    return value
