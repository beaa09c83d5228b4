"""The cluster bootstrap's two ways of drawing a resample, checked against the exact bootstrap
distribution enumerated by hand and against its exact moments (``test_analysis_rates`` compares
both with a textbook bootstrap)."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import intervals, mean_scores, pair_rates, simulate_judgments
from analysis.intervals import distinct_rows


def by_multinomial(distinct, frequency, rounds, rng):
    clusters = frequency.sum()
    return rng.multinomial(clusters, frequency / clusters, size=rounds) @ distinct


def by_picking(distinct, frequency, rounds, rng):
    packing = intervals._packing(distinct, int(frequency.sum()))
    assert packing is not None
    return intervals._draw_by_picking(distinct, frequency, packing, rounds, rng)


DRAWS = {"multinomial": by_multinomial, "picking": by_picking}


@pytest.mark.parametrize("draw", DRAWS)
def test_each_way_draws_the_exact_bootstrap_distribution(draw):
    """Four clusters, two of them alike: all 4^4 equally likely resamples, enumerated."""
    clusters = np.array([[2, 1, 0], [0, 0, 3], [1, 1, 1], [2, 1, 0]])
    exact: dict[tuple, float] = {}
    for picks in itertools.product(range(4), repeat=4):
        total = tuple(clusters[list(picks)].sum(axis=0))
        exact[total] = exact.get(total, 0) + 1 / 4**4
    _, distinct, frequency = distinct_rows(clusters, np.zeros(4, dtype=np.int64))
    rounds = 40_000
    totals = DRAWS[draw](distinct, frequency, rounds, np.random.default_rng(11))
    seen = pd.Series(map(tuple, totals)).value_counts()
    assert set(seen.index) <= set(exact)
    outcomes = sorted(exact)
    observed = [seen.get(total, 0) for total in outcomes]
    expected = [exact[total] * rounds for total in outcomes]
    assert stats.chisquare(observed, expected).pvalue > 0.001


@pytest.mark.parametrize("draw", DRAWS)
def test_each_way_has_the_bootstrap_mean_and_covariance(draw):
    """Resampling n clusters: totals have mean sum(rows) and covariance n * cov(rows, ddof=0).

    Negative and wide columns (score sums) check that packed columns keep their sign and do not
    spill into each other.
    """
    rng = np.random.default_rng(5)
    n = 300
    rows = np.column_stack(
        [rng.integers(-9, 10, n), rng.integers(0, 4, n), rng.integers(0, 400, n) * 1000]
    )
    _, distinct, frequency = distinct_rows(rows, np.zeros(n, dtype=np.int64))
    rounds = 20_000
    totals = DRAWS[draw](distinct, frequency, rounds, np.random.default_rng(8))
    covariance = n * np.cov(rows.T, ddof=0)
    standard_error = np.sqrt(np.diag(covariance) / rounds)
    assert np.all(np.abs(totals.mean(axis=0) - rows.sum(axis=0)) < 4 * standard_error)
    assert np.allclose(np.cov(totals.T), covariance, rtol=0.05, atol=0.05 * covariance.max())


def test_packed_sums_equal_plain_sums_of_the_picked_rows():
    """With the cluster numbers fixed, the packed sum unpacks to the plain column totals."""

    class Fixed:  # hands out known cluster numbers in place of random ones
        def __init__(self, picks):
            self.picks = picks

        def integers(self, low, high, size, dtype):
            assert (low, high, size) == (0, self.picks.shape[1], self.picks.shape)
            return self.picks.astype(dtype)

    rng = np.random.default_rng(2)
    rows = np.column_stack([rng.integers(-(2**20), 2**20, 50), rng.integers(0, 2, 50)])
    rows[:2] = [[2**20, 1], [-(2**20), 0]]  # the extreme values, so that the fields fill up
    _, distinct, frequency = distinct_rows(rows, np.zeros(50, dtype=np.int64))
    assert (frequency == 1).all()  # one cluster per distinct row, in distinct_rows' order
    picks = rng.integers(0, 50, size=(7, 50))
    picks[0], picks[1] = np.argmax(distinct[:, 0]), np.argmin(distinct[:, 0])
    packing = intervals._packing(distinct, 50)
    totals = intervals._draw_by_picking(distinct, frequency, packing, 7, Fixed(picks))
    assert totals.tolist() == distinct[picks].sum(axis=1).tolist()


def test_the_cheaper_way_is_chosen_and_rows_that_cannot_be_packed_use_the_multinomial():
    every_prompt_its_own_row = np.ones(3000, dtype=np.int64)
    few_kinds_of_prompt = np.array([1000, 1500, 500])
    assert intervals._picking_is_cheaper(every_prompt_its_own_row)
    assert not intervals._picking_is_cheaper(few_kinds_of_prompt)
    assert intervals._packing(np.array([[0.5, 1.0]]), 10) is None
    assert intervals._packing(np.array([[0, 0], [2**40, 2**40]]), 10) is None
    # fractional rows with a row per cluster: drawn by the multinomial, still exact totals
    rows = np.column_stack([np.arange(40) / 4, np.ones(40)])
    _, distinct, frequency = distinct_rows(rows, np.zeros(40, dtype=np.int64))
    totals = intervals._draw_totals(distinct, frequency, 4000, np.random.default_rng(1))
    assert totals[:, 1].tolist() == [40.0] * 4000
    assert totals[:, 0].mean() == pytest.approx(rows[:, 0].sum(), rel=0.01)


def test_numbers_depend_on_the_seed_and_the_pair_only(monkeypatch):
    """Pairs drawn both ways in one frame: the same numbers again, in one thread, and alone."""
    few_kinds = simulate_judgments(n_models=2, n_prompts=3000, n_comparisons=3000, seed=3)
    own_rows = simulate_judgments(n_models=2, n_prompts=40, n_comparisons=700, seed=9)
    frame = pd.concat([few_kinds, own_rows.assign(model_a="solo-a", model_b="solo-b")])
    chosen = []
    cheaper = intervals._picking_is_cheaper
    monkeypatch.setattr(
        intervals, "_picking_is_cheaper", lambda f: chosen.append(cheaper(f)) or chosen[-1]
    )
    first = pair_rates(frame, rounds=300), mean_scores(frame, rounds=300)
    assert sorted(set(chosen)) == [False, True]
    monkeypatch.setattr(intervals, "_available_cores", lambda: 1)
    serial = pair_rates(frame, rounds=300), mean_scores(frame, rounds=300)
    for one, other in zip(first, serial, strict=True):
        pd.testing.assert_frame_equal(one, other)
    for model in ("model-00", "solo-a"):
        alone = pair_rates(frame[frame["model_a"] == model], rounds=300)
        in_full = first[0][first[0]["model_a"] == model].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone, in_full)
