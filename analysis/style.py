"""Bradley-Terry ratings with style control, as Chatbot Arena computes them.

Judges, human or model, tend to prefer longer answers and answers dressed in Markdown. Style control
adds the style differences of the two responses as covariates to the Bradley-Terry model, so that a
model's rating says how good it is at a given style, and the style coefficients say how much each
element sways the judges:

    logit P(A better) = theta_A - theta_B + sum_f gamma_f * z_f

For each feature ``f`` (length in characters, Markdown headers, list items, bold spans) the
difference is normalised as Arena does, ``(a - b) / (a + b + 1)``, then standardised over the
judgments (mean 0, standard deviation 1), so ``gamma_f`` is the change in log-odds per standard
deviation of that difference. As in Arena, the differences are taken in the frame's own A/B
orientation and centred, so the centring term also absorbs any lean towards model A. Ties count as half a win (target ½), soft verdicts as their
probability. Ratings are on the Elo scale of ``ratings`` (mean 1000, or the anchor at 1000);
intervals come from refitting on prompt resamples. Fenced code blocks are removed before Markdown
elements are counted, so that a ``#`` comment in code is not a header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from .frame import require_columns, require_values
from .intervals import check_settings, percentile_interval
from .leaderboard import preferences
from .logistic import fit_logistic
from .ratings import SEPARATION_RIDGE, _elo

STYLE_FEATURES = ("length", "headers", "lists", "bold")
_FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1[^\n]*$", re.MULTILINE | re.DOTALL)
_HEADER = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])[ \t]+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+?\*\*|__[^_\n]+?__")
# Strengths beyond this many log-odds mean the fit ran off towards infinity (separated data).
_RUNAWAY = 25.0
_ROUNDS_PER_BATCH = 100


@dataclass(frozen=True)
class StyleRatings:
    """Style-controlled ratings and the style coefficients, with their bootstrap intervals.

    ``table``: model, rating, ci_low, ci_high, n. ``coefficients``: feature, coefficient, ci_low,
    ci_high (log-odds per standard deviation of the normalised difference; missing for a feature
    that never differs). ``ridge`` is the penalty the fit needed (0 when the estimate exists).
    """

    table: pd.DataFrame
    coefficients: pd.DataFrame
    rounds: int
    seed: int
    confidence: float
    anchor: str | None
    ridge: float
    n_judgments: int
    n_prompts: int


def markdown_counts(text: str) -> dict[str, int]:
    """Headers, list items and bold spans in a response, code blocks left out."""
    prose = _FENCE.sub("", text or "")
    return {
        "headers": len(_HEADER.findall(prose)),
        "lists": len(_LIST_ITEM.findall(prose)),
        "bold": len(_BOLD.findall(prose)),
    }


def style_differences(frame: pd.DataFrame) -> pd.DataFrame:
    """Per judgment, ``(a - b) / (a + b + 1)`` of each style feature, model A minus model B.

    Needs ``response_a`` and ``response_b`` (texts); lengths come from ``len_a`` / ``len_b`` when
    present, else from the texts.
    """
    require_columns(frame, ["response_a", "response_b"], needed_by="style_differences")
    counts = {}
    for side in ("a", "b"):
        texts = frame[f"response_{side}"].fillna("").astype(str)
        distinct = pd.unique(texts)
        table = pd.DataFrame([markdown_counts(t) for t in distinct], index=distinct)
        per = table.reindex(texts.to_numpy())
        per.index = frame.index
        per["length"] = (
            frame[f"len_{side}"].to_numpy(dtype=float)
            if f"len_{side}" in frame.columns
            else texts.str.len().to_numpy(dtype=float)
        )
        counts[side] = per[list(STYLE_FEATURES)].to_numpy(dtype=float)
    a, b = counts["a"], counts["b"]
    return pd.DataFrame((a - b) / (a + b + 1), columns=list(STYLE_FEATURES), index=frame.index)


def style_controlled_ratings(
    frame: pd.DataFrame,
    *,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    anchor: str | None = None,
) -> StyleRatings:
    """Bradley-Terry ratings with style covariates (see the module notes), bootstrapped by prompt."""
    check_settings("auto", rounds, seed, confidence)
    require_values(frame, ["prompt_id", "model_a", "model_b"], needed_by="style_controlled_ratings")
    if len(frame) == 0:
        raise ValueError("style_controlled_ratings needs at least one judgment")
    codes, models = pd.factorize(
        pd.concat([frame["model_a"], frame["model_b"]], ignore_index=True).astype(object),
        sort=True,
    )
    if anchor is not None and anchor not in set(models):
        raise ValueError(f"anchor model {anchor!r} does not appear in the judgments")
    n, m = len(frame), len(models)
    design_models = np.zeros((n, m))
    design_models[np.arange(n), codes[:n]] = 1.0
    design_models[np.arange(n), codes[n:]] = -1.0
    raw = style_differences(frame).to_numpy()
    spread = raw.std(axis=0)
    varies = spread > 0
    styles = (raw[:, varies] - raw[:, varies].mean(axis=0)) / spread[varies]
    # Two models and the style columns per row: sparse, so that the Hessian is cheap.
    design = sparse.csr_matrix(np.column_stack([design_models, styles]))
    target = preferences(frame)
    k = design.shape[1]
    # Pin the strengths to sum zero (the likelihood ignores a common shift), as ``ratings`` does.
    pin = np.zeros((k, k))
    pin[:m, :m] = 1.0
    ones = np.ones((1, n))
    ridge = 0.0
    try:
        point = fit_logistic(design, target, ones, penalty=pin)
        if np.abs(point).max() > _RUNAWAY:
            raise RuntimeError
    except RuntimeError:
        ridge = SEPARATION_RIDGE
        point = fit_logistic(design, target, ones, penalty=pin + ridge * np.eye(k))
    penalty = pin + ridge * np.eye(k)

    prompts, prompt_ids = pd.factorize(frame["prompt_id"].astype(object))
    rng = np.random.default_rng(seed)
    share = np.full(len(prompt_ids), 1 / len(prompt_ids))
    fits = []
    for start in range(0, rounds, _ROUNDS_PER_BATCH):
        size = min(_ROUNDS_PER_BATCH, rounds - start)
        weights = rng.multinomial(len(prompt_ids), share, size=size)[:, prompts]
        try:
            fits.append(fit_logistic(design, target, weights, penalty=penalty, start=point))
        except RuntimeError:  # a resample that separates: the ridge keeps it finite
            kept = penalty + SEPARATION_RIDGE * np.eye(k) * (ridge == 0)
            fits.append(fit_logistic(design, target, weights, penalty=kept, start=point))
    boot = np.concatenate(fits)

    anchor_at = None if anchor is None else int(np.flatnonzero(models == anchor)[0])
    ratings = _elo(point[:, :m], anchor_at)[0]
    low, high = percentile_interval(_elo(boot[:, :m], anchor_at), confidence)
    involved = np.bincount(codes, minlength=m)
    table = pd.DataFrame(
        {
            "model": np.asarray(models, dtype=object),
            "rating": ratings,
            "ci_low": low,
            "ci_high": high,
            "n": involved.astype(np.int64),
        }
    ).sort_values(["rating", "model"], ascending=[False, True], ignore_index=True)
    gamma = np.full(len(STYLE_FEATURES), np.nan)
    gamma_low, gamma_high = gamma.copy(), gamma.copy()
    gamma[varies] = point[0, m:]
    gamma_low[varies], gamma_high[varies] = percentile_interval(boot[:, m:], confidence)
    coefficients = pd.DataFrame(
        {
            "feature": list(STYLE_FEATURES),
            "coefficient": gamma,
            "ci_low": gamma_low,
            "ci_high": gamma_high,
        }
    )
    return StyleRatings(
        table=table,
        coefficients=coefficients,
        rounds=int(rounds),
        seed=seed,
        confidence=confidence,
        anchor=anchor,
        ridge=ridge,
        n_judgments=n,
        n_prompts=len(prompt_ids),
    )
