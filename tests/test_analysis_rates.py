"""Pair rates, graded scores and breakdowns, checked against scipy, statsmodels, slow reference
implementations written here, and properties that must hold."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from analysis import (
    breakdown,
    canonical_pairs,
    intervals,
    majority_outcomes,
    mean_scores,
    normalize_judgments,
    orient_judgments,
    orient_rates,
    outcome_from_score,
    outcome_mapping,
    pair_rates,
    prompt_outcome_counts,
    rates_by_category,
    rates_by_turns,
    score_distribution,
    simulate_judgments,
)
from analysis.intervals import distinct_rows

RATES = ["win_rate", "tie_rate", "loss_rate", "win_half_tie_rate"]
SIGN = {"win": 1, "tie": 0, "loss": -1}


def one_pair(outcomes, prompts=None, model_a="alpha", model_b="beta"):
    """A judgments frame for one pair; each judgment on its own prompt unless ``prompts`` given."""
    prompts = [f"p{i}" for i in range(len(outcomes))] if prompts is None else prompts
    return pd.DataFrame(
        {
            "judgment_id": range(1, len(outcomes) + 1),
            "prompt_id": prompts,
            "model_a": model_a,
            "model_b": model_b,
            "outcome": outcomes,
        }
    )


def counted(wins, ties, losses, **kwargs):
    return one_pair(["win"] * wins + ["tie"] * ties + ["loss"] * losses, **kwargs)


def clustered(n_prompts, seed, concentration=2.0, mean=(0.45, 0.2, 0.35), per_prompt=3):
    """Outcome labels for prompts whose own win/tie/loss chances scatter around ``mean``.

    Judgments of one prompt share its chances, so they are correlated as real annotators are.
    """
    rng = np.random.default_rng(seed)
    chances = rng.dirichlet(np.asarray(mean) * concentration, size=n_prompts)
    draws = rng.random((n_prompts, per_prompt, 1)) > np.cumsum(chances, axis=1)[:, None, :2]
    outcomes = np.array(["win", "tie", "loss"])[draws.sum(axis=2).ravel()]
    prompts = np.repeat([f"p{i}" for i in range(n_prompts)], per_prompt)
    return one_pair(list(outcomes), prompts=list(prompts))


def naive_cluster_bootstrap(frame, rounds, seed):
    """Textbook cluster bootstrap: draw prompts with replacement, pool their judgments."""
    rng = np.random.default_rng(seed)
    signs = frame["outcome"].map(SIGN).to_numpy()
    groups = [signs[index] for index in frame.groupby("prompt_id").indices.values()]
    samples = []
    for _ in range(rounds):
        pooled = np.concatenate([groups[i] for i in rng.integers(len(groups), size=len(groups))])
        wins, ties = np.mean(pooled == 1), np.mean(pooled == 0)
        samples.append([wins, ties, np.mean(pooled == -1), wins + ties / 2])
    tail = expanded_tail(len(groups))
    return np.quantile(np.array(samples), [tail, 1 - tail], axis=0)


def expanded_tail(n, confidence=0.95):
    """Hesterberg's expanded percentile tail: normal quantile sqrt(n / (n - 1)) * t_{n-1}."""
    return stats.norm.sf(np.sqrt(n / (n - 1)) * stats.t.ppf(0.5 + confidence / 2, n - 1))


# --- the judgments frame -------------------------------------------------------------------


def test_missing_columns_are_named():
    frame = counted(3, 1, 2)
    with pytest.raises(ValueError, match="'prompt_id'"):
        pair_rates(frame.drop(columns="prompt_id"))
    with pytest.raises(ValueError, match="'score' or 'outcome'"):
        pair_rates(frame.drop(columns="outcome"))
    with pytest.raises(ValueError, match="'score'"):
        mean_scores(frame)


def test_outcome_is_the_sign_of_the_score():
    scores = pd.Series([3, 2, 1, 0, -1, -2, -3])
    expected = ["win", "win", "win", "tie", "loss", "loss", "loss"]
    assert outcome_from_score(scores).tolist() == expected


