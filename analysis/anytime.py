"""Anytime-valid confidence sequences for win rates: intervals a researcher may watch and stop on.

A fixed-size 95% interval is only 95% right when it is looked at once, at a size fixed in advance.
Looked at after every prompt, and the study stopped as soon as it excludes 50%, it errs far more
often. A confidence sequence holds at every size at once: the chance that it ever, at any look,
misses the true win rate is at most 5%, so a study may stop whenever it looks settled.

The sequence here is the hedged betting sequence of Waudby-Smith & Ramdas (2023, "Estimating means
of bounded random variables by betting", JRSS-B), with their predictable plug-in bets, built over
prompts rather than judgments, since judgments of one prompt are alike. Prompt i of a pair brings
W_i wins of model A out of N_i judgments; with c an upper bound on N_i (the study's overlap),
Y_i(m) = (W_i - m N_i) / c lies in [-m, 1 - m] and has mean zero exactly when m is the win rate
E[W] / E[N], the per-judgment rate the reports show. For each m, two gamblers bet that the rate is
above and below m; their wealth is a nonnegative martingale when m is the true rate, so by Ville's
inequality it reaches 2/α with probability at most α/2 ever. The sequence holds the m where
neither gambler's wealth has reached 2/α. Assumptions and checks: ``docs/study-design.md``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .frame import PAIR, PAIR_AND_PROMPT, canonical_pairs, outcome_signs, require_values
from .intervals import _check_confidence

# Waudby-Smith & Ramdas's truncation of the bets (their c): wealth never falls by more than half
# in one round, whatever the prompt's outcome.
TRUNCATION = 0.5
_BISECTIONS = 32


def log_wealth(
    wins: np.ndarray,
    judgments: np.ndarray,
    rate: float | np.ndarray,
    *,
    confidence: float = 0.95,
    bound: float | np.ndarray | None = None,
    side: str = "both",
) -> np.ndarray:
    """The gamblers' log wealth after each prompt against the win rate ``rate``.

    ``wins`` and ``judgments`` hold one row of prompts per sequence (the last axis is time, in the
    order the prompts arrived; a prompt with 0 judgments is padding and changes nothing).
    ``rate`` is one value, or one per sequence. ``side`` is ``"up"`` (the gambler betting the
    rate is above ``rate``), ``"down"``, or ``"both"``: the larger of the two, less log 2 (each
    gambler holds half the stake). ``rate`` is outside the sequence at time t exactly when the
    result at t is at least ``log(1 / (1 - confidence))``.
    """
    _check_confidence(confidence)
    if side not in ("up", "down", "both"):
        raise ValueError(f"side must be 'up', 'down' or 'both', not {side!r}")
    u, v = _scaled(wins, judgments, bound)
    bets = _plug_in_bets(u, v, 1 - confidence)
    if side != "both":
        return np.cumsum(_log_factors(u, v, bets, rate, side), axis=-1)
    up = np.cumsum(_log_factors(u, v, bets, rate, "up"), axis=-1)
    down = np.cumsum(_log_factors(u, v, bets, rate, "down"), axis=-1)
    return np.maximum(up, down) - math.log(2)


def anytime_interval(
    wins: np.ndarray,
    judgments: np.ndarray,
    *,
    confidence: float = 0.95,
    bound: float | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The confidence sequence after the last prompt, for each row of prompts.

    ``wins`` and ``judgments`` are as for :func:`log_wealth` (1-D for one sequence, 2-D for one per
    row). The up-gambler's wealth falls as the rate rises and the down-gambler's grows, so the
    sequence is an interval whose ends are found by bisection to 1e-9. Rows without prompts give
    [0, 1].
    """
    _check_confidence(confidence)
    wins = np.atleast_2d(np.asarray(wins, dtype=float))
    judgments = np.atleast_2d(np.asarray(judgments, dtype=float))
    u, v = _scaled(wins, judgments, bound)
    bets = _plug_in_bets(u, v, 1 - confidence)
    threshold = math.log(2 / (1 - confidence))

    def crossing(side: str) -> np.ndarray:
        """The rate where the ``side`` gambler's wealth crosses 2/α (0 or 1 when it never does)."""
        low, high = np.zeros(len(u)), np.ones(len(u))
        for _ in range(_BISECTIONS):
            middle = (low + high) / 2
            rich = _log_factors(u, v, bets, middle, side).sum(axis=-1) >= threshold
            # the up-gambler is rich below the lower end; the down-gambler above the upper end
            outside_low = rich if side == "up" else ~rich
            low, high = np.where(outside_low, middle, low), np.where(outside_low, high, middle)
        return low if side == "up" else high

    lower, upper = crossing("up"), crossing("down")
    ratio = wins.sum(axis=-1) / np.maximum(judgments.sum(axis=-1), 1)
    # Both gamblers rich at once leaves no rate: rare, and then the estimate is all that is left.
    empty = lower > upper
    lower, upper = np.where(empty, ratio, lower), np.where(empty, ratio, upper)
    return np.clip(lower, 0.0, 1.0), np.clip(upper, 0.0, 1.0)


