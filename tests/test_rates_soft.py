"""Soft verdicts in the rates: "win + ½ tie" is the mean of ``p_a``, as AlpacaEval's weighted
win rate is the mean preference; wins, ties and losses count the side each verdict leans to."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analysis.frame import canonical_pairs, credits
from analysis.rates import majority_outcomes, pair_rates, prompt_outcome_counts

# AlpacaEval preferences (1 = output_1 better, 2 = output_2 better, 1.5 or 0 a draw) of one
# judge, generator_1 "ref" against generator_2 "ours", one prompt each
PREFERENCES = [1.0, 2.0, 1.5, 1.37, 0, 1.0, 1.92, 1.08, 2.0, 1.5, 1.61, 1.0]


def alpaca_eval_frame(preferences=PREFERENCES) -> pd.DataFrame:
    p_a = [0.5 if p == 0 else 2 - p for p in preferences]
    return pd.DataFrame(
        {
            "prompt_id": [f"q{i}" for i in range(len(p_a))],
            "model_a": "ref",
            "model_b": "ours",
            "score": [int(np.sign(p - 0.5)) for p in p_a],
            "p_a": p_a,
        }
    )


def test_win_half_tie_is_alpaca_evals_weighted_win_rate():
    rates = pair_rates(alpaca_eval_frame()).iloc[0]
    # AlpacaEval's win rate of generator_2: mean(preference - 1), a 0 read as 1.5
    alpaca_eval = np.mean([(1.5 if p == 0 else p) - 1 for p in PREFERENCES])
    assert rates["win_half_tie_rate"] == pytest.approx(1 - alpaca_eval)
    # counts: the side each verdict leans to (AlpacaEval's n_wins / n_wins_base / n_draws)
    assert (rates["wins"], rates["ties"], rates["losses"]) == (5, 3, 4)
    assert rates["win_rate"] == pytest.approx(5 / 12)


def test_hard_verdicts_give_the_same_rates_with_or_without_p_a():
    frame = alpaca_eval_frame([1.0, 2.0, 1.5, 2.0, 1.0, 1.0, 0])
    with_p = pair_rates(frame, method="cluster_bootstrap", rounds=200, seed=1)
    without = pair_rates(frame.drop(columns="p_a"), method="cluster_bootstrap", rounds=200, seed=1)
    pd.testing.assert_frame_equal(with_p, without)


def test_wilson_interval_of_soft_credit_matches_statsmodels():
    frame = alpaca_eval_frame()
    rates = pair_rates(frame, method="wilson").iloc[0]
    low, high = proportion_confint(frame["p_a"].sum(), len(frame), alpha=0.05, method="wilson")
    assert rates["win_half_tie_rate_ci_low"] == pytest.approx(low)
    assert rates["win_half_tie_rate_ci_high"] == pytest.approx(high)


def test_bootstrap_resamples_soft_credit_by_prompt():
    frame = alpaca_eval_frame()
    twice = pd.concat([frame, frame.assign(score=frame["score"], p_a=frame["p_a"])])
    rates = pair_rates(twice, method="cluster_bootstrap", rounds=2000, seed=0).iloc[0]
    assert rates["method"] == "cluster_bootstrap"
    mean = frame["p_a"].mean()
    assert rates["win_half_tie_rate"] == pytest.approx(mean)
    # the prompt means are the p_a themselves: the interval is the (expanded, Hesterberg 2015)
    # percentile interval of their bootstrapped mean, checked against a resampling of those 12
    # values with numpy, at the tail share whose normal quantile is sqrt(n/(n-1)) t_{n-1}
    rng = np.random.default_rng(7)
    n = len(frame)
    means = rng.choice(frame["p_a"].to_numpy(), size=(20_000, n)).mean(axis=1)
    tail = stats.norm.sf(np.sqrt(n / (n - 1)) * stats.t.ppf(0.975, n - 1))
    low, high = np.quantile(means, [tail, 1 - tail])
    assert rates["win_half_tie_rate_ci_low"] == pytest.approx(low, abs=0.02)
    assert rates["win_half_tie_rate_ci_high"] == pytest.approx(high, abs=0.02)


def test_turning_a_pair_turns_p_a():
    frame = alpaca_eval_frame().iloc[:4]
    mixed = pd.concat(
        [
            frame.iloc[:2],
            frame.iloc[2:].assign(
                model_a="ours",
                model_b="ref",
                score=-frame["score"].iloc[2:],
                p_a=1 - frame["p_a"].iloc[2:],
            ),
        ]
    )
    turned = canonical_pairs(mixed)
    assert set(turned["model_a"]) == {"ours"}  # alphabetical: "ours" < "ref"
    np.testing.assert_allclose(turned["p_a"], 1 - frame["p_a"])
    assert pair_rates(mixed).iloc[0]["win_half_tie_rate"] == pytest.approx(1 - frame["p_a"].mean())


def test_credit_per_prompt_and_the_majority_view():
    frame = alpaca_eval_frame().iloc[:3]
    counts = prompt_outcome_counts(frame)
    np.testing.assert_allclose(counts["credit"], [1.0, 0.0, 0.5])
    assert "credit" not in majority_outcomes(frame).columns


@pytest.mark.parametrize(("p_a", "score"), [(0.7, -1), (1.2, 1), (0.5, 1), (-0.1, -1)])
def test_a_p_a_that_is_no_probability_or_leans_the_other_way_is_refused(p_a, score):
    frame = alpaca_eval_frame().iloc[:2].copy()
    frame.loc[1, ["p_a", "score"]] = [p_a, score]
    with pytest.raises(ValueError, match="p_a .* is not a probability that leans"):
        credits(frame)
    with pytest.raises(ValueError, match="row 1"):
        pair_rates(frame)


def test_missing_p_a_falls_back_to_the_outcome():
    frame = alpaca_eval_frame().iloc[:3].copy()
    frame.loc[0, "p_a"] = np.nan
    np.testing.assert_allclose(credits(frame), [1.0, 0.0, 0.5])
