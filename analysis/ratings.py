"""Bradley-Terry ratings across many models, Elo-scaled as Chatbot Arena reports them.

Pairwise win rates answer "is A better than B"; ratings put every model on one line. The
Bradley-Terry model gives model ``i`` a strength ``theta_i`` and says that ``i`` beats ``j`` with
probability ``1 / (1 + exp(theta_j - theta_i))``. Ties are either counted as half a win for each
side (the default, as Chatbot Arena does) or modelled with Davidson's (1970) tie parameter ``nu``:

    P(i beats j) = pi_i / D,   P(tie) = nu * sqrt(pi_i * pi_j) / D,   P(j beats i) = pi_j / D,
    with pi = exp(theta) and D = pi_i + pi_j + nu * sqrt(pi_i * pi_j).

The likelihood depends on the judgments only through the wins, ties and losses of each model pair,
so the fit runs on that small count table, whatever the number of judgments. Both likelihoods are
concave, and the maximum is found by Newton's method with the exact gradient and Hessian, with
step halving. The strengths are identified by making them sum to zero. Bootstrap rounds redraw the
count table (by prompt, or by judgment) and refit all rounds at once, starting from the point
estimate, which is what keeps a thousand rounds fast.

When the maximum likelihood estimate does not exist -- a model that never lost, or groups of models
never compared with each other, so that the strengths could run off to infinity -- a tiny ridge
penalty ``SEPARATION_RIDGE / 2 * |theta|^2`` keeps them finite (a normal prior with a standard
deviation of 10 in strength, some 1,700 rating points; Davidson's ``log nu`` gets it too). It is
applied only to fits that need it, and the result says whether the point estimate used it; the
distance to a model that never lost then reflects the prior more than the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .frame import canonical_pairs, describe_row, outcome_signs, require_columns
from .intervals import MIN_PROMPTS, check_settings, percentile_interval

ELO_SCALE = 400 / math.log(10)
"""Rating points per unit of strength: a 400-point gap means 10:1 odds, as in Elo and Arena."""

ELO_CENTRE = 1000.0
"""The rating of the anchor: the mean model, or the named anchor model."""

SEPARATION_RIDGE = 0.01
"""Ridge penalty used only when the maximum likelihood estimate does not exist (see module doc)."""

Method = Literal["half-wins", "davidson"]
Resample = Literal["prompts", "judgments"]

# Outcome columns of the count table, from the first model of a pair's point of view.
_WIN, _TIE, _LOSS = 0, 1, 2
_ROUNDS_PER_BATCH = 250
_MAX_NEWTON_STEPS = 200
_STEP_TOLERANCE = 1e-10
# One binomial draw costs about as much as drawing and counting this many prompt indices.
_MULTINOMIAL_COST = 25


@dataclass(frozen=True)
class Ratings:
    """Bradley-Terry ratings with bootstrap intervals, and everything needed to reproduce them.

    ``table`` has one row per model, best first: ``model``, ``rating`` (Elo scale), ``ci_low``,
    ``ci_high`` (expanded percentile bootstrap interval, as for rates), ``rank`` (1 + the number of models rated higher),
    ``rank_low`` and ``rank_high`` (the best and worst rank within the bootstrap's central
    ``confidence`` share of rounds), ``n`` (judgments involving the model), ``n_prompts`` (the
    prompts it was judged on) and ``small_sample`` (fewer than ``MIN_PROMPTS`` of them: its
    interval rests on few prompts, read it with care).
    """

    table: pd.DataFrame
    method: Method
    rounds: int
    seed: int
    confidence: float
    resample: Resample
    anchor: str | None
    """The model rated ``ELO_CENTRE`` in every round, or None when the mean rating is."""
    nu: float | None
    """Davidson's tie parameter (None for half wins): between two equally strong models a tie is
    ``nu`` times as likely as a win for either one."""
    nu_interval: tuple[float, float] | None
    log_likelihood: float
    """Log-likelihood at the point estimate, without the multinomial constant."""
    ridge: float
    """The ridge penalty of the point estimate: 0, or ``SEPARATION_RIDGE`` when it was needed."""
    n_judgments: int
    n_prompts: int


@dataclass(frozen=True)
class _Design:
    """The model pairs present in the data: pair ``p`` is models ``first[p] < second[p]``."""

    models: np.ndarray
    first: np.ndarray
    second: np.ndarray
    incidence: np.ndarray  # pairs x models: +1 for the first model, -1 for the second
    scatter: sparse.csr_matrix  # models^2 x pairs: adds a pair's curvature into the Hessian


def pair_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Wins, ties and losses of ``model_a`` against ``model_b``, one row per pair of models.

    This table is all a Bradley-Terry fit needs. Each pair appears once, its models in
    alphabetical order, whatever orientations the judgments came in.
    """
    design, cells, _ = _aggregate(frame, needed_by="pair_counts")
    counts = _count_table(cells, len(design.first))
    return pd.DataFrame(
        {
            "model_a": design.models[design.first],
            "model_b": design.models[design.second],
            "wins": counts[:, _WIN].astype(np.int64),
            "ties": counts[:, _TIE].astype(np.int64),
            "losses": counts[:, _LOSS].astype(np.int64),
        }
    )