def test_normalize_fills_whichever_column_is_missing():
    from_outcome = normalize_judgments(counted(1, 1, 1))
    assert from_outcome["score"].tolist() == [1, 0, -1]
    scored = counted(1, 1, 1).drop(columns="outcome").assign(score=[2, 0, -3])
    assert normalize_judgments(scored)["outcome"].tolist() == ["win", "tie", "loss"]


def test_bad_outcomes_are_named_by_judgment_id():
    frame = counted(2, 0, 1)
    with pytest.raises(ValueError, match=r"judgment_id 3: outcome 'draw'"):
        pair_rates(frame.assign(outcome=["win", "win", "draw"]))
    with pytest.raises(ValueError, match=r"judgment_id 2: outcome 'win' disagrees with score -1"):
        pair_rates(frame.assign(score=[1, -1, -1]))
    with pytest.raises(ValueError, match="judgment_id 1: score is missing"):
        pair_rates(frame.assign(score=[np.nan, 1, -1]))
    with pytest.raises(ValueError, match="both 'alpha'"):
        pair_rates(frame.assign(model_b="alpha"))
    with pytest.raises(ValueError, match="judgment_id 2: prompt_id is missing"):
        pair_rates(frame.assign(prompt_id=["p0", None, "p2"]))
    with pytest.raises(ValueError, match="judgment_id 1: category is missing"):
        rates_by_category(frame.assign(category=[None, "math", "math"]))


def test_pair_judged_both_ways_is_pooled_in_alphabetical_order():
    frame = pd.concat(
        [
            counted(3, 1, 0, model_a="zeta", model_b="eta"),  # one orientation: kept
            counted(2, 0, 1, model_a="beta", model_b="alpha"),  # turned around
            counted(1, 1, 4, model_a="alpha", model_b="beta"),
        ],
        ignore_index=True,
    ).assign(prompt_id=lambda f: [f"p{i}" for i in range(len(f))])
    rates = pair_rates(frame).set_index(["model_a", "model_b"])
    assert list(rates.index) == [("alpha", "beta"), ("zeta", "eta")]
    assert rates.loc[("alpha", "beta"), ["wins", "ties", "losses"]].tolist() == [2, 1, 6]
    assert rates.loc[("zeta", "eta"), ["wins", "ties", "losses"]].tolist() == [3, 1, 0]
    as_categories = frame.astype({"model_a": "category", "model_b": "category"})
    pd.testing.assert_frame_equal(
        pair_rates(as_categories).drop(columns=["model_a", "model_b"]),
        pair_rates(frame).drop(columns=["model_a", "model_b"]),
    )
    turned = canonical_pairs(frame.assign(shown_order="AB", len_a=1, len_b=2))
    flipped = turned["model_a"].eq("alpha") & frame["model_a"].eq("beta")
    assert turned.loc[flipped, "shown_order"].eq("BA").all()
    assert turned.loc[flipped, ["len_a", "len_b"]].eq([2, 1]).all().all()


# --- Wilson intervals and the sign test, one judgment per prompt ---------------------------

counts = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40)).filter(
    lambda c: sum(c) > 0
)


def many_pairs(count_tuples):
    """One pair per (wins, ties, losses) tuple, each judgment on its own prompt."""
    frame = pd.concat(
        [counted(*wtl, model_a=f"m{i:03d}") for i, wtl in enumerate(count_tuples)],
        ignore_index=True,
    )
    return frame.assign(prompt_id=[f"p{i}" for i in range(len(frame))])


