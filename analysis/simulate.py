"""Synthetic judgments with known ground truth, for tests and benchmarks.

A statistic can only be trusted once it has found what was planted: a stronger model winning, a
left-side preference, a taste for longer answers, an annotator who ties everything. This module
plants them in a full judgments frame (every column of ``docs/judgments-frame.md``) from a seed.

The model: each comparison of models A and B on a prompt has a latent preference for A of
``strength[A] - strength[B]`` plus a prompt effect shared by all its annotators (this is what
makes judgments of one prompt correlated); each judgment adds logistic annotator noise, the
position bias toward whichever response was shown left and the length bias times the log length
ratio. A latent value within the annotator's tie band is a tie; beyond it, each further unit of
``margin_step`` adds one point of margin, up to the scale's maximum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

CATEGORIES = ("writing", "coding", "math", "reasoning", "brainstorming", "extraction")
_MAX_MARGIN = {7: 3, 5: 2, 3: 1, 2: 1}


def simulate_judgments(
    *,
    n_models: int = 4,
    strengths: Sequence[float] | None = None,
    n_prompts: int = 200,
    n_comparisons: int = 600,
    judgments_per_comparison: int | tuple[int, int] = 3,
    n_annotators: int = 12,
    scale: int = 7,
    prompt_sd: float = 0.5,
    tie_band: float = 0.6,
    margin_step: float = 1.0,
    position_bias: float = 0.0,
    length_bias: float = 0.0,
    tie_prone_annotators: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """A judgments frame drawn from the model above, reproducible from ``seed``.

    Models are named ``model-00``, ``model-01``, ...; ``strengths`` defaults to evenly spaced
    values from 1 down to -1, so lower-numbered models are stronger. Each comparison takes a random
    pair (the lower-numbered model is A) and a random prompt; ``judgments_per_comparison`` is a
    number or an inclusive (low, high) range. The first ``tie_prone_annotators`` annotators have a
    tie band three times as wide as the others.
    """
    if scale not in _MAX_MARGIN:
        raise ValueError(f"scale must be one of {tuple(_MAX_MARGIN)}, not {scale!r}")
    if n_models < 2:
        raise ValueError("n_models must be at least 2")
    rng = np.random.default_rng(seed)
    strength = np.linspace(1.0, -1.0, n_models) if strengths is None else np.asarray(strengths)
    if strength.shape != (n_models,):
        raise ValueError(f"strengths must have {n_models} values, one per model")
    names = [f"model-{i:02d}" for i in range(n_models)]

    first, second = np.triu_indices(n_models, k=1)
    pair = rng.integers(len(first), size=n_comparisons)
    prompt = rng.integers(n_prompts, size=n_comparisons)
    latent = (
        strength[first[pair]] - strength[second[pair]] + rng.normal(0, prompt_sd, n_comparisons)
    )
    low, high = (
        (judgments_per_comparison, judgments_per_comparison)
        if isinstance(judgments_per_comparison, int)
        else judgments_per_comparison
    )
    if not 1 <= low <= high <= n_annotators:
        raise ValueError("judgments per comparison must lie between 1 and n_annotators")
    per_comparison = rng.integers(low, high + 1, size=n_comparisons)

    comparison = np.repeat(np.arange(n_comparisons), per_comparison)
    n = comparison.size
    within = np.arange(n) - np.repeat(np.cumsum(per_comparison) - per_comparison, per_comparison)
    annotator = (rng.integers(n_annotators, size=n_comparisons)[comparison] + within) % n_annotators
    a_left = rng.random(n) < 0.5
    len_a = np.round(rng.lognormal(6.5, 0.6, n)).astype(np.int64) + 1
    len_b = np.round(rng.lognormal(6.5, 0.6, n)).astype(np.int64) + 1

    preference = (
        latent[comparison]
        + rng.logistic(0, 1, n)
        + position_bias * np.where(a_left, 1.0, -1.0)
        + length_bias * np.log(len_a / len_b)
    )
    band = np.where(annotator < tie_prone_annotators, 3 * tie_band, tie_band)
    band = band if scale % 2 else np.zeros(n)
    beyond = np.abs(preference) - band
    margin = np.where(
        beyond <= 0, 0, np.minimum(_MAX_MARGIN[scale], 1 + np.floor(beyond / margin_step))
    ).astype(np.int64)
    score = np.sign(preference).astype(np.int64) * margin

    prompt_turns = np.where(rng.random(n_prompts) < 0.7, 1, rng.integers(2, 4, n_prompts))
    prompt_category = rng.integers(len(CATEGORIES), size=n_prompts)
    seconds = np.round(rng.lognormal(3.5, 0.5, n), 1)
    created = np.datetime64("2024-01-01T00:00:00") + np.cumsum(rng.integers(1, 20, n)).astype(
        "timedelta64[s]"
    )
    prompt_of_row = prompt[comparison]
    nothing = np.zeros(n, dtype=np.int64)
    return pd.DataFrame(
        {
            "judgment_id": np.arange(1, n + 1),
            "study": _strings(["simulated"], nothing),
            "comparison_id": comparison + 1,
            "prompt_id": _strings([f"p{i}" for i in range(n_prompts)], prompt_of_row),
            "category": _strings(CATEGORIES, prompt_category[prompt_of_row]),
            "turns": prompt_turns[prompt_of_row],
            "model_a": _strings(names, first[pair][comparison]),
            "model_b": _strings(names, second[pair][comparison]),
            "scale": np.full(n, scale),
            "score": score,
            "outcome": _strings(["loss", "tie", "win"], np.sign(score) + 1),
            "margin": margin,
            "shown_order": _strings(["BA", "AB"], a_left.astype(np.int64)),
            "annotator": _strings([f"annotator-{i}" for i in range(n_annotators)], annotator),
            "seconds": seconds,
            "created_at": pd.array(np.datetime_as_string(created, unit="s"), dtype="str") + "Z",
            "len_a": len_a,
            "len_b": len_b,
            "is_gold": np.zeros(n, dtype=bool),
            "gold_score": np.full(n, np.nan),
            "rationale": _strings([""], nothing),
        }
    )


def _strings(values: Sequence[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[codes]`` as a pandas string array, without a Python object per row."""
    return pd.array(list(values), dtype="str").take(codes)