def bradley_terry(
    frame: pd.DataFrame,
    *,
    method: Method = "half-wins",
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    resample: Resample = "prompts",
    anchor: str | None = None,
) -> Ratings:
    """Fit Bradley-Terry ratings to judgments, with bootstrap intervals on ratings and ranks.

    ``method`` is ``"half-wins"`` (a tie is half a win for each side) or ``"davidson"`` (ties
    modelled, ``nu`` estimated). ``resample="prompts"`` redraws prompts with replacement, keeping
    all judgments of a prompt together since they are not independent; ``"judgments"`` redraws the
    judgments one by one (a multinomial draw of the pair x outcome table). Ratings are
    ``ELO_CENTRE + ELO_SCALE * theta``, centred so that the mean rating is 1000, or so that
    ``anchor`` is rated 1000 in every round.
    """
    if method not in ("half-wins", "davidson"):
        raise ValueError(f"method must be 'half-wins' or 'davidson', not {method!r}")
    if resample not in ("prompts", "judgments"):
        raise ValueError(f"resample must be 'prompts' or 'judgments', not {resample!r}")
    check_settings("cluster_bootstrap", rounds, seed, confidence)  # rounds, seed, confidence
    design, cells, prompts = _aggregate(frame, needed_by="bradley_terry")
    if anchor is not None and anchor not in set(design.models):
        raise ValueError(f"anchor model {anchor!r} does not appear in the judgments")
    davidson = method == "davidson"
    counts = _count_table(cells, len(design.first))

    ridge = SEPARATION_RIDGE if _needs_ridge(design, counts, davidson) else 0.0
    start = np.zeros((1, len(design.models) + davidson))
    if davidson:
        start[0, -1] = _tie_start(counts)
    point, loglik = _maximise(design, counts[None], davidson, start, np.array([ridge]))

    rng = np.random.default_rng(seed)
    draws = _drawer(cells, prompts, len(design.first), resample, rng)
    fits = []
    for size in _batches(rounds):
        sample = draws(size)
        ridges = np.array([_ridge_for(design, c, davidson, counts, ridge) for c in sample])
        fits.append(_maximise(design, sample, davidson, np.repeat(point, size, 0), ridges)[0])
    boot = np.concatenate(fits)

    anchor_index = None if anchor is None else int(np.flatnonzero(design.models == anchor)[0])
    ratings = _elo(point[:, : len(design.models)], anchor_index)[0]
    boot_ratings = _elo(boot[:, : len(design.models)], anchor_index)
    # expanded percentile interval over the units drawn (see intervals.expanded_tail)
    units = int(prompts.max(initial=-1) + 1) if resample == "prompts" else len(cells)
    ci_low, ci_high = percentile_interval(boot_ratings, confidence, clusters=units)
    rank = _ranks(ratings[None])[0]
    boot_ranks = _ranks(boot_ratings)
    tail = (1 - confidence) / 2
    involved = counts.sum(axis=1)
    n = np.bincount(design.first, involved, len(design.models)) + np.bincount(
        design.second, involved, len(design.models)
    )
    prompts_per_model = _prompts_per_model(design, cells, prompts)
    table = pd.DataFrame(
        {
            "model": design.models,
            "rating": ratings,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "rank": rank,
            "rank_low": np.quantile(boot_ranks, tail, axis=0, method="lower"),
            "rank_high": np.quantile(boot_ranks, 1 - tail, axis=0, method="higher"),
            "n": n.astype(np.int64),
            "n_prompts": prompts_per_model,
            "small_sample": prompts_per_model < MIN_PROMPTS,
        }
    )
    table = table.sort_values(["rank", "model"], ignore_index=True)
    nu = nu_interval = None
    if davidson:
        nu = float(np.exp(point[0, -1]))
        low, high = percentile_interval(np.exp(boot[:, -1:]), confidence)
        nu_interval = (float(low[0]), float(high[0]))
    return Ratings(
        table=table,
        method=method,
        rounds=int(rounds),
        seed=seed,
        confidence=confidence,
        resample=resample,
        anchor=anchor,
        nu=nu,
        nu_interval=nu_interval,
        log_likelihood=float(loglik[0]),
        ridge=ridge,
        n_judgments=len(cells),
        n_prompts=int(prompts.max(initial=-1) + 1),
    )


