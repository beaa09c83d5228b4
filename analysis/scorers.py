"""Reward models (or any per-response scorer) as judges: how often they side with the humans.

The Llama 2 report measures its reward models by their accuracy on held-out human preferences,
broken down by how strongly the annotators preferred one side. Here a scorer gives each response a
scalar score (``prompt_id``, ``model``, ``scorer``, ``score``); on a human judgment it is right when
the response it scores higher is the one the human preferred.

- Human ties carry no preference to agree with: they are left out, and counted (``human_ties``).
- Equal scores pick no side: left out, and counted (``score_ties``); so are judgments with a
  response the scorer did not score (``unscored``).
- Strength is the judgment's margin on its study's scale, named by the scale's own labels (on the
  7-point scale "much better", "better", "slightly better"), plus a row over all strengths.
- Intervals: Wilson when every prompt appears once in a row's judgments, else a percentile bootstrap
  that resamples prompts (several judgments of one prompt are not independent).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pairwise.scales import Scale

from .frame import outcome_signs, require_columns, require_values
from .intervals import (
    check_settings,
    pair_generator,
    percentile_interval,
    resampled_totals,
    wilson_interval,
)

ALL_STRENGTHS = "all"
SCORE_COLUMNS = ["prompt_id", "model", "scorer", "score"]
ACCURACY_COLUMNS = [
    "scorer",
    "strength",
    "scale",
    "margin",
    "n",
    "correct",
    "accuracy",
    "ci_low",
    "ci_high",
    "method",
    "human_ties",
    "score_ties",
    "unscored",
]


def strength_label(scale: int, margin: int) -> str:
    """The scale's words for a preference of ``margin`` points ("much better", "better", ...)."""
    if margin == 0:
        return "tie"
    choices = {c.value: c.label for c in Scale(int(scale)).choices()}
    return choices[margin].removeprefix("Response 1 ")


def scorer_accuracy(
    frame: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per scorer, its accuracy on the human judgments of ``frame``, per strength and overall.

    ``scores`` has one row per scored response: prompt_id, model, scorer, score. Only human
    judgments count (``judge_kind`` "human", or every judgment when the frame has no such column).
    Columns: scorer, strength, scale and margin (missing on the overall row), n (judgments
    counted), correct, accuracy, ci_low, ci_high, method, human_ties, score_ties, unscored.
    """
    check_settings("auto", rounds, seed, confidence)
    require_values(frame, ["prompt_id", "model_a", "model_b"], needed_by="scorer_accuracy")
    require_columns(scores, SCORE_COLUMNS, needed_by="scorer_accuracy (scores)")
    if "judge_kind" in frame.columns:
        frame = frame[(frame["judge_kind"].astype(object) == "human").to_numpy()]
    signs = outcome_signs(frame).astype(int) if len(frame) else np.zeros(0, dtype=int)
    margin = np.abs(frame["score"].to_numpy(dtype=float)) if "score" in frame.columns else None
    judged = pd.DataFrame(
        {
            "prompt_id": frame["prompt_id"].astype(object).to_numpy(),
            "model_a": frame["model_a"].astype(object).to_numpy(),
            "model_b": frame["model_b"].astype(object).to_numpy(),
            "sign": signs,
            "scale": frame["scale"].to_numpy() if "scale" in frame.columns else 3,
            "margin": np.abs(signs) if margin is None else margin.astype(int),
        }
    )
    keyed = scores[SCORE_COLUMNS].astype({"prompt_id": object, "model": object, "scorer": object})
    duplicated = keyed.duplicated(["prompt_id", "model", "scorer"])
    if duplicated.any():
        row = keyed[duplicated.to_numpy()].iloc[0]
        raise ValueError(
            f"scorer {row.scorer!r} scored {row.model!r} on prompt {row.prompt_id!r} more than once"
        )
    rows = []
    for scorer, mine in keyed.groupby("scorer", sort=True):
        lookup = mine.set_index(["prompt_id", "model"])["score"]
        score_a = lookup.reindex(pd.MultiIndex.from_frame(judged[["prompt_id", "model_a"]]))
        score_b = lookup.reindex(pd.MultiIndex.from_frame(judged[["prompt_id", "model_b"]]))
        difference = score_a.to_numpy(dtype=float) - score_b.to_numpy(dtype=float)
        scored = ~np.isnan(difference)
        human_tie = judged["sign"].to_numpy() == 0
        counted = scored & ~human_tie & (difference != 0)
        judged_by = judged.assign(
            scored=scored,
            human_tie=human_tie,
            score_tie=scored & ~human_tie & (difference == 0),
            counted=counted,
            correct=counted & (np.sign(difference) == judged["sign"].to_numpy()),
        )
        decided = judged_by[~human_tie]
        groups = [(ALL_STRENGTHS, pd.NA, pd.NA, judged_by)]
        for (scale, margin_value), part in decided.groupby(["scale", "margin"], sort=True):
            label = strength_label(int(scale), int(margin_value))
            groups.append((label, int(scale), int(margin_value), part))
        # Strongest preferences first, as Llama 2's table reads.
        groups[1:] = sorted(groups[1:], key=lambda g: (g[1], -g[2]))
        for strength, scale, margin_value, part in groups:
            rows.append(
                _accuracy_row(scorer, strength, scale, margin_value, part, rounds, seed, confidence)
            )
    return pd.DataFrame(rows, columns=ACCURACY_COLUMNS).astype(
        {"scale": "Int64", "margin": "Int64"}
    )


def _accuracy_row(
    scorer: str,
    strength: str,
    scale: object,
    margin: object,
    part: pd.DataFrame,
    rounds: int,
    seed: int,
    confidence: float,
) -> list[object]:
    counted = part[part["counted"].to_numpy()]
    n, correct = len(counted), int(counted["correct"].sum())
    prompts, _ = pd.factorize(counted["prompt_id"])
    n_prompts = int(prompts.max(initial=-1)) + 1
    accuracy = correct / n if n else np.nan
    if n and n_prompts < n:
        rows = np.column_stack(
            [
                np.bincount(prompts, weights=counted["correct"], minlength=n_prompts),
                np.bincount(prompts, minlength=n_prompts),
            ]
        ).astype(np.int64)
        totals = resampled_totals(rows, rounds=rounds, rng=pair_generator(seed, scorer, strength))
        low, high = percentile_interval(totals[:, 0] / totals[:, 1], confidence)
        if high - low <= 0 and accuracy in (0.0, 1.0):  # flat: Wilson over prompts
            low, high = wilson_interval(accuracy * n_prompts, n_prompts, confidence)
        method = "cluster_bootstrap"
    else:
        low, high = wilson_interval(correct, n, confidence)
        method = "wilson"
    return [
        scorer,
        strength,
        scale,
        margin,
        n,
        correct,
        accuracy,
        float(low),
        float(high),
        method,
        int(part["human_tie"].sum()),
        int(part["score_tie"].sum()),
        int((~part["scored"] & ~part["human_tie"]).sum()),
    ]