def prompts_for_half_width(half_width: float, prompts: int, target: float) -> int:
    """Prompts after which a sequence now ``half_width`` wide at ``prompts`` prompts reaches ``target``.

    With the plug-in bets, the half-width at t prompts of a sequence whose prompts vary steadily
    is close to a constant times (1 + Σ 1/(i log(1+i))) / Σ 1/√(i log(1+i)), sums over i ≤ t: the
    first-order expansion of the log wealth at the interval's end. The constant, which holds the
    spread of the prompts and the confidence, is read off the current width. This law narrows
    more slowly than 1/√t (by about t^0.1 at a few thousand prompts), as a sequence must; it
    matches simulated Bernoulli sequences within 3% from 50 to 10,000 prompts. Capped at 2^24.
    """
    if not target > 0:
        raise ValueError(f"the target half-width must be positive, not {target!r}")
    if prompts < 1 or not np.isfinite(half_width):
        raise ValueError("a width to scale needs at least one prompt and a finite half-width")
    if half_width <= target:
        return int(prompts)
    size = max(1024, 2 * int(prompts))
    while True:
        i = np.arange(1, size + 1, dtype=float)
        shape = (1 + np.cumsum(1 / (i * np.log1p(i)))) / np.cumsum(1 / np.sqrt(i * np.log1p(i)))
        reached = half_width * shape / shape[prompts - 1] <= target
        if reached.any() or size >= 2**24:
            return int(np.argmax(reached)) + 1 if reached.any() else size
        size *= 4


def confidence_sequence(
    wins: np.ndarray,
    judgments: np.ndarray,
    *,
    confidence: float = 0.95,
    bound: float | None = None,
    grid: int = 2000,
) -> tuple[np.ndarray, np.ndarray]:
    """The whole sequence, one interval after each prompt, intersected with every earlier one.

    Computed on a grid of ``grid`` rates and rounded outwards (each end moves to the first grid
    point outside), so it holds the exact sequence. For figures and validation; the report needs
    only the last interval (:func:`anytime_interval`).
    """
    _check_confidence(confidence)
    wins = np.asarray(wins, dtype=float)
    judgments = np.asarray(judgments, dtype=float)
    bound = float(judgments.max(initial=1.0)) if bound is None else bound
    rates = (np.arange(grid) + 0.5) / grid
    wealth = log_wealth(
        np.broadcast_to(wins, (grid, len(wins))),
        np.broadcast_to(judgments, (grid, len(judgments))),
        rates,
        confidence=confidence,
        bound=bound,
    )
    inside = wealth < math.log(1 / (1 - confidence))
    inside = np.logical_and.accumulate(inside, axis=1)  # running intersection
    edges = np.concatenate([[0.0], rates, [1.0]])
    first = np.where(inside.any(axis=0), inside.argmax(axis=0), grid)
    last = np.where(inside.any(axis=0), grid - 1 - inside[::-1].argmax(axis=0), -1)
    return edges[first], edges[last + 2]


