"""Bias checks, checked against scipy and statsmodels on hand-built frames and against the
biases planted in simulated judgments."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analysis import (
    annotator_summary,
    length_buckets,
    length_preference,
    position_preference,
    simulate_judgments,
)


def judgments(rows):
    """A frame from (outcome, shown_order, len_a, len_b, annotator, seconds) rows, one per prompt."""
    frame = pd.DataFrame(
        rows, columns=["outcome", "shown_order", "len_a", "len_b", "annotator", "seconds"]
    )
    return frame.assign(
        judgment_id=range(1, len(frame) + 1),
        prompt_id=[f"p{i}" for i in range(len(frame))],
        model_a="alpha",
        model_b="beta",
    )


def random_judgments(n, seed):
    rng = np.random.default_rng(seed)
    return judgments(
        list(
            zip(
                rng.choice(["win", "tie", "loss"], p=[0.45, 0.2, 0.35], size=n),
                rng.choice(["AB", "BA"], size=n),
                rng.integers(50, 400, size=n),
                rng.integers(50, 400, size=n),
                rng.choice(["ann", "bob", "cy"], size=n),
                rng.uniform(5, 90, size=n),
                strict=True,
            )
        )
    )


def assert_wilson_and_binomial(preference, k, n):
    assert (preference.n, preference.wins) == (n, k)
    assert preference.share == pytest.approx(k / n)
    scipy_ci = stats.binomtest(k, n).proportion_ci(method="wilson")
    assert (preference.ci_low, preference.ci_high) == pytest.approx((scipy_ci.low, scipy_ci.high))
    statsmodels_ci = proportion_confint(k, n, method="wilson")
    assert (preference.ci_low, preference.ci_high) == pytest.approx(statsmodels_ci)
    assert preference.p_value == pytest.approx(stats.binomtest(k, n, 0.5).pvalue)
    assert preference.method == "wilson" and preference.rounds is None


def test_position_preference_counts_the_left_side_and_matches_references():
    frame = random_judgments(300, seed=1)
    decided = frame[frame["outcome"] != "tie"]
    left_won = ((decided["shown_order"] == "AB") & (decided["outcome"] == "win")) | (
        (decided["shown_order"] == "BA") & (decided["outcome"] == "loss")
    )
    assert_wilson_and_binomial(position_preference(frame), int(left_won.sum()), len(decided))


def test_length_preference_counts_the_longer_side_and_leaves_out_equal_lengths():
    frame = random_judgments(300, seed=2)
    frame.loc[:20, "len_b"] = frame.loc[:20, "len_a"]
    decided = frame[(frame["outcome"] != "tie") & (frame["len_a"] != frame["len_b"])]
    longer_won = ((decided["len_a"] > decided["len_b"]) & (decided["outcome"] == "win")) | (
        (decided["len_a"] < decided["len_b"]) & (decided["outcome"] == "loss")
    )
    assert_wilson_and_binomial(length_preference(frame), int(longer_won.sum()), len(decided))


def test_planted_biases_are_found_and_absent_ones_are_not():
    biased = simulate_judgments(n_comparisons=1500, position_bias=0.5, length_bias=0.8, seed=3)
    position, length = position_preference(biased), length_preference(biased)
    assert position.method == "cluster_bootstrap" and position.rounds == 1000
    assert position.share > 0.55 and position.ci_low > 0.5 and position.p_value < 1e-6
    assert length.share > 0.55 and length.ci_low > 0.5 and length.p_value < 1e-6
    fair = simulate_judgments(n_comparisons=1500, seed=4)
    for preference in (position_preference(fair), length_preference(fair)):
        assert preference.ci_low < 0.5 < preference.ci_high


def test_length_buckets_follow_the_relative_difference():
    rows = [
        ("win", "AB", 100, 105, "ann", 10.0),  # 5% longer B, B lost
        ("loss", "AB", 100, 108, "ann", 10.0),  # 8% longer B, B won
        ("win", "BA", 120, 100, "ann", 10.0),  # 20% longer A, A won
        ("tie", "AB", 100, 300, "ann", 10.0),  # 200% longer B, tie
        ("loss", "BA", 0, 40, "ann", 10.0),  # against an empty response, B won
        ("win", "AB", 100, 100, "ann", 10.0),  # equal: left out
    ]
    table = length_buckets(judgments(rows)).set_index("length_bucket")
    assert list(table.index) == ["0%–10%", "10%–25%", "≥100%"]
    assert table.loc["0%–10%", ["wins", "ties", "losses"]].tolist() == [1, 0, 1]
    assert table.loc["10%–25%", ["wins", "ties", "losses"]].tolist() == [1, 0, 0]
    assert table.loc["≥100%", ["wins", "ties", "losses"]].tolist() == [1, 1, 0]
    assert table["n"].sum() == 5


def test_length_buckets_climb_with_a_planted_length_bias():
    frame = simulate_judgments(n_comparisons=2000, length_bias=1.0, seed=5)
    table = length_buckets(frame, rounds=200)
    assert table["win_rate"].iloc[-1] > table["win_rate"].iloc[0] + 0.1


def test_annotator_summary_matches_a_direct_count():
    frame = random_judgments(400, seed=6)
    summary = annotator_summary(frame).set_index("annotator")
    for name, mine in frame.groupby("annotator"):
        row = summary.loc[name]
        ties = int((mine["outcome"] == "tie").sum())
        decided = mine[mine["outcome"] != "tie"]
        left = int(
            (
                ((decided["shown_order"] == "AB") & (decided["outcome"] == "win"))
                | ((decided["shown_order"] == "BA") & (decided["outcome"] == "loss"))
            ).sum()
        )
        assert (row["n"], row["ties"], row["decided"], row["left_wins"]) == (
            len(mine),
            ties,
            len(decided),
            left,
        )
        assert (row["tie_rate_ci_low"], row["tie_rate_ci_high"]) == pytest.approx(
            proportion_confint(ties, len(mine), method="wilson")
        )
        assert (row["left_win_share_ci_low"], row["left_win_share_ci_high"]) == pytest.approx(
            proportion_confint(left, len(decided), method="wilson")
        )
        assert row["left_p_value"] == pytest.approx(stats.binomtest(left, len(decided)).pvalue)
        assert row["mean_seconds"] == pytest.approx(mine["seconds"].mean())


def test_tie_prone_annotators_stand_out():
    frame = simulate_judgments(n_comparisons=1500, tie_prone_annotators=2, seed=7)
    summary = annotator_summary(frame).set_index("annotator")
    prone = summary.loc[["annotator-0", "annotator-1"], "tie_rate_ci_low"]
    others = summary.drop(index=["annotator-0", "annotator-1"])["tie_rate_ci_high"]
    assert prone.min() > others.max()


def test_bad_bias_inputs_are_named():
    frame = random_judgments(10, seed=8)
    with pytest.raises(ValueError, match=r"judgment_id 4: shown_order is 'left'"):
        position_preference(frame.assign(shown_order=["AB"] * 3 + ["left"] + ["BA"] * 6))
    with pytest.raises(ValueError, match=r"judgment_id 1: len_b is -5"):
        length_preference(frame.assign(len_b=[-5] + [10] * 9))
    with pytest.raises(ValueError, match=r"judgment_id 2: prompt_id is missing"):
        length_preference(frame.assign(prompt_id=["p0", None] + ["p"] * 8))
    with pytest.raises(ValueError, match="'seconds'"):
        annotator_summary(frame.drop(columns="seconds"))
    with pytest.raises(ValueError, match="edges"):
        length_buckets(frame, edges=(0.5, 0.1))
    with pytest.raises(ValueError, match="edges"):
        length_buckets(frame, edges=(0.1, 0.5))


def test_no_decided_judgments_gives_an_empty_preference():
    frame = random_judgments(10, seed=9).assign(outcome="tie")
    preference = position_preference(frame)
    assert preference.n == 0 and np.isnan(preference.share) and np.isnan(preference.p_value)
