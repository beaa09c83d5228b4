"""Where each pair of a running study stands: its estimate, both intervals, the judgments it still
needs, and whether it is settled.

A pair is settled when its anytime-valid interval (``anytime``) excludes 50%, so that the study's
question for it is answered whenever one stops, or is narrower than the target half-width. The
judgments still needed are those until the anytime interval reaches the target, by the sequence's
own narrowing law (``anytime.prompts_for_half_width``), at the pair's judgments per prompt.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .anytime import prompts_for_half_width, with_anytime
from .rates import pair_rates

COLUMNS = [
    "model_a",
    "model_b",
    "n",
    "n_prompts",
    "win_rate",
    "win_rate_ci_low",
    "win_rate_ci_high",
    "anytime_ci_low",
    "anytime_ci_high",
    "still_needed",
    "settled",
    "settled_by",
]


def pair_progress(
    frame: pd.DataFrame,
    *,
    target: float = 0.05,
    confidence: float = 0.95,
    rounds: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per pair: win rate, fixed and anytime intervals, judgments still needed, settled or not.

    ``target`` is the half-width aimed for. ``settled_by`` says why a pair is settled:
    ``"excludes 50%"`` or ``"narrower than target"`` (both: the first), else ``""``.
    """
    if not target > 0:
        raise ValueError(f"the target half-width must be positive, not {target!r}")
    if len(frame) == 0:
        return pd.DataFrame({column: [] for column in COLUMNS})
    rates = with_anytime(
        pair_rates(frame, rounds=rounds, seed=seed, confidence=confidence),
        frame,
        confidence=confidence,
    )
    low, high = rates["anytime_ci_low"].to_numpy(), rates["anytime_ci_high"].to_numpy()
    half = (high - low) / 2
    excludes = (low > 0.5) | (high < 0.5)
    narrow = half <= target
    out = rates[COLUMNS[:9]].copy()
    out["still_needed"] = [
        int(np.ceil((prompts_for_half_width(width, int(prompts), target) - prompts) * n / prompts))
        for width, n, prompts in zip(half, rates["n"], rates["n_prompts"], strict=True)
    ]
    out["settled"] = excludes | narrow
    out["settled_by"] = np.where(
        excludes, "excludes 50%", np.where(narrow, "narrower than target", "")
    )
    return out