def anytime_rates(frame: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Each pair's confidence sequence for the win rate, over its prompts in order of arrival.

    Pairs are oriented as :func:`frame.canonical_pairs` orients them (as ``pair_rates`` does).
    A prompt enters the sequence with its first judgment (by ``judgment_id``, else ``created_at``,
    else row order) and counts every judgment it has. The bound on judgments per prompt is the
    most any prompt of the pair has. Columns: model_a, model_b, n_prompts, anytime_ci_low,
    anytime_ci_high.
    """
    _check_confidence(confidence)
    require_values(frame, PAIR_AND_PROMPT, needed_by="anytime_rates")
    oriented = canonical_pairs(frame)
    order_column = next((c for c in ("judgment_id", "created_at") if c in frame.columns), None)
    arrival = np.arange(len(frame)) if order_column is None else oriented[order_column].to_numpy()
    table = oriented[PAIR_AND_PROMPT].assign(
        wins=outcome_signs(oriented) > 0, judgments=1, arrival=arrival
    )
    prompts = (
        table.groupby(PAIR_AND_PROMPT, sort=False, observed=True)
        .agg(wins=("wins", "sum"), judgments=("judgments", "sum"), arrival=("arrival", "min"))
        .reset_index()
        .sort_values([*PAIR, "arrival"], kind="stable")
    )
    pair = prompts.groupby(PAIR, sort=True, observed=True).ngroup().to_numpy()
    counts = np.bincount(pair)
    position = np.arange(len(prompts)) - np.repeat(np.cumsum(counts) - counts, counts)
    order = np.lexsort((position, pair))
    pair, position = pair[order], position[order]
    wins = np.zeros((len(counts), counts.max(initial=0)))
    judgments = np.zeros_like(wins)
    wins[pair, position] = prompts["wins"].to_numpy()[order]
    judgments[pair, position] = prompts["judgments"].to_numpy()[order]
    low, high = anytime_interval(wins, judgments, confidence=confidence)
    names = prompts.iloc[order].groupby(PAIR, sort=True, observed=True).size().reset_index()
    return pd.DataFrame(
        {
            "model_a": names["model_a"].to_numpy(),
            "model_b": names["model_b"].to_numpy(),
            "n_prompts": counts,
            "anytime_ci_low": low,
            "anytime_ci_high": high,
        }
    )


def with_anytime(
    rates: pd.DataFrame, frame: pd.DataFrame, *, confidence: float = 0.95
) -> pd.DataFrame:
    """``rates`` (from ``pair_rates`` on ``frame``) with each pair's anytime interval added.

    The interval is widened, where needed, to hold the fixed-size ``win_rate`` interval: a
    superset of a confidence sequence is one too, and a reader should never see the interval that
    may be watched lie inside the one that may not. The simulations in the tests find that the
    sequence holds the fixed interval on its own in practice.
    """
    if rates.empty:
        return rates.assign(
            anytime_ci_low=pd.Series(dtype=float), anytime_ci_high=pd.Series(dtype=float)
        )
    sequences = anytime_rates(frame, confidence=confidence).drop(columns="n_prompts")
    keys = rates[PAIR].astype(str)
    merged = keys.merge(sequences.astype({c: str for c in PAIR}), on=PAIR, how="left")
    out = rates.copy()
    out["anytime_ci_low"] = np.fmin(merged["anytime_ci_low"].to_numpy(), rates["win_rate_ci_low"])
    out["anytime_ci_high"] = np.fmax(
        merged["anytime_ci_high"].to_numpy(), rates["win_rate_ci_high"]
    )
    return out


def _scaled(
    wins: np.ndarray, judgments: np.ndarray, bound: float | np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Wins and judgments per prompt divided by the bound on judgments per prompt."""
    w = np.asarray(wins, dtype=float)
    n = np.asarray(judgments, dtype=float)
    if w.shape != n.shape:
        raise ValueError("wins and judgments must have the same shape")
    if np.any(w < 0) or np.any(w > n):
        raise ValueError("each prompt's wins must lie between 0 and its judgments")
    c = np.asarray(n.max(axis=-1, initial=1.0) if bound is None else bound, dtype=float)
    c = c[..., None] if c.ndim else c
    if np.any(n > c):
        raise ValueError("a prompt has more judgments than the bound")
    return w / c, n / c


def _log_factors(
    u: np.ndarray, v: np.ndarray, bets: np.ndarray, rate: float | np.ndarray, side: str
) -> np.ndarray:
    """log(1 ± bet · Y(rate)) per prompt for the ``side`` gambler, bets truncated at rate."""
    m = np.asarray(rate, dtype=float)
    m = m[..., None] if m.ndim else m
    with np.errstate(divide="ignore"):
        if side == "up":
            return np.log1p(np.minimum(bets, TRUNCATION / m) * (u - m * v))
        return np.log1p(-np.minimum(bets, TRUNCATION / (1 - m)) * (u - m * v))


def _plug_in_bets(u: np.ndarray, v: np.ndarray, alpha: float) -> np.ndarray:
    """Waudby-Smith & Ramdas's predictable plug-in bets, from the prompts before each one.

    The bet before prompt t is sqrt(2 log(2/α) / (σ²_{t-1} t log(1 + t))), where σ² is a running
    variance of the prompts' excess over the running rate, started at 1/4, as in their paper.
    """
    cum_u, cum_v = np.cumsum(u, axis=-1), np.cumsum(v, axis=-1)
    running_rate = (0.5 + cum_u) / (1 + cum_v)
    residual = (u - running_rate * v) ** 2
    t = np.arange(1, u.shape[-1] + 1, dtype=float)
    variance = (0.25 + np.cumsum(residual, axis=-1)) / (t + 1)
    before = np.concatenate([np.full(u.shape[:-1] + (1,), 0.25), variance[..., :-1]], axis=-1)
    return np.sqrt(2 * math.log(2 / alpha) / (before * t * np.log1p(t)))
