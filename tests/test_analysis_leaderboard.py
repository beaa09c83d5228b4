"""The leaderboard against a baseline: counts against a hand count, the standard error and the
length-controlled fit against statsmodels, intervals against Wilson and their own properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from analysis.intervals import wilson_interval
from analysis.leaderboard import leaderboard, length_controlled_fit


def _judgment(prompt, model_a, model_b, score, len_a=100, len_b=100, **extra):
    return {
        "prompt_id": prompt,
        "model_a": model_a,
        "model_b": model_b,
        "score": score,
        "len_a": len_a,
        "len_b": len_b,
    } | extra


def _hand_frame() -> pd.DataFrame:
    """'ours' against 'base' in both orientations, 'other' against it, and a pair without it."""
    return pd.DataFrame(
        [
            _judgment("p1", "ours", "base", 1),  # ours wins
            _judgment("p2", "base", "ours", -2),  # ours wins (base loses as model A)
            _judgment("p3", "base", "ours", 0),  # tie
            _judgment("p4", "ours", "base", -1),  # ours loses
            _judgment("p5", "base", "ours", 3),  # ours loses
            _judgment("p1", "other", "base", 0),  # tie
            _judgment("p2", "base", "other", 1),  # other loses
            _judgment("p3", "ours", "other", 1),  # not against the baseline: left out
        ]
    )


def test_counts_and_rates_match_a_hand_count_from_each_models_side():
    table = leaderboard(_hand_frame(), "base", rounds=200).set_index("model")
    assert list(table.index) == ["ours", "other"]  # 2.5/5 = 0.5 ahead of 0.5/2 = 0.25
    ours, other = table.loc["ours"], table.loc["other"]
    assert (ours.n, ours.wins, ours.ties, ours.losses) == (5, 2, 1, 2)
    assert (other.n, other.wins, other.ties, other.losses) == (2, 0, 1, 1)
    assert ours.win_rate == pytest.approx(2 / 5)
    assert ours.win_half_tie_rate == pytest.approx(2.5 / 5)
    assert other.win_half_tie_rate == pytest.approx(0.5 / 2)
    # One hard verdict per prompt: Wilson on wins + ties/2, and AlpacaEval's standard error.
    assert ours.method == "wilson"
    low, high = wilson_interval(2.5, 5)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((low, high))
    assert ours.standard_error == pytest.approx(stats.sem([1, 1, 0.5, 0, 0]))


def test_the_baseline_must_appear():
    with pytest.raises(ValueError, match="baseline model 'nobody'"):
        leaderboard(_hand_frame(), "nobody")


def _simulated(seed: int, n_prompts: int = 300, repeats: int = 1, soft: bool = False):
    """A model whose wins depend on its length advantage, against one baseline."""
    rng = np.random.default_rng(seed)
    rows = []
    for prompt in range(n_prompts):
        len_base = rng.integers(200, 1200)
        len_model = rng.integers(200, 2400)
        for _ in range(repeats):
            p = 1 / (1 + np.exp(-(-0.3 + 1.2 * np.tanh((len_model - len_base) / 700))))
            outcome = rng.random()
            score = 1 if outcome < p * 0.9 else (0 if outcome < p * 0.9 + 0.1 else -1)
            extra = {"p_a": float(np.clip(p + rng.normal(0, 0.1), 0, 1))} if soft else {}
            if prompt % 2:  # half the judgments have the baseline as model A
                rows.append(
                    _judgment(
                        f"q{prompt}",
                        "base",
                        "m",
                        -score,
                        len_base,
                        len_model,
                        **({"p_a": 1 - extra["p_a"]} if soft else {}),
                    )
                )
            else:
                rows.append(
                    _judgment(f"q{prompt}", "m", "base", score, len_model, len_base, **extra)
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("soft", [False, True])
def test_length_controlled_fit_equals_statsmodels_logit(soft):
    frame = _simulated(3, soft=soft)
    model_side = frame["model_a"] == "m"
    if soft:
        y = np.where(model_side, frame["p_a"], 1 - frame["p_a"])
    else:
        y = (np.where(model_side, frame["score"], -frame["score"]) + 1) / 2
    d = np.where(model_side, frame["len_a"] - frame["len_b"], frame["len_b"] - frame["len_a"])
    x = np.tanh(d / pd.Series(d).std())
    reference = sm.Logit(y, sm.add_constant(x)).fit(disp=0, tol=1e-12)
    ours = length_controlled_fit(y, d)[0]
    assert ours == pytest.approx(reference.params, abs=1e-7)
    row = leaderboard(frame, "base", rounds=300).iloc[0]
    assert row.lc_win_rate == pytest.approx(1 / (1 + np.exp(-reference.params[0])), abs=1e-9)
    assert row.lc_ci_low < row.lc_win_rate < row.lc_ci_high
    # The model wins by being long: at equal lengths it does worse than its raw rate.
    assert row.lc_win_rate < row.win_half_tie_rate
    assert row.win_half_tie_rate == pytest.approx(y.mean())


def test_repeated_prompts_use_a_cluster_standard_error_and_bootstrap():
    frame = _simulated(5, n_prompts=120, repeats=3)
    row = leaderboard(frame, "base", rounds=400).iloc[0]
    model_side = frame["model_a"] == "m"
    y = (np.where(model_side, frame["score"], -frame["score"]) + 1) / 2
    ols = sm.OLS(y, np.ones(len(y))).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["prompt_id"])[0]}
    )
    assert row.standard_error == pytest.approx(ols.bse[0])
    assert row.method == "cluster_bootstrap"
    assert 0 <= row.ci_low < row.win_half_tie_rate < row.ci_high <= 1
    # Same seed, same numbers.
    again = leaderboard(frame, "base", rounds=400).iloc[0]
    assert (again.ci_low, again.lc_ci_high) == (row.ci_low, row.lc_ci_high)


def test_a_model_that_always_wins_stays_finite():
    frame = pd.DataFrame(
        [_judgment(f"p{i}", "m", "base", 1, 100 + 10 * (i - 5), 100) for i in range(10)]
    )
    row = leaderboard(frame, "base", rounds=100).iloc[0]
    assert row.win_half_tie_rate == 1.0 and row.ci_high == 1.0 and row.ci_low < 1.0
    assert 0.5 < row.lc_win_rate < 1.0 and row.lc_ci_high <= 1.0


def test_without_lengths_there_is_no_length_control():
    frame = _hand_frame().drop(columns=["len_a", "len_b"])
    table = leaderboard(frame, "base", rounds=50)
    assert table["lc_win_rate"].isna().all() and table["lc_ci_low"].isna().all()


def test_no_length_control_when_the_model_is_always_longer():
    frame = pd.DataFrame(
        [_judgment(f"p{i}", "m", "base", [1, 1, 0, -1][i % 4], 500 + i, 100) for i in range(40)]
    )
    row = leaderboard(frame, "base", rounds=50).iloc[0]
    assert np.isnan(row.lc_win_rate) and np.isnan(row.lc_ci_low)
    assert row.win_half_tie_rate == pytest.approx(25 / 40)


def test_a_model_judged_on_one_prompt_has_no_standard_error():
    frame = pd.DataFrame([_judgment("p1", "m", "base", 1), _judgment("p1", "m", "base", 0)])
    row = leaderboard(frame, "base", rounds=50).iloc[0]
    assert (row.n, row.n_prompts, row.win_half_tie_rate) == (2, 1, 0.75)
    assert np.isnan(row.standard_error)
    assert 0 <= row.ci_low <= row.ci_high <= 1
