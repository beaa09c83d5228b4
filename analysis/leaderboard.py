"""A leaderboard against a baseline, as AlpacaEval reports one: every model read from its own side.

Each model other than the baseline gets the judgments of its pair with the baseline, turned so that
the model is model A. Its preference in a judgment is the probability credited to it: 1 for a win,
½ for a tie, 0 for a loss, or a judge's soft verdict (``p_a``) when the frame has one.

- ``win_rate``: the share of judgments it won outright; ``win_half_tie_rate``: its mean preference,
  which is AlpacaEval's "win_rate" (ties as half a win, soft verdicts as their probability).
- ``standard_error``: of the mean preference, clustered by prompt (AlpacaEval's standard error, the
  sample standard deviation over the square root of n, when each prompt has one judgment).
- ``ci``: the interval of ``win_half_tie_rate``: Wilson when every prompt has one hard verdict, else
  a bootstrap that resamples prompts.
- ``lc_win_rate``: AlpacaEval 2.0's length-controlled win rate. A logistic model of the preference,
  ``logit P(model better) = theta + phi * tanh(d / sd(d))``, where ``d`` is the model's response
  length minus the baseline's and ``sd(d)`` its standard deviation over the pair's judgments, is
  fitted by maximum (quasi-)likelihood; the length-controlled win rate is the rate it predicts at
  equal lengths, ``1 / (1 + exp(-theta))``. AlpacaEval's model also carries a per-instruction
  difficulty term estimated on its own benchmark and a regularisation towards two "gamed" baselines;
  neither exists for a study's own prompts, so both are left out. ``lc_ci`` comes from refitting on
  the same prompt resamples as ``ci``. When the fit would run off to infinity (the model won, or
  lost, every judgment, or the lengths separate its wins from its losses) a ridge penalty of
  ``SEPARATION_RIDGE`` keeps it finite. ``lc_win_rate`` is missing when a length is unknown, or
  when the model's responses are longer than the baseline's in every judgment (or shorter in
  every one): the win rate at equal lengths would then be an extrapolation the data cannot check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .frame import orient_judgments, outcome_signs, require_outcomes, require_values
from .intervals import check_settings, pair_generator, percentile_interval, wilson_interval
from .logistic import fit_logistic
from .ratings import SEPARATION_RIDGE

LEADERBOARD_COLUMNS = [
    "model",
    "n",
    "n_prompts",
    "wins",
    "ties",
    "losses",
    "win_rate",
    "win_half_tie_rate",
    "standard_error",
    "ci_low",
    "ci_high",
    "lc_win_rate",
    "lc_ci_low",
    "lc_ci_high",
    "method",
]
# Bootstrap multiplicities drawn at a time (rounds x prompts), to bound memory.
_DRAWS_PER_CHUNK = 2**22


def preferences(frame: pd.DataFrame) -> np.ndarray:
    """Each judgment's probability that model A is better: ``p_a`` where given, else from the outcome."""
    hard = (outcome_signs(frame).astype(float) + 1) / 2
    if "p_a" not in frame.columns:
        return hard
    soft = pd.to_numeric(frame["p_a"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    out_of_range = np.flatnonzero((soft < 0) | (soft > 1))
    if out_of_range.size:
        raise ValueError(f"row {frame.index[out_of_range[0]]!r}: p_a must lie in [0, 1]")
    return np.where(np.isnan(soft), hard, soft)


def leaderboard(
    frame: pd.DataFrame,
    baseline: str,
    *,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per model judged against ``baseline``, sorted by ``win_half_tie_rate``, best first.

    Columns: model, n, n_prompts, wins, ties, losses (from the model's side), win_rate,
    win_half_tie_rate, standard_error, ci_low, ci_high, lc_win_rate, lc_ci_low, lc_ci_high (missing
    without ``len_a`` / ``len_b``), method (``wilson`` or ``cluster_bootstrap`` for ``ci``; the LC
    interval is always a bootstrap over prompts, seeded by ``seed`` and the two models' names).
    """
    check_settings("auto", rounds, seed, confidence)
    require_values(frame, ["prompt_id", "model_a", "model_b"], needed_by="leaderboard")
    require_outcomes(frame, needed_by="leaderboard")
    involved = ((frame["model_a"] == baseline) | (frame["model_b"] == baseline)).to_numpy()
    if not involved.any():
        raise ValueError(f"baseline model {baseline!r} does not appear in the judgments")
    # Turned so that the baseline is model A, then read from the other side.
    against = orient_judgments(frame[involved], baseline)
    preference = 1 - preferences(against)
    models = against["model_b"].astype(object).to_numpy()
    has_lengths = {"len_a", "len_b"} <= set(against.columns)
    if has_lengths:
        difference = against["len_b"].to_numpy(dtype=float) - against["len_a"].to_numpy(dtype=float)
    rows = []
    for model in sorted(set(models)):
        mine = models == model
        prompts = pd.factorize(against["prompt_id"].to_numpy()[mine])[0]
        lengths = difference[mine] if has_lengths else None
        if lengths is not None and not _both_sides(lengths):
            lengths = None  # see the module notes: no length control rather than a guess
        rows.append(
            _row(model, baseline, preference[mine], prompts, lengths, rounds, seed, confidence)
        )
    table = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)
    return table.sort_values(
        ["win_half_tie_rate", "model"], ascending=[False, True], ignore_index=True
    )


def length_controlled_fit(
    preference: np.ndarray,
    length_difference: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """``(theta, phi)`` of ``logit P = theta + phi * tanh(d / sd(d))``, one row per weighting.

    Without length differences (all equal) the model is ``theta`` alone and ``phi`` is 0.
    """
    feature = _length_feature(length_difference)
    design = np.column_stack([np.ones(len(preference)), feature])
    weights = np.ones((1, len(preference))) if weights is None else np.atleast_2d(weights)
    if not feature.any():
        design = design[:, :1]
    ridge = np.array([_separated(preference, feature, w) for w in weights]) * SEPARATION_RIDGE
    penalty = ridge[:, None, None] * np.eye(design.shape[1])
    if start is not None:
        start = np.asarray(start, dtype=float)[..., : design.shape[1]]
    beta = fit_logistic(design, preference, weights, penalty=penalty, start=start)
    return beta if design.shape[1] == 2 else np.column_stack([beta, np.zeros(len(beta))])


def _both_sides(length_difference: np.ndarray) -> bool:
    """Whether the model's responses were longer than the baseline's in some judgments and
    shorter in others, so that "equal lengths" lies inside the data; and no length is unknown."""
    d = np.asarray(length_difference, dtype=float)
    return not np.isnan(d).any() and (d > 0).any() and (d < 0).any()


def _length_feature(length_difference: np.ndarray) -> np.ndarray:
    d = np.asarray(length_difference, dtype=float)
    spread = d.std(ddof=1) if len(d) > 1 else 0.0
    return np.tanh(d / spread) if spread > 0 else np.zeros_like(d)


def _separated(preference: np.ndarray, feature: np.ndarray, weights: np.ndarray) -> bool:
    """Whether the maximum likelihood estimate is infinite: no overlap between the feature values
    of (weighted) judgments the model partly won and those it partly lost."""
    present = weights > 0
    won, lost = feature[present & (preference > 0)], feature[present & (preference < 1)]
    if not won.size or not lost.size:
        return True
    if not feature.any():
        return False
    return not (won.min() < lost.max() and lost.min() < won.max())


def _row(
    model: str,
    baseline: str,
    preference: np.ndarray,
    prompts: np.ndarray,
    lengths: np.ndarray | None,
    rounds: int,
    seed: int,
    confidence: float,
) -> list[object]:
    n, n_prompts = len(preference), int(prompts.max()) + 1
    wins, ties = int((preference > 0.5).sum()), int((preference == 0.5).sum())
    rate = preference.mean()
    per_prompt = np.bincount(prompts, weights=preference - rate, minlength=n_prompts)
    # One prompt leaves no spread to estimate the error from.
    standard_error = (
        np.sqrt(n_prompts / (n_prompts - 1) * (per_prompt**2).sum()) / n
        if n_prompts > 1
        else np.nan
    )
    hard = np.isin(preference, (0.0, 0.5, 1.0)).all()
    bootstrap = not (hard and n == n_prompts)
    need_draws = bootstrap or lengths is not None
    multiplicities = _draw_prompts(model, baseline, n_prompts, rounds, seed) if need_draws else None
    if bootstrap:
        sums = multiplicities @ np.bincount(prompts, weights=preference, minlength=n_prompts)
        sizes = multiplicities @ np.bincount(prompts, minlength=n_prompts)
        low, high = percentile_interval(sums / sizes, confidence)
        if high - low <= 0 and rate in (0.0, 1.0):  # a flat bootstrap: Wilson over prompts
            low, high = wilson_interval(rate * n_prompts, n_prompts, confidence)
    else:
        low, high = wilson_interval(preference.sum(), n, confidence)
    lc = lc_low = lc_high = np.nan
    if lengths is not None:
        point = length_controlled_fit(preference, lengths)
        lc = _expit(point[0, 0])
        weights = multiplicities[:, prompts]
        boot = length_controlled_fit(preference, lengths, weights, start=point)[:, 0]
        lc_low, lc_high = percentile_interval(_expit(boot), confidence)
    return [
        model,
        n,
        n_prompts,
        wins,
        ties,
        n - wins - ties,
        wins / n,
        rate,
        float(standard_error),
        float(low),
        float(high),
        lc,
        float(lc_low),
        float(lc_high),
        "cluster_bootstrap" if bootstrap else "wilson",
    ]


def _draw_prompts(model: str, baseline: str, n_prompts: int, rounds: int, seed: int) -> np.ndarray:
    """How often each prompt is drawn in each bootstrap round (rounds x prompts)."""
    rng = pair_generator(seed, model, baseline)
    per_chunk = max(1, _DRAWS_PER_CHUNK // n_prompts)
    share = np.full(n_prompts, 1 / n_prompts)
    return np.concatenate(
        [
            rng.multinomial(n_prompts, share, size=min(per_chunk, rounds - start))
            for start in range(0, rounds, per_chunk)
        ]
    )


def _expit(x: np.ndarray | float) -> np.ndarray | float:
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))