@settings(max_examples=15, deadline=None)
@given(st.lists(counts, min_size=1, max_size=30))
@example([(0, 0, 5), (5, 0, 0), (0, 7, 0), (1, 0, 0), (20, 3, 20)])
def test_wilson_intervals_match_scipy_and_statsmodels(count_tuples):
    rates = pair_rates(many_pairs(count_tuples))
    for (wins, ties, losses), (_, row) in zip(count_tuples, rates.iterrows(), strict=True):
        n = wins + ties + losses
        assert row["method"] == "wilson" and pd.isna(row["rounds"]) and pd.isna(row["seed"])
        for rate, k in zip(RATES[:3], (wins, ties, losses), strict=True):
            scipy_ci = stats.binomtest(k, n).proportion_ci(method="wilson")
            statsmodels_ci = proportion_confint(k, n, method="wilson")
            assert row[f"{rate}_ci_low"] == pytest.approx(scipy_ci.low, abs=1e-12)
            assert row[f"{rate}_ci_high"] == pytest.approx(scipy_ci.high, abs=1e-12)
            assert row[f"{rate}_ci_low"] == pytest.approx(statsmodels_ci[0], abs=1e-12)
            assert row[f"{rate}_ci_high"] == pytest.approx(statsmodels_ci[1], abs=1e-12)
        # win + half tie: Wilson on wins + ties/2 (statsmodels takes a fractional count)
        low, high = proportion_confint(wins + ties / 2, n, method="wilson")
        assert row["win_half_tie_rate"] == pytest.approx((wins + ties / 2) / n)
        assert row["win_half_tie_rate_ci_low"] == pytest.approx(low, abs=1e-12)
        assert row["win_half_tie_rate_ci_high"] == pytest.approx(high, abs=1e-12)
        if wins + losses:
            assert row["p_value"] == pytest.approx(stats.binomtest(wins, wins + losses).pvalue)
        else:
            assert np.isnan(row["p_value"])


@settings(max_examples=15, deadline=None)
@given(
    st.lists(counts, min_size=1, max_size=20),
    st.sampled_from(["wilson", "cluster_bootstrap"]),
    st.integers(0, 2**31),
)
def test_rates_sum_to_one_and_intervals_hold_the_estimate(count_tuples, method, seed):
    rates = pair_rates(many_pairs(count_tuples), method=method, rounds=200, seed=seed)
    assert rates[["win_rate", "tie_rate", "loss_rate"]].sum(axis=1).to_numpy() == pytest.approx(1)
    assert rates[["wins", "ties", "losses"]].to_numpy().tolist() == [list(c) for c in count_tuples]
    for rate in RATES:
        assert (rates[f"{rate}_ci_low"] >= 0).all() and (rates[f"{rate}_ci_high"] <= 1).all()
        assert (rates[f"{rate}_ci_low"] <= rates[rate] + 1e-12).all()
        assert (rates[rate] <= rates[f"{rate}_ci_high"] + 1e-12).all()


def test_reorienting_a_pair_swaps_wins_and_losses():
    frame = pd.concat(
        [
            counted(5, 2, 9, model_a="alpha", model_b="beta"),
            counted(7, 0, 3, model_a="beta", model_b="gamma"),
            counted(4, 4, 1, model_a="alpha", model_b="gamma"),
        ],
        ignore_index=True,
    ).assign(prompt_id=lambda f: [f"p{i}" for i in range(len(f))])
    rates = pair_rates(frame)
    turned = orient_rates(rates, "beta")
    recomputed = pair_rates(orient_judgments(frame, "beta"))
    pd.testing.assert_frame_equal(
        turned.sort_values(["model_a", "model_b"]).reset_index(drop=True), recomputed
    )
    before = rates.set_index(["model_a", "model_b"]).loc[("alpha", "beta")]
    after = turned.set_index(["model_a", "model_b"]).loc[("beta", "alpha")]
    assert (after["wins"], after["ties"], after["losses"]) == (9, 2, 5)
    assert after["win_half_tie_rate"] == pytest.approx(1 - before["win_half_tie_rate"])
    assert after["p_value"] == before["p_value"]


def test_wilson_and_half_tie_coverage_on_independent_judgments():
    """Intervals from many simulated pairs with known rates cover them about 95% of the time."""
    rng = np.random.default_rng(11)
    truth = {"win": 0.3, "tie": 0.25, "loss": 0.45}
    reps, n = 400, 80
    labels = rng.choice(list(truth), p=list(truth.values()), size=(reps, n))
    frame = pd.concat(
        [one_pair(list(row), model_a=f"m{r:03d}", model_b="ref") for r, row in enumerate(labels)]
    )
    rates = pair_rates(frame)
    assert set(rates["method"]) == {"wilson"}
    covered = (rates["win_rate_ci_low"] <= 0.3) & (rates["win_rate_ci_high"] >= 0.3)
    assert 0.92 <= covered.mean() <= 0.98
    half = 0.3 + 0.25 / 2
    covered = (rates["win_half_tie_rate_ci_low"] <= half) & (
        half <= rates["win_half_tie_rate_ci_high"]
    )
    assert covered.mean() >= 0.94  # conservative by construction