def _aggregate(frame: pd.DataFrame, *, needed_by: str) -> tuple[_Design, np.ndarray, np.ndarray]:
    """The pairs present, each judgment's cell (pair x outcome) and each judgment's prompt code."""
    require_columns(frame, ["model_a", "model_b", "prompt_id"], needed_by=needed_by)
    if len(frame) == 0:
        raise ValueError(f"{needed_by} needs at least one judgment")
    frame = canonical_pairs(frame)
    signs = outcome_signs(frame)
    codes, models = pd.factorize(
        pd.concat([frame["model_a"], frame["model_b"]], ignore_index=True), sort=True
    )
    code_a, code_b = codes[: len(frame)], codes[len(frame) :]
    low, high = np.minimum(code_a, code_b), np.maximum(code_a, code_b)
    pair, pair_keys = pd.factorize(low * len(models) + high, sort=True)
    first, second = np.divmod(np.asarray(pair_keys), len(models))
    # A win for model A is a win for the pair's first model only if A is that model.
    signs = np.where(code_a < code_b, signs, -signs)
    cells = pair * 3 + (1 - signs)
    prompts, _ = pd.factorize(frame["prompt_id"])
    if (prompts < 0).any():
        raise ValueError(
            f"{describe_row(frame, np.flatnonzero(prompts < 0)[0])}: prompt_id is missing"
        )
    design = _design(np.asarray(models, dtype=object), first, second)
    return design, cells.astype(np.int64), prompts


def _prompts_per_model(design: _Design, cells: np.ndarray, prompts: np.ndarray) -> np.ndarray:
    """How many distinct prompts each model was judged on."""
    m = len(design.models)
    pair = cells // 3
    keys = np.concatenate(
        [prompts * m + design.first[pair], prompts * m + design.second[pair]]
    ).astype(np.int64)
    return np.bincount(pd.unique(keys) % m, minlength=m).astype(np.int64)


def _design(models: np.ndarray, first: np.ndarray, second: np.ndarray) -> _Design:
    m, pairs = len(models), np.arange(len(first))
    incidence = np.zeros((len(first), m))
    incidence[pairs, first] = 1.0
    incidence[pairs, second] = -1.0
    # The Hessian of pair p's term is curvature * (e_first - e_second)(e_first - e_second)^T.
    entries = np.concatenate(
        [first * m + first, second * m + second, first * m + second, second * m + first]
    )
    signs = np.repeat([1.0, 1.0, -1.0, -1.0], len(first))
    scatter = sparse.csr_matrix((signs, (entries, np.tile(pairs, 4))), shape=(m * m, len(first)))
    return _Design(models, first, second, incidence, scatter)


def _count_table(cells: np.ndarray, n_pairs: int) -> np.ndarray:
    return np.bincount(cells, minlength=n_pairs * 3).reshape(n_pairs, 3).astype(float)


def _drawer(
    cells: np.ndarray,
    prompts: np.ndarray,
    n_pairs: int,
    resample: Resample,
    rng: np.random.Generator,
) -> Callable[[int], np.ndarray]:
    """A function drawing ``size`` bootstrap count tables (size x pairs x 3)."""
    n_cells = n_pairs * 3
    if resample == "judgments":
        share = np.bincount(cells, minlength=n_cells) / len(cells)
        return lambda size: rng.multinomial(len(cells), share, size=size).reshape(size, -1, 3)
    rows, frequency = _distinct_prompt_rows(cells, prompts, n_cells)
    n_prompts = int(frequency.sum())
    # A multinomial over the distinct rows costs per distinct row, drawing prompt indices per
    # prompt; both give exactly the resample-prompts-with-replacement distribution.
    by_multinomial = rows.shape[0] * _MULTINOMIAL_COST < n_prompts
    row_of_prompt = np.repeat(np.arange(rows.shape[0]), frequency)

    def draw(size: int) -> np.ndarray:
        if by_multinomial:
            picks = rng.multinomial(n_prompts, frequency / n_prompts, size=size)
        else:
            picks = np.stack(
                [
                    np.bincount(
                        row_of_prompt[rng.integers(0, n_prompts, n_prompts)],
                        minlength=rows.shape[0],
                    )
                    for _ in range(size)
                ]
            )
        return np.asarray(picks @ rows, dtype=float).reshape(size, -1, 3)

    return draw


