"""Weighted logistic regression with soft targets, for many bootstrap weightings at once.

The length-controlled win rate and style-controlled ratings are both logistic models of a
preference: ``P(first side better) = 1 / (1 + exp(-x @ beta))``. Targets may be fractional (a tie is
one half, a soft verdict its probability), which is the quasi-likelihood statsmodels' ``Logit`` and
AlpacaEval's fit use. Each row of ``weights`` is one weighting of the judgments (all ones for the
fit itself; a prompt's bootstrap multiplicity for a resample), and all are fitted together by
Newton's method with step halving, since the log-likelihood is concave.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

_MAX_STEPS = 100
_TOLERANCE = 1e-9


def fit_logistic(
    design: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    *,
    penalty: np.ndarray | None = None,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Maximise ``sum_i w_i (y_i eta_i - log(1 + exp(eta_i))) - beta' P beta / 2`` per weighting.

    ``design`` is n x k, ``target`` n values in [0, 1], ``weights`` r x n, ``penalty`` a k x k
    positive semi-definite matrix ``P`` or r of them (None: no penalty), ``start`` a starting point
    (bootstrap rounds start from the fit itself and settle in a few steps). Returns r x k
    coefficients. Raises ``RuntimeError`` when Newton's method does not settle (a separated fit
    needs a penalty).
    """
    design = (
        sparse.csr_matrix(design, dtype=float)
        if sparse.issparse(design)
        else (np.asarray(design, dtype=float))
    )
    target = np.asarray(target, dtype=float)
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    rounds, k = len(weights), design.shape[1]
    if penalty is None:
        penalty = np.zeros((k, k))
    penalty = np.broadcast_to(np.asarray(penalty, dtype=float), (rounds, k, k))
    beta = np.zeros((rounds, k)) if start is None else np.broadcast_to(start, (rounds, k)).copy()
    # Each judgment's x x' as one row, so that every Hessian is one matrix product.
    products = _outer_rows(design)
    value, mu = _objective(design, target, weights, penalty, beta)
    for _ in range(_MAX_STEPS):
        gradient = _times(weights * (target - mu), design) - np.einsum("rkl,rl->rk", penalty, beta)
        hessian = _times(weights * mu * (1 - mu), products).reshape(rounds, k, k) + penalty
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        scale = np.ones(rounds)
        while True:
            trial = beta + scale[:, None] * step
            new, trial_mu = _objective(design, target, weights, penalty, trial)
            worse = new < value - 1e-12 * np.abs(value)
            if not worse.any() or scale.min() < 1e-12:
                break
            scale[worse] /= 2
        beta, value, mu = trial, new, trial_mu
        # Settled: a step too small to matter, or no step that still improves (rounding level).
        moved = np.abs(scale[:, None] * step).max(axis=1)
        if ((moved < _TOLERANCE) | (scale < 1e-12)).all():
            return beta
    raise RuntimeError("logistic fit did not converge")


def _objective(
    design: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    penalty: np.ndarray,
    beta: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The penalised log-likelihood per weighting, and each judgment's fitted probability."""
    eta = _times(beta, design.T) if not sparse.issparse(design) else (design @ beta.T).T
    small = np.exp(-np.abs(eta))  # one exponential serves both, stably
    mu = np.where(eta >= 0, 1.0, small) / (1.0 + small)
    log_norm = np.maximum(eta, 0.0) + np.log1p(small)
    loglik = (weights * (target * eta - log_norm)).sum(axis=1)
    return loglik - 0.5 * np.einsum("rk,rkl,rl->r", beta, penalty, beta), mu


def _times(left: np.ndarray, right: np.ndarray | sparse.csr_matrix) -> np.ndarray:
    """``left @ right`` for a dense or sparse ``right``, as a dense array."""
    if sparse.issparse(right):
        return np.asarray((right.T @ left.T).T)
    return left @ right


def _outer_rows(design: np.ndarray | sparse.csr_matrix) -> np.ndarray | sparse.csr_matrix:
    """Row i holds the k x k entries of x_i x_i' (sparse when ``design`` is): a design with a few
    non-zeros per row (two models and the style columns) keeps the Hessian cheap."""
    n, k = design.shape
    if not sparse.issparse(design):
        return (design[:, :, None] * design[:, None, :]).reshape(n, k * k)
    per_row = np.diff(design.indptr)
    row_of = np.repeat(np.arange(n), per_row)
    first = np.repeat(np.arange(design.nnz), per_row[row_of])
    # The j-th partner of a non-zero is the j-th non-zero of its row.
    within = np.arange(len(first)) - np.repeat(
        np.cumsum(per_row[row_of]) - per_row[row_of], per_row[row_of]
    )
    second = design.indptr[row_of[first]] + within
    return sparse.csr_matrix(
        (
            design.data[first] * design.data[second],
            (row_of[first], design.indices[first] * k + design.indices[second]),
        ),
        shape=(n, k * k),
    )