# --- several annotators per prompt: the cluster bootstrap ---------------------------------


def test_method_is_chosen_per_pair_and_can_be_forced():
    single = counted(4, 3, 5)
    multi = clustered(30, seed=1).assign(model_a="gamma")
    frame = pd.concat([single, multi], ignore_index=True)
    auto = pair_rates(frame, rounds=300, seed=9).set_index("model_a")
    assert auto.loc["alpha", "method"] == "wilson" and pd.isna(auto.loc["alpha", "rounds"])
    assert auto.loc["gamma", "method"] == "cluster_bootstrap"
    assert (auto.loc["gamma", "rounds"], auto.loc["gamma", "seed"]) == (300, 9)
    assert auto.loc["gamma", "n"] == 90 and auto.loc["gamma", "n_prompts"] == 30
    assert set(pair_rates(frame, method="wilson")["method"]) == {"wilson"}
    assert set(pair_rates(frame, method="cluster_bootstrap")["method"]) == {"cluster_bootstrap"}


@pytest.mark.parametrize(
    "settings_, message",
    [
        ({"method": "bca"}, "method"),
        ({"rounds": 0}, "rounds"),
        ({"seed": -1}, "seed"),
        ({"confidence": 1.5}, "confidence"),
    ],
)
def test_bad_settings_are_refused(settings_, message):
    with pytest.raises(ValueError, match=message):
        pair_rates(counted(1, 1, 1), **settings_)


@pytest.mark.parametrize("dtype", [np.int64, float])
def test_distinct_rows_per_group_match_numpy_unique(dtype):
    rng = np.random.default_rng(12)
    rows = rng.integers(-4, 9, size=(3000, 3)).astype(dtype)
    group = np.sort(rng.integers(0, 11, size=3000))
    expected, frequency = np.unique(np.column_stack([group, rows]), axis=0, return_counts=True)
    found_group, found_rows, found_frequency = distinct_rows(rows, group)
    assert found_group.tolist() == expected[:, 0].tolist()
    assert found_rows.tolist() == expected[:, 1:].tolist()
    assert found_frequency.tolist() == frequency.tolist()


def test_bootstrap_matches_a_naive_cluster_bootstrap():
    frame = clustered(150, seed=2)
    frame = frame[~frame.index.isin([1, 2, 7, 30, 31])]  # uneven cluster sizes
    ours = pair_rates(frame, rounds=4000, seed=5).iloc[0]
    reference = naive_cluster_bootstrap(frame, rounds=4000, seed=6)
    for column, rate in enumerate(RATES):
        assert ours[f"{rate}_ci_low"] == pytest.approx(reference[0, column], abs=0.012)
        assert ours[f"{rate}_ci_high"] == pytest.approx(reference[1, column], abs=0.012)


@pytest.mark.parametrize("picking", [True, False])
def test_pair_rates_by_either_way_match_a_textbook_bootstrap(monkeypatch, picking):
    """Prompts with many judgments each, so that most prompts have a row of their own."""
    frame = simulate_judgments(
        n_models=2, n_prompts=120, n_comparisons=700, n_annotators=30, seed=4
    )
    counts = prompt_outcome_counts(frame)[["wins", "ties", "losses"]].to_numpy()
    _, _, frequency = distinct_rows(counts, np.zeros(len(counts), dtype=np.int64))
    assert len(frequency) > 0.6 * frequency.sum()  # the case picking is made for
    monkeypatch.setattr(intervals, "_picking_is_cheaper", lambda frequency: picking)
    ours = pair_rates(frame, rounds=4000, seed=5).iloc[0]
    reference = naive_cluster_bootstrap(frame, rounds=4000, seed=6)
    for column, rate in enumerate(RATES):
        assert ours[f"{rate}_ci_low"] == pytest.approx(reference[0, column], abs=0.012)
        assert ours[f"{rate}_ci_high"] == pytest.approx(reference[1, column], abs=0.012)


