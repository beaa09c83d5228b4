"""The study planner and pilot estimates, checked against statsmodels, scipy, the exact binomial
distribution and simulated studies of the planned size."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import samplesize_confint_proportion

from analysis import pair_rates, simulate_judgments
from analysis.intervals import expanded_tail
from analysis.planning import (
    decided_judgments,
    intraclass_correlation,
    pilot_estimates,
    plan_study,
)


@pytest.mark.parametrize(
    "win_rate, half_width, confidence",
    [(0.5, 0.05, 0.95), (0.3, 0.05, 0.95), (0.8, 0.03, 0.95), (0.5, 0.1, 0.9), (0.6, 0.02, 0.99)],
)
def test_one_judgment_per_prompt_needs_the_closed_form(win_rate, half_width, confidence):
    plan = plan_study(win_rate=win_rate, half_width=half_width, confidence=confidence)
    expected = samplesize_confint_proportion(win_rate, half_width, alpha=1 - confidence)
    z = stats.norm.ppf(0.5 + confidence / 2)
    assert expected == pytest.approx(z**2 * win_rate * (1 - win_rate) / half_width**2)
    assert plan.closed_form == pytest.approx(expected)
    assert plan.prompts == math.ceil(expected) == plan.judgments
    assert plan.design_effect == 1


def test_the_textbook_example_needs_385_judgments():
    assert plan_study(half_width=0.05).prompts == 385  # 1.96² · ¼ / 0.05² = 384.1


@pytest.mark.parametrize("overlap, icc", [(3, 0.0), (3, 0.2), (5, 0.5), (2, 1.0)])
def test_overlap_applies_the_design_effect(overlap, icc):
    single = plan_study(win_rate=0.4, half_width=0.04)
    plan = plan_study(win_rate=0.4, half_width=0.04, overlap=overlap, icc=icc, pairs=6)
    effect = 1 + (overlap - 1) * icc
    assert plan.design_effect == pytest.approx(effect)
    assert plan.prompts == math.ceil(single.closed_form * effect / overlap)
    assert plan.judgments == plan.prompts * overlap
    assert plan.total_judgments == plan.judgments * 6
    if icc == 1:  # alike judgments add nothing: as many prompts as with one judgment each
        assert plan.prompts == single.prompts


def test_detecting_a_difference_has_the_planned_power_under_the_exact_sign_test():
    for detect, power in [(0.1, 0.8), (0.05, 0.9), (0.15, 0.8), (0.2, 0.8), (0.02, 0.8)]:
        n = plan_study(detect=detect, power=power).judgments
        # exact two-sided binomial test of ½ at level 5%: its rejection region, and its power
        k = np.arange(n + 1)
        reject = stats.binom.cdf(np.minimum(k, n - k), n, 0.5) * 2 <= 0.05
        exact = stats.binom.pmf(k, n, 0.5 + detect)[reject].sum()
        assert exact == pytest.approx(power, abs=0.03)


def test_detection_size_is_the_smallest_with_the_power_under_the_normal_approximation():
    z = stats.norm.ppf(0.975)

    def normal_power(n, d):
        p1 = 0.5 + d
        return stats.norm.cdf((d * math.sqrt(n) - z * 0.5) / math.sqrt(p1 * (1 - p1)))

    for detect in (0.05, 0.1, 0.2):
        n = decided_judgments(detect, 0.8)
        assert normal_power(n, detect) == pytest.approx(0.8, abs=1e-9)
        planned = plan_study(detect=detect).judgments  # with a continuity correction of 1/D
        assert planned == math.ceil(n + 1 / detect)
        assert normal_power(planned, detect) >= 0.8


def test_ties_thin_the_decided_judgments():
    plain = plan_study(detect=0.1)
    tied = plan_study(detect=0.1, tie_rate=0.25)
    assert tied.closed_form == pytest.approx(plain.closed_form / 0.75)
    assert tied.judgments == math.ceil(plain.closed_form / 0.75)


def test_annotator_hours_follow_the_seconds_per_judgment():
    plan = plan_study(half_width=0.05, overlap=3, icc=0.3, pairs=10, seconds_per_judgment=45)
    assert plan.annotator_hours == pytest.approx(plan.total_judgments * 45 / 3600)
    assert plan_study(half_width=0.05).annotator_hours is None
    record = plan.as_dict()
    assert {"prompts", "judgments", "total_judgments", "annotator_hours"} <= set(record)
    assert record["total_judgments"] == plan.total_judgments


@pytest.mark.parametrize(
    "options, message",
    [
        ({}, "exactly one goal"),
        ({"half_width": 0.05, "detect": 0.1}, "exactly one goal"),
        ({"half_width": 0.0}, "half_width"),
        ({"half_width": 0.05, "win_rate": 1.2}, "win_rate"),
        ({"half_width": 0.05, "overlap": 0}, "overlap"),
        ({"half_width": 0.05, "icc": -0.1}, "icc"),
        ({"half_width": 0.05, "pairs": 1.5}, "pairs"),
        ({"detect": 0.1, "power": 1.0}, "power"),
        ({"detect": 0.1, "tie_rate": 1.0}, "tie_rate"),
        ({"half_width": 0.05, "seconds_per_judgment": 0}, "seconds"),
    ],
)
def test_unusable_settings_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        plan_study(**options)


# -- the ICC and the pilot ------------------------------------------------------------------------


def test_icc_matches_the_one_way_anova_of_scipy_for_equal_groups():
    rng = np.random.default_rng(3)
    chance = rng.beta(2, 3, 80)
    values = (rng.random((80, 4)) < chance[:, None]).astype(float)
    groups = np.repeat(np.arange(80), 4)
    f = stats.f_oneway(*values).statistic  # each row is one comparison's judgments
    assert intraclass_correlation(values.ravel(), groups) == pytest.approx((f - 1) / (f + 4 - 1))


def test_icc_uses_the_average_group_size_for_unequal_groups():
    rng = np.random.default_rng(4)
    sizes = rng.integers(2, 6, 60)
    chance = rng.beta(1, 1, 60)
    rows = [(rng.random(s) < c).astype(float) for s, c in zip(sizes, chance, strict=True)]
    f = stats.f_oneway(*rows).statistic
    n = sizes.sum()
    n0 = (n - (sizes**2).sum() / n) / (len(sizes) - 1)
    values = np.concatenate(rows)
    groups = np.repeat(np.arange(60), sizes)
    assert intraclass_correlation(values, groups) == pytest.approx((f - 1) / (f + n0 - 1))


def test_pilot_recovers_a_planted_icc():
    # Beta(a, b) chances per comparison give Bernoulli judgments an ICC of 1 / (a + b + 1).
    rng = np.random.default_rng(5)
    a, b, comparisons, k = 1.5, 2.5, 4000, 3
    chance = rng.beta(a, b, comparisons)
    wins = rng.random((comparisons, k)) < chance[:, None]
    frame = pd.DataFrame(
        {
            "comparison_id": np.repeat(np.arange(comparisons), k),
            "prompt_id": np.repeat([f"p{i}" for i in range(comparisons)], k),
            "model_a": "x",
            "model_b": "y",
            "score": np.where(wins.ravel(), 1, -1),
            "seconds": 30.0,
        }
    )
    pilot = pilot_estimates(frame)
    assert pilot.icc == pytest.approx(1 / (a + b + 1), abs=0.03)
    assert pilot.win_rate == pytest.approx(a / (a + b), abs=0.02)
    assert pilot.tie_rate == 0
    assert pilot.median_seconds == 30
    assert pilot.comparisons == comparisons
    assert pilot.pairs == 1


def test_pairs_of_different_strength_do_not_pass_for_alike_judgments():
    # Independent judgments; one pair wins 90%, the other 10%. Pooled naively, the comparison
    # means would differ a lot; within pairs there is nothing alike.
    rng = np.random.default_rng(6)
    rows = []
    for pair, rate in (("b", 0.9), ("c", 0.1)):
        wins = rng.random((500, 3)) < rate
        rows.append(
            pd.DataFrame(
                {
                    "comparison_id": np.repeat(np.arange(500), 3) + (0 if pair == "b" else 500),
                    "prompt_id": np.repeat([f"p{i}" for i in range(500)], 3),
                    "model_a": "a",
                    "model_b": pair,
                    "score": np.where(wins.ravel(), 2, -2),
                }
            )
        )
    pilot = pilot_estimates(pd.concat(rows, ignore_index=True))
    assert pilot.icc < 0.03
    assert math.isnan(pilot.median_seconds)


def test_a_pilot_without_repeated_comparisons_has_no_icc():
    frame = pd.DataFrame(
        {"prompt_id": ["p1", "p2"], "model_a": "a", "model_b": "b", "outcome": ["win", "tie"]}
    )
    pilot = pilot_estimates(frame)
    assert math.isnan(pilot.icc)
    assert pilot.tie_rate == 0.5
    with pytest.raises(ValueError, match="no judgments"):
        pilot_estimates(frame.iloc[:0])


# -- simulated studies of the planned size ------------------------------------------------------


def _replicated_half_widths(prompts, overlap, replications, seed, strength=0.0):
    """Win-rate half-widths of ``replications`` simulated studies of one pair, ``prompts`` each.

    The studies come from one simulated frame; each replication is its own pair (model B renamed),
    so that one ``pair_rates`` call computes every interval with its own bootstrap generator.
    """
    frame = simulate_judgments(
        n_models=2,
        strengths=[strength, 0.0],
        n_prompts=prompts * replications * 20,
        n_comparisons=prompts * replications,
        judgments_per_comparison=overlap,
        n_annotators=max(overlap, 3),
        seed=seed,
    )
    replication = (frame["comparison_id"].to_numpy() - 1) // prompts
    frame = frame.assign(model_b=[f"rep{r:03d}" for r in replication])
    rates = pair_rates(frame, rounds=1000, seed=seed)
    return (rates["win_rate_ci_high"] - rates["win_rate_ci_low"]).to_numpy() / 2, frame


def test_a_study_planned_for_the_worst_case_reaches_the_width_in_most_replications():
    # The win rate is about 35% here (ties take the rest), so planning at 50% leaves a margin
    # for the noise of the ICC, of the rate and of the bootstrap.
    target = 0.05
    _, pilot = _replicated_half_widths(1500, 3, 1, seed=10)
    estimates = pilot_estimates(pilot)
    plan = plan_study(half_width=target, overlap=3, icc=estimates.icc)
    widths, _ = _replicated_half_widths(plan.prompts, 3, 60, seed=11)
    # The report's bootstrap interval is the expanded percentile one, wider than the normal
    # closed form by the ratio of its quantile to z (about 1% at this size): plan to that width.
    widened = stats.norm.isf(expanded_tail(0.95, plan.prompts)) / stats.norm.isf(0.025)
    assert np.mean(widths <= target * widened) >= 0.75


def test_a_study_planned_at_the_true_rate_is_sized_right_on_average():
    # Planned at the pilot's win rate and ICC, half the studies land under the target and half
    # over: the median half-width is the target, within the noise of 60 replications.
    target = 0.06
    _, pilot = _replicated_half_widths(1500, 3, 1, seed=12, strength=0.8)
    estimates = pilot_estimates(pilot)
    plan = plan_study(win_rate=estimates.win_rate, half_width=target, overlap=3, icc=estimates.icc)
    widths, _ = _replicated_half_widths(plan.prompts, 3, 60, seed=13, strength=0.8)
    assert np.median(widths) == pytest.approx(target, rel=0.06)
    assert 0.2 < np.mean(widths <= target) < 0.8