def _distinct_prompt_rows(
    cells: np.ndarray, prompts: np.ndarray, n_cells: int
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Each prompt's counts per cell, with identical prompts merged: (distinct rows, frequency).

    Prompts judged alike (say one comparison of the same pair, two wins and a tie) are
    interchangeable in a bootstrap, and there are far fewer kinds than prompts. Rows are sparse, so
    they are compared as sorted (cell, count) codes, grouped by how many cells they fill.
    """
    keys = np.sort(prompts * n_cells + cells, kind="stable")  # timsort: fast on ordered input
    first = np.flatnonzero(np.diff(keys, prepend=-1))
    keys, counts = keys[first], np.diff(first, append=len(cells))
    prompt, cell = np.divmod(keys, n_cells)
    base = counts.max() + 1
    code = cell * base + counts  # sorted by cell within each prompt, since keys are sorted
    filled = np.bincount(prompt)
    starts = np.cumsum(filled) - filled
    row_ids, entries, frequencies = [], [], []
    for width in np.unique(filled):
        members = np.flatnonzero(filled == width)
        block = code[starts[members][:, None] + np.arange(width)]
        distinct, frequency = _unique_rows(block)
        offset = sum(len(f) for f in frequencies)
        row_ids.append(np.repeat(offset + np.arange(len(distinct)), width))
        entries.append(distinct.ravel())
        frequencies.append(frequency)
    entry = np.concatenate(entries)
    n_rows = sum(len(f) for f in frequencies)
    rows = sparse.csr_matrix(
        ((entry % base).astype(float), (np.concatenate(row_ids), entry // base)),
        shape=(n_rows, n_cells),
    )
    return rows, np.concatenate(frequencies)


def _unique_rows(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(block, axis=0, return_counts=True)``, by a lexsort, many times faster."""
    ordered = block[np.lexsort(block.T[::-1])]
    first = np.flatnonzero(np.concatenate([[True], (np.diff(ordered, axis=0) != 0).any(axis=1)]))
    return ordered[first], np.diff(first, append=len(ordered))


def _batches(rounds: int) -> list[int]:
    full, rest = divmod(rounds, _ROUNDS_PER_BATCH)
    return [_ROUNDS_PER_BATCH] * full + ([rest] if rest else [])


def _needs_ridge(design: _Design, counts: np.ndarray, davidson: bool) -> bool:
    """True when the maximum likelihood estimate does not exist (Zermelo / Ford's condition).

    It exists when every model can be reached from every other along "beat or tied" edges (the
    directed comparison graph is strongly connected); Davidson's ``nu`` further needs both tied and
    untied judgments.
    """
    n = len(design.models)
    beat = counts[:, _WIN] + counts[:, _TIE] > 0
    lost = counts[:, _LOSS] + counts[:, _TIE] > 0
    graph = sparse.coo_matrix(
        (
            np.ones(beat.sum() + lost.sum()),
            (
                np.concatenate([design.first[beat], design.second[lost]]),
                np.concatenate([design.second[beat], design.first[lost]]),
            ),
        ),
        shape=(n, n),
    )
    pieces, _ = connected_components(graph, directed=True, connection="strong")
    if pieces > 1:
        return True
    ties = counts[:, _TIE].sum()
    return davidson and (ties == 0 or ties == counts.sum())


def _ridge_for(
    design: _Design, sample: np.ndarray, davidson: bool, counts: np.ndarray, ridge: float
) -> float:
    """The ridge for one bootstrap table: the data's own ``ridge`` unless a cell count changed
    between zero and non-zero, when the existence check has to run again."""
    if np.array_equal(sample > 0, counts > 0):
        return ridge
    return SEPARATION_RIDGE if _needs_ridge(design, sample, davidson) else 0.0


def _tie_start(counts: np.ndarray) -> float:
    """log nu at which equal models would tie as often as the data do: a good starting value."""
    share = np.clip(counts[:, _TIE].sum() / counts.sum(), 1e-3, 1 - 1e-3)
    return float(np.log(2 * share / (1 - share)))


def _maximise(
    design: _Design, counts: np.ndarray, davidson: bool, start: np.ndarray, ridge: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum (penalised) likelihood for a batch of count tables: (parameters, log-likelihood).

    Parameters are the strengths, then log nu for Davidson. Adding ``-(sum theta)^2 / 2`` to the
    objective leaves the maximiser unchanged (the likelihood ignores a common shift) but pins the
    strengths to sum zero and makes the Hessian invertible.
    """
    params = start.astype(float).copy()
    value, gradient, hessian, _ = _objective(design, counts, davidson, params, ridge, True)
    active = np.arange(len(params))
    for _ in range(_MAX_NEWTON_STEPS):
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        scale = np.ones(len(active))
        while True:
            trial = params[active] + scale[:, None] * step
            new = _objective(design, counts[active], davidson, trial, ridge[active], False)[0]
            worse = new < value - 1e-12 * np.abs(value)
            if not worse.any() or scale.min() < 1e-12:
                break
            scale[worse] /= 2
        params[active] = trial
        done = np.abs(scale[:, None] * step).max(axis=1) < _STEP_TOLERANCE
        active = active[~done]
        if active.size == 0:
            break
        value, gradient, hessian, _ = _objective(
            design, counts[active], davidson, params[active], ridge[active], True
        )
    else:
        raise RuntimeError("Bradley-Terry fit did not converge")
    loglik = _objective(design, counts, davidson, params, ridge, False)[3]
    return params, loglik


def _objective(
    design: _Design,
    counts: np.ndarray,
    davidson: bool,
    params: np.ndarray,
    ridge: np.ndarray,
    derivatives: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Penalised log-likelihood, its gradient and negated Hessian, and the plain log-likelihood.

    Both models are exponential families in the strength difference ``d`` of each pair, so the
    negated Hessian is the variance of the pair's sufficient statistic times its judgments.
    """
    m = design.incidence.shape[1]
    theta = params[:, :m]
    d = theta @ design.incidence.T
    wins, ties, losses = counts[..., _WIN], counts[..., _TIE], counts[..., _LOSS]
    n = wins + ties + losses
    if davidson:
        log_nu = params[:, m:]
        half = np.abs(d) / 2
        top = np.maximum(half, log_nu)
        log_norm = top + np.log(np.exp(half - top) + np.exp(-half - top) + np.exp(log_nu - top))
        loglik = ((wins - losses) * d / 2 + ties * log_nu - n * log_norm).sum(axis=1)
    else:
        score = wins + ties / 2
        log_win = np.minimum(d, 0) - np.log1p(np.exp(-np.abs(d)))  # log P(first wins), stably
        loglik = (n * log_win - (n - score) * d).sum(axis=1)  # log P(second wins) = log_win - d
    penalty = 0.5 * theta.sum(axis=1) ** 2 + 0.5 * ridge * (params**2).sum(axis=1)
    if not derivatives:
        return loglik - penalty, None, None, loglik
    if davidson:
        p_win, p_loss = np.exp(d / 2 - log_norm), np.exp(-d / 2 - log_norm)
        p_tie = np.exp(log_nu - log_norm)
        grad_d = (wins - losses) / 2 - n * (p_win - p_loss) / 2
        curv_d = n * (p_win * p_loss + (p_win + p_loss) * p_tie / 4)
    else:
        p_win = np.exp(log_win)
        grad_d = score - n * p_win
        curv_d = n * p_win * (1 - p_win)
    gradient = grad_d @ design.incidence - theta.sum(axis=1, keepdims=True)
    hessian = (design.scatter @ curv_d.T).T.reshape(len(params), m, m) + 1.0
    if davidson:
        grad_nu = (ties - n * p_tie).sum(axis=1, keepdims=True)
        gradient = np.concatenate([gradient, grad_nu], axis=1)
        cross = (-n * (p_win - p_loss) * p_tie / 2) @ design.incidence
        corner = (n * p_tie * (1 - p_tie)).sum(axis=1)
        hessian = np.block(
            [[hessian, cross[:, :, None]], [cross[:, None, :], corner[:, None, None]]]
        )
    gradient = gradient - ridge[:, None] * params
    hessian = hessian + ridge[:, None, None] * np.eye(params.shape[1])
    return loglik - penalty, gradient, hessian, loglik


def _elo(theta: np.ndarray, anchor: int | None) -> np.ndarray:
    """Elo-scale strengths: mean 1000, or the anchor model at 1000 in every row."""
    centre = theta.mean(axis=1, keepdims=True) if anchor is None else theta[:, anchor : anchor + 1]
    return ELO_CENTRE + ELO_SCALE * (theta - centre)


def _ranks(ratings: np.ndarray) -> np.ndarray:
    """Competition ranks per row: 1 + the number of models rated strictly higher."""
    return 1 + (ratings[:, None, :] > ratings[:, :, None]).sum(axis=2)