def test_bootstrap_with_one_judgment_per_prompt_approaches_wilson():
    rng = np.random.default_rng(3)
    frame = one_pair(list(rng.choice(["win", "tie", "loss"], p=[0.35, 0.2, 0.45], size=3000)))
    wilson = pair_rates(frame).iloc[0]
    boot = pair_rates(frame, method="cluster_bootstrap", rounds=4000, seed=1).iloc[0]
    for rate in RATES[:3]:
        for end in ("_ci_low", "_ci_high"):
            assert boot[rate + end] == pytest.approx(wilson[rate + end], abs=0.004)


def test_bootstrap_keeps_coverage_where_wilson_loses_it():
    """Correlated judgments: the bootstrap over prompts covers the true rate ~95% of the time;
    Wilson intervals that treat the judgments as independent are too narrow."""
    reps = 300
    frame = pd.concat(
        [clustered(100, seed=1000 + r).assign(model_a=f"m{r:03d}") for r in range(reps)]
    )
    truth = {"win_rate": 0.45, "tie_rate": 0.2, "loss_rate": 0.35, "win_half_tie_rate": 0.55}

    def coverage(rates, rate):
        return (
            (rates[f"{rate}_ci_low"] <= truth[rate]) & (truth[rate] <= rates[f"{rate}_ci_high"])
        ).mean()

    boot = pair_rates(frame, rounds=400, seed=4)
    naive = pair_rates(frame, method="wilson")
    for rate in truth:
        assert 0.91 <= coverage(boot, rate) <= 0.985, rate
    assert coverage(naive, "win_rate") < 0.9
    assert coverage(boot, "win_rate") - coverage(naive, "win_rate") > 0.04


def test_p_value_is_a_sign_test_over_prompts():
    frame = clustered(60, seed=8)
    signs = frame["outcome"].map(SIGN)
    net = signs.groupby(frame["prompt_id"]).sum()
    expected = stats.binomtest(int((net > 0).sum()), int((net != 0).sum())).pvalue
    assert pair_rates(frame, rounds=100).iloc[0]["p_value"] == pytest.approx(expected)


def test_results_are_reproducible_and_independent_of_row_order():
    frame = pd.concat([clustered(40, seed=5), counted(3, 4, 5, model_a="delta")], ignore_index=True)
    first = pair_rates(frame, rounds=500, seed=3)
    shuffled = frame.sample(frac=1, random_state=7)
    pd.testing.assert_frame_equal(first, pair_rates(shuffled, rounds=500, seed=3))
    other_seed = pair_rates(frame, rounds=500, seed=4)
    assert not np.allclose(first["win_rate_ci_low"], other_seed["win_rate_ci_low"])
    # a pair's numbers do not depend on the other pairs in the frame
    alone = pair_rates(frame[frame["model_a"] == "alpha"], rounds=500, seed=3)
    pd.testing.assert_frame_equal(alone, first[first["model_a"] == "alpha"].reset_index(drop=True))


def test_threads_do_not_change_the_numbers(monkeypatch):
    frame = simulate_judgments(n_models=6, n_comparisons=3000, seed=10)
    threaded = pair_rates(frame, rounds=300), mean_scores(frame, rounds=300)
    monkeypatch.setattr("analysis.intervals._available_cores", lambda: 1)
    serial = pair_rates(frame, rounds=300), mean_scores(frame, rounds=300)
    for one, other in zip(threaded, serial, strict=True):
        pd.testing.assert_frame_equal(one, other)


# --- the majority view --------------------------------------------------------------------


def reference_majority(votes):
    ranked = Counter(votes).most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return "tie"
    return ranked[0][0]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["win", "tie", "loss"]), min_size=1, max_size=5),
        min_size=1,
        max_size=20,
    )
)
def test_majority_outcome_per_prompt(votes_per_prompt):
    outcomes = [vote for votes in votes_per_prompt for vote in votes]
    prompts = [f"p{i:02d}" for i, votes in enumerate(votes_per_prompt) for _ in votes]
    majority = majority_outcomes(one_pair(outcomes, prompts=prompts))
    by_prompt = majority.set_index("prompt_id")
    for i, votes in enumerate(votes_per_prompt):
        assert by_prompt.loc[f"p{i:02d}", "outcome"] == reference_majority(votes)
        assert by_prompt.loc[f"p{i:02d}", "votes"] == len(votes)
    rates = pair_rates(majority).iloc[0]
    assert rates["method"] == "wilson" and rates["n"] == len(votes_per_prompt)


def test_majority_keeps_prompt_columns():
    frame = simulate_judgments(n_comparisons=50, seed=2)
    majority = majority_outcomes(frame)
    assert {"category", "turns"} <= set(majority.columns)
    assert len(majority) == frame.groupby(["model_a", "model_b", "prompt_id"]).ngroups


# --- graded scores ------------------------------------------------------------------------


def test_mean_score_t_interval_matches_scipy_and_statsmodels():
    rng = np.random.default_rng(4)
    scores = rng.integers(-3, 4, size=57)
    frame = one_pair(["tie"] * 57).drop(columns="outcome").assign(score=scores, scale=7)
    row = mean_scores(frame).iloc[0]
    assert row["method"] == "t" and row["scale"] == 7
    assert row["mean_score"] == pytest.approx(scores.mean())
    low, high = stats.t.interval(0.95, len(scores) - 1, loc=scores.mean(), scale=stats.sem(scores))
    assert (row["mean_score_ci_low"], row["mean_score_ci_high"]) == pytest.approx((low, high))
    low, high = DescrStatsW(scores.astype(float)).tconfint_mean(alpha=0.05)
    assert (row["mean_score_ci_low"], row["mean_score_ci_high"]) == pytest.approx((low, high))


def test_mean_score_bootstrap_matches_a_naive_cluster_bootstrap():
    frame = simulate_judgments(
        n_models=2, n_comparisons=120, judgments_per_comparison=(1, 4), seed=6
    )
    row = mean_scores(frame, rounds=4000, seed=2).iloc[0]
    assert row["method"] == "cluster_bootstrap"
    rng = np.random.default_rng(9)
    groups = [g.to_numpy() for _, g in frame.groupby("prompt_id")["score"]]
    means = [
        np.concatenate([groups[i] for i in rng.integers(len(groups), size=len(groups))]).mean()
        for _ in range(4000)
    ]
    tail = expanded_tail(len(groups))
    low, high = np.quantile(means, [tail, 1 - tail])
    assert row["mean_score_ci_low"] == pytest.approx(low, abs=0.04)
    assert row["mean_score_ci_high"] == pytest.approx(high, abs=0.04)


@pytest.mark.parametrize("scale", [7, 5, 3, 2])
def test_outcome_mapping_states_every_point(scale):
    table = outcome_mapping(scale)
    margin = {7: 3, 5: 2, 3: 1, 2: 1}[scale]
    assert table["score"].max() == margin and table["score"].min() == -margin
    assert len(table) == scale
    expected = np.select([table["score"] > 0, table["score"] < 0], ["win", "loss"], "tie")
    assert table["outcome"].tolist() == expected.tolist()
    assert table["label"].iloc[0].startswith("A ") and table["label"].iloc[-1].startswith("B ")
    assert ("Tie" in table["label"].tolist()) == (scale % 2 == 1)
    if scale == 7:
        assert table["label"].tolist()[::3] == ["A much better", "Tie", "B much better"]


def test_score_distribution_counts_every_point_of_the_scale():
    frame = one_pair(["tie"] * 6).drop(columns="outcome").assign(score=[3, 3, 1, 0, -1, 3], scale=7)
    distribution = score_distribution(frame).set_index("score")
    assert list(distribution.index) == [3, 2, 1, 0, -1, -2, -3]
    expected = frame["score"].value_counts().reindex(range(3, -4, -1), fill_value=0)
    assert distribution["count"].tolist() == expected.tolist()
    assert distribution["share"].sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="more than one scale"):
        score_distribution(frame.assign(scale=[7, 7, 7, 5, 5, 5]))


# --- breakdowns ---------------------------------------------------------------------------


def test_category_breakdown_equals_the_report_on_each_category():
    frame = simulate_judgments(
        n_comparisons=200, judgments_per_comparison=1, n_prompts=5000, seed=7
    )
    table = rates_by_category(frame, rounds=200)
    for category, rows in table.groupby("category"):
        alone = pair_rates(frame[frame["category"] == category], rounds=200)
        pd.testing.assert_frame_equal(rows.drop(columns="category").reset_index(drop=True), alone)
    assert table["n"].sum() == len(frame)


def test_one_pass_breakdown_equals_pair_rates_on_each_group():
    """Bootstrapped groups, two grouping columns, categorical columns, a pair judged both ways:
    every row is what pair_rates gives on its group once pairs are oriented over the frame."""
    frame = simulate_judgments(n_models=4, n_prompts=60, n_comparisons=900, seed=12)
    turned = frame.index < 40
    frame.loc[turned, ["model_a", "model_b"]] = frame.loc[turned, ["model_b", "model_a"]].to_numpy()
    frame.loc[turned, "score"] = -frame.loc[turned, "score"]
    frame = frame.drop(columns="outcome").astype({"category": "category", "prompt_id": "category"})
    by = ["category", "turns"]
    boot = {"method": "cluster_bootstrap", "rounds": 200, "seed": 3}  # groups of a few prompts
    table = breakdown(frame, by, **boot)
    pieces = []
    for key, group in canonical_pairs(frame).groupby(by, sort=True, observed=True):
        alone = pair_rates(group, **boot)
        pieces.append(alone.assign(category=key[0], turns=key[1])[by + list(alone.columns)])
    expected = pd.concat(pieces, ignore_index=True).astype({"category": "str"})
    assert set(table["method"]) == {"cluster_bootstrap"}
    pd.testing.assert_frame_equal(table, expected)


def test_turn_breakdown_splits_single_from_multi_turn():
    frame = simulate_judgments(n_comparisons=200, seed=8)
    table = rates_by_turns(frame, rounds=100)
    assert set(table["turn_kind"]) == {"single-turn", "multi-turn"}
    single = table[table["turn_kind"] == "single-turn"]["n"].sum()
    assert single == (frame["turns"] == 1).sum()
    assert table[table["turn_kind"] == "multi-turn"]["n"].sum() == (frame["turns"] > 1).sum()
    with pytest.raises(ValueError, match="turns"):
        rates_by_turns(frame.assign(turns=0))


def test_breakdown_orients_each_pair_once_over_the_whole_frame():
    frame = pd.concat(
        [
            counted(2, 0, 1, model_a="beta", model_b="alpha").assign(category="math"),
            counted(1, 1, 1, model_a="alpha", model_b="beta").assign(category="code"),
        ],
        ignore_index=True,
    ).assign(prompt_id=lambda f: [f"p{i}" for i in range(len(f))])
    table = breakdown(frame, "category", report=pair_rates).set_index("category")
    assert set(table["model_a"]) == {"alpha"}
    assert table.loc["math", ["wins", "losses"]].tolist() == [1, 2]


def test_bootstrap_at_zero_or_one_falls_back_to_wilson_over_prompts():
    """Every round of a one-sided pair has the same rate; the interval must still have width."""
    rows = [
        {"prompt_id": f"p{i}", "model_a": "a", "model_b": "b", "score": -1, "annotator": f"r{j}"}
        for i in range(30)
        for j in range(3)
    ]
    rates = pair_rates(pd.DataFrame(rows), rounds=200).iloc[0]
    assert rates["method"] == "cluster_bootstrap"
    wilson = stats.binomtest(0, 30).proportion_ci(method="wilson")
    assert (rates["win_rate_ci_low"], rates["win_rate_ci_high"]) == pytest.approx(
        (0.0, wilson.high)
    )
    assert (rates["loss_rate_ci_low"], rates["loss_rate_ci_high"]) == pytest.approx(
        (1 - wilson.high, 1.0)
    )
