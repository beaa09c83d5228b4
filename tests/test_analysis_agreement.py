"""Agreement coefficients, checked against statsmodels, the krippendorff package, plain loops over
pairs of ratings written from the textbook formulas, and published worked examples worked by hand."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import krippendorff
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats import inter_rater

from analysis.agreement import (
    Agreement,
    agreement_summary,
    cohens_kappa,
    fleiss_kappa,
    gwet_ac,
    krippendorff_alpha,
    pairwise_agreement,
)


def _frame(items: list[list[float]], *, scale: int | None = None) -> pd.DataFrame:
    """Judgments from a table of items x raters; NaN where a rater did not judge the item."""
    rows = [
        (item, f"rater-{rater}", int(value))
        for item, ratings in enumerate(items)
        for rater, value in enumerate(ratings)
        if not np.isnan(value)
    ]
    frame = pd.DataFrame(rows, columns=["comparison_id", "annotator", "score"])
    return frame if scale is None else frame.assign(scale=scale)


def _random_frame(
    seed: int, *, n_items: int = 150, raters: tuple[int, int] = (1, 4)
) -> pd.DataFrame:
    """7-point scores from six annotators who share a latent view per item, plus noise."""
    rng = np.random.default_rng(seed)
    table = np.full((n_items, 6), np.nan)
    for item in range(n_items):
        latent = rng.normal(0, 1.5)
        who = rng.choice(6, size=rng.integers(raters[0], raters[1] + 1), replace=False)
        table[item, who] = np.clip(np.round(latent + rng.normal(0, 1, len(who))), -3, 3)
    return _frame(table.tolist(), scale=7)


def _by_item(frame: pd.DataFrame) -> list[list[int]]:
    return [list(group) for _, group in frame.groupby("comparison_id")["score"]]


def _weight(k: int, j: int, categories: list[int], kind: str) -> float:
    """Agreement weight between categories at ranks k and j, from Gwet's handbook, chapter 3."""
    span = categories[-1] - categories[0]
    if kind == "identity":
        return float(k == j)
    if kind == "linear":
        return 1 - abs(categories[k] - categories[j]) / span
    if kind == "quadratic":
        return 1 - (categories[k] - categories[j]) ** 2 / span**2
    # ordinal: M_kl = C(max - min + 1, 2) on 1-based ranks, divided by the largest M_kl
    q = len(categories)
    largest = max(comb(max(a, b) - min(a, b) + 1, 2) for a in range(q) for b in range(q))
    return 1 - comb(max(k, j) - min(k, j) + 1, 2) / largest


def _loop_coefficients(
    items: list[list[int]], categories: list[int], kind: str
) -> tuple[float, float]:
    """(Gwet's AC, Fleiss' kappa) by plain loops: pa as the mean weight over ordered pairs of
    distinct ratings of an item, averaged over items with two or more ratings."""
    rank = {value: k for k, value in enumerate(categories)}
    q = len(categories)
    per_item = []
    for ratings in items:
        if len(ratings) >= 2:
            pairs = list(itertools.permutations(ratings, 2))
            per_item.append(
                sum(_weight(rank[a], rank[b], categories, kind) for a, b in pairs) / len(pairs)
            )
    pa = sum(per_item) / len(per_item)
    pi = [sum(r.count(c) / len(r) for r in items) / len(items) for c in categories]
    total_weight = sum(_weight(k, j, categories, kind) for k in range(q) for j in range(q))
    gwet_chance = total_weight / (q * (q - 1)) * sum(p * (1 - p) for p in pi)
    fleiss_chance = sum(
        _weight(k, j, categories, kind) * pi[k] * pi[j] for k in range(q) for j in range(q)
    )
    return (pa - gwet_chance) / (1 - gwet_chance), (pa - fleiss_chance) / (1 - fleiss_chance)


# Gwet's four-rater example with missing ratings (the irrCAC package's ``cac.raw4raters``).
GWET_EXAMPLE = [
    [1, 1, np.nan, 1],
    [2, 2, 3, 2],
    [3, 3, 3, 3],
    [3, 3, 3, 3],
    [2, 2, 2, 2],
    [1, 2, 3, 4],
    [4, 4, 4, 4],
    [1, 1, 2, 1],
    [2, 2, 2, 2],
    [np.nan, 5, 5, 5],
    [np.nan, np.nan, 1, 1],
    [np.nan, np.nan, 3, np.nan],
]


def test_gwet_ac1_on_gwets_worked_example():
    # Items with two or more ratings: all but the last (n' = 11). Per item, the share of agreeing
    # ordered pairs: 1, 1/2 (2,2,3,2: 6 of 12), 1, 1, 1, 0 (1,2,3,4), 1, 1/2, 1, 1, 1 -> pa = 9/11.
    # Category shares pi_k = mean over the 12 items of r_ik / r_i:
    #   pi_1 = (1 + 1/4 + 3/4 + 1) / 12 = 3/12, pi_2 = (3/4 + 1 + 1/4 + 1/4 + 1) / 12 = 3.25/12,
    #   pi_3 = (1/4 + 1 + 1 + 1/4 + 1) / 12 = 3.5/12, pi_4 = 1.25/12, pi_5 = 1/12.
    # sum pi_k^2 = (9 + 10.5625 + 12.25 + 1.5625 + 1) / 144 = 34.375 / 144.
    # AC1: pe = (1 - sum pi^2) / (q - 1) = (109.625 / 144) / 4 = 877 / 4608; published: 0.7754.
    pa, pe = Fraction(9, 11), Fraction(877, 4608)
    expected = float((pa - pe) / (1 - pe))
    result = gwet_ac(_frame(GWET_EXAMPLE))
    assert result.value == pytest.approx(expected, abs=1e-12)
    assert round(result.value, 4) == 0.7754
    assert (result.n_items, result.n_ratings) == (12, 41)
    # Fleiss' kappa generalised to varying raters: pe = sum pi^2; published: 0.7612.
    fleiss_pe = Fraction(34375, 144000)
    fleiss = fleiss_kappa(_frame(GWET_EXAMPLE)).value
    assert fleiss == pytest.approx(float((pa - fleiss_pe) / (1 - fleiss_pe)), abs=1e-12)
    assert round(fleiss, 4) == 0.7612


def test_krippendorff_alpha_on_gwets_worked_example():
    reliability = np.array(GWET_EXAMPLE, dtype=float).T  # raters x items
    for level in ("nominal", "ordinal", "interval"):
        expected = krippendorff.alpha(reliability_data=reliability, level_of_measurement=level)
        result = krippendorff_alpha(_frame(GWET_EXAMPLE), level=level)
        assert result.value == pytest.approx(expected, abs=1e-12)
    # Published for this data set (nominal): 0.7434; the last item has one rating and drops out.
    nominal = krippendorff_alpha(_frame(GWET_EXAMPLE), level="nominal")
    assert round(nominal.value, 4) == 0.7434
    assert (nominal.n_items, nominal.n_ratings) == (11, 40)


def test_gwet_ac2_with_ordinal_weights_worked_by_hand():
    # Categories 1, 2, 3 (q = 3). Ordinal weights: 1 - C(d + 1, 2) / C(3, 2) for ranks d apart:
    # d = 0 -> 1, d = 1 -> 2/3, d = 2 -> 0; the sum of all nine weights T_w = 3 + 4 * 2/3 = 17/3.
    items = [[1, 1, 2], [2, 3, np.nan], [3, 3, 3], [1, np.nan, np.nan]]
    # Item 1, counts (2, 1, 0): r* = (2 + 2/3, 4/3 + 1, 2/3) = (8/3, 7/3, 2/3);
    #   sum r_k (r*_k - 1) = 2 * 5/3 + 1 * 4/3 = 14/3, over r (r - 1) = 6 -> 7/9.
    # Item 2, counts (0, 1, 1): r* = (2/3, 5/3, 5/3); 2/3 + 2/3 = 4/3, over 2 -> 2/3.
    # Item 3: 1. Item 4 has one rating. pa = (7/9 + 2/3 + 1) / 3 = 22/27.
    # pi over the 4 items: pi_1 = (2/3 + 1) / 4 = 5/12, pi_2 = (1/3 + 1/2) / 4 = 5/24,
    #   pi_3 = (1/2 + 1) / 4 = 3/8; sum pi (1 - pi) = 1 - (100 + 25 + 81) / 576 = 185/288.
    # pe = T_w / (q (q - 1)) * 185/288 = 17/18 * 185/288 = 3145/5184.
    pa, pe = Fraction(22, 27), Fraction(3145, 5184)
    assert float((pa - pe) / (1 - pe)) == pytest.approx(1079 / 2039)
    result = gwet_ac(_frame(items), weights="ordinal")
    assert result.value == pytest.approx(1079 / 2039, abs=1e-12)
    assert result.method == "Gwet's AC2 (ordinal weights)"
    # AC1 on the same items: pa = (1/3 + 0 + 1) / 3 = 4/9, pe = 185/288 / 2 = 185/576,
    # AC1 = (256 - 185) / (576 - 185) = 71/391.
    assert gwet_ac(_frame(items)).value == pytest.approx(71 / 391, abs=1e-12)


def test_ordinal_weights_for_five_categories():
    # 1 - C(d + 1, 2) / C(5, 2) for d = 0..4: 1, 1 - 1/10, 1 - 3/10, 1 - 6/10, 0.
    expected = [1.0, 0.9, 0.7, 0.4, 0.0]
    assert [_weight(0, d, [1, 2, 3, 4, 5], "ordinal") for d in range(5)] == pytest.approx(expected)
    # An item rated 1 and 2 agrees 0.9 under ordinal weights; against a 1-1 item, the pair of items
    # gives pa = (0.9 + 1) / 2, which the module must reproduce.
    ratings = [[1, 2], [1, 1], [5, 5], [3, 4]]
    loop, _ = _loop_coefficients(ratings, [1, 2, 3, 4, 5], "ordinal")
    assert gwet_ac(_frame(ratings), weights="ordinal").value == pytest.approx(loop, abs=1e-12)


def test_fleiss_kappa_on_fleiss_1971_table():
    # The classic table (10 subjects, 14 raters, 5 categories; also Wikipedia's example):
    # column totals 20, 28, 39, 21, 32 of 140 -> P_e = (400 + 784 + 1521 + 441 + 1024) / 140^2
    # = 0.2128; mean P_i = 0.3780; kappa = (0.3780 - 0.2128) / (1 - 0.2128) = 0.210.
    table = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    items = [np.repeat(np.arange(1, 6), row).tolist() for row in table]
    result = fleiss_kappa(_frame(items))
    assert round(result.value, 3) == 0.210
    assert result.value == pytest.approx(inter_rater.fleiss_kappa(table), abs=1e-12)
    assert (result.n_items, result.n_ratings) == (10, 140)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fleiss_kappa_matches_statsmodels_with_equal_raters(seed):
    frame = _random_frame(seed, raters=(3, 3))
    wide = frame.pivot(index="comparison_id", columns="annotator", values="score")
    # every item has three ratings, from different annotators: collect them in rating order
    ratings = np.sort(wide.to_numpy(), axis=1)[:, :3]
    counts, _ = inter_rater.aggregate_raters(ratings.astype(int))
    assert fleiss_kappa(frame).value == pytest.approx(
        inter_rater.fleiss_kappa(counts, method="fleiss"), abs=1e-12
    )


@pytest.mark.parametrize("kind", ["identity", "linear", "quadratic", "ordinal"])
@pytest.mark.parametrize("seed", [4, 5])
def test_gwet_and_fleiss_match_plain_loops_with_missing_ratings(kind, seed):
    frame = _random_frame(seed)
    loop_gwet, loop_fleiss = _loop_coefficients(_by_item(frame), list(range(-3, 4)), kind)
    assert gwet_ac(frame, weights=kind).value == pytest.approx(loop_gwet, abs=1e-12)
    assert fleiss_kappa(frame, weights=kind).value == pytest.approx(loop_fleiss, abs=1e-12)


def test_unused_scale_points_count_for_gwets_chance_agreement():
    # Only -1, 0 and 1 used, but the 7-point scale has seven categories, so q = 7, not 3.
    frame = _random_frame(6).assign(score=lambda f: np.sign(f["score"]))
    on_scale = gwet_ac(frame)
    assert on_scale.categories == tuple(range(-3, 4))
    assert on_scale.value == pytest.approx(
        _loop_coefficients(_by_item(frame), list(range(-3, 4)), "identity")[0], abs=1e-12
    )
    observed_only = gwet_ac(frame.drop(columns="scale"))
    assert observed_only.categories == (-1, 0, 1)
    assert observed_only.value == pytest.approx(
        _loop_coefficients(_by_item(frame), [-1, 0, 1], "identity")[0], abs=1e-12
    )


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
@pytest.mark.parametrize("seed", [7, 8])
def test_krippendorff_alpha_matches_the_krippendorff_package(level, seed):
    frame = _random_frame(seed)
    reliability = frame.pivot(index="annotator", columns="comparison_id", values="score")
    expected = krippendorff.alpha(
        reliability_data=reliability.to_numpy(dtype=float), level_of_measurement=level
    )
    result = krippendorff_alpha(frame, level=level)
    assert result.value == pytest.approx(expected, abs=1e-12)
    assert result.n_items == (reliability.notna().sum() >= 2).sum()


@pytest.mark.parametrize("kind", ["identity", "linear", "quadratic"])
def test_cohens_kappa_matches_statsmodels(kind):
    frame = _random_frame(9, raters=(2, 5))
    wide = frame.pivot(index="comparison_id", columns="annotator", values="score")
    both = wide[["rater-1", "rater-4"]].dropna().astype(int)
    values = np.arange(-3, 4)
    joint = pd.crosstab(both["rater-1"], both["rater-4"]).reindex(
        index=values, columns=values, fill_value=0
    )
    if kind == "identity":
        expected = inter_rater.cohens_kappa(joint.to_numpy(), return_results=False)
    else:
        expected = inter_rater.cohens_kappa(
            joint.to_numpy(), weights=values, wt=kind, return_results=False
        )
    result = cohens_kappa(frame, "rater-1", "rater-4", weights=kind)
    assert result.value == pytest.approx(expected, abs=1e-12)
    assert (result.n_items, result.n_ratings) == (len(both), 2 * len(both))
    swapped = cohens_kappa(frame, "rater-4", "rater-1", weights=kind)
    assert swapped.value == pytest.approx(result.value, abs=1e-12)


def _outcome(score: int) -> str:
    return "win" if score > 0 else "loss" if score < 0 else "tie"


@pytest.mark.parametrize("ties", [True, False])
def test_pairwise_agreement_matches_a_loop_over_pairs_of_judgments(ties):
    frame = _random_frame(10)
    agree = total = 0
    for ratings in _by_item(frame):
        for a, b in itertools.combinations([_outcome(s) for s in ratings], 2):
            if ties or "tie" not in (a, b):
                agree += a == b
                total += 1
    result = pairwise_agreement(frame, ties=ties)
    assert result.value == pytest.approx(agree / total, abs=1e-12)
    assert result.on == "outcome"


def test_pairwise_agreement_by_hand():
    # Item 1: win, win, tie -> pairs (w, w) agree, (w, t) and (w, t) do not: 1 of 3; without ties
    # only (w, w) remains: 1 of 1. Item 2: loss, win -> 0 of 1 both ways. Item 3: one judgment.
    frame = _frame([[2, 1, 0], [-1, 3, np.nan], [1, np.nan, np.nan]])
    with_ties = pairwise_agreement(frame)
    assert with_ties.value == pytest.approx(1 / 4)
    assert (with_ties.n_items, with_ties.n_ratings) == (2, 5)
    without = pairwise_agreement(frame, ties=False)
    assert without.value == pytest.approx(1 / 2)
    assert (without.n_items, without.n_ratings) == (2, 4)


def test_perfect_agreement_gives_one():
    items = [[v, v, v] for v in (-3, -1, 0, 2, 3, 1)]
    frame = _frame(items, scale=7)
    for result in (
        gwet_ac(frame),
        gwet_ac(frame, weights="ordinal"),
        fleiss_kappa(frame),
        krippendorff_alpha(frame, level="nominal"),
        krippendorff_alpha(frame, level="ordinal"),
        cohens_kappa(frame, "rater-0", "rater-2", weights="quadratic"),
        pairwise_agreement(frame),
        pairwise_agreement(frame, ties=False),
    ):
        assert result.value == pytest.approx(1.0), result.method


def test_ac2_equals_ac1_when_weights_cannot_differ():
    # On a two-point scale every weighting gives the identity matrix.
    rng = np.random.default_rng(11)
    frame = _frame(rng.choice([-1, 1], size=(40, 3)).astype(float).tolist(), scale=2)
    ac1 = gwet_ac(frame).value
    for kind in ("linear", "quadratic", "ordinal"):
        assert gwet_ac(frame, weights=kind).value == pytest.approx(ac1, abs=1e-12)


def test_row_order_and_annotator_names_do_not_matter():
    frame = _random_frame(12)
    shuffled = frame.sample(frac=1.0, random_state=3)
    renamed = shuffled.assign(annotator=shuffled["annotator"].map(lambda a: a.upper()))
    pd.testing.assert_frame_equal(agreement_summary(frame), agreement_summary(renamed))


def test_items_fall_back_to_prompt_and_pair_in_either_orientation():
    frame = pd.DataFrame(
        {
            "prompt_id": ["p1", "p1", "p1", "p2", "p2"],
            "model_a": ["x", "y", "x", "x", "y"],
            "model_b": ["y", "x", "y", "y", "x"],
            "annotator": ["ann", "bob", "cy", "ann", "bob"],
            # p1: x better for all three (the second row is y-vs-x, so its score is negative)
            "score": [2, -2, 2, 1, 1],
        }
    )
    result = gwet_ac(frame)
    assert (result.n_items, result.n_ratings) == (2, 5)
    by_comparison = frame.assign(comparison_id=[1, 1, 1, 2, 2], score=[2, 2, 2, 1, -1])
    assert result.value == pytest.approx(gwet_ac(by_comparison).value, abs=1e-12)
    assert pairwise_agreement(frame).value == pytest.approx(3 / 4)


def test_summary_collects_every_coefficient():
    frame = _random_frame(13)
    summary = agreement_summary(frame)
    assert list(summary.columns) == ["method", "on", "value", "n_items", "n_ratings"]
    expected = [
        pairwise_agreement(frame),
        pairwise_agreement(frame, ties=False),
        fleiss_kappa(frame),
        krippendorff_alpha(frame, level="nominal"),
        krippendorff_alpha(frame, level="ordinal"),
        gwet_ac(frame),
        gwet_ac(frame, weights="ordinal"),
    ]
    assert list(summary["method"]) == [r.method for r in expected]
    np.testing.assert_allclose(summary["value"], [r.value for r in expected], atol=1e-12)
    assert list(summary["n_items"]) == [r.n_items for r in expected]
    two = frame[frame["annotator"].isin(["rater-0", "rater-1"])]
    last = agreement_summary(two).iloc[-1]
    assert last["method"] == "Cohen's kappa"
    assert last["value"] == pytest.approx(cohens_kappa(two, "rater-0", "rater-1").value)


def test_outcomes_work_without_scores():
    frame = _random_frame(14)
    labels = frame.assign(outcome=frame["score"].map(_outcome)).drop(columns="score")
    result = gwet_ac(labels, on="outcome")
    assert isinstance(result, Agreement)
    assert result.categories == (-1, 0, 1)
    assert result.value == pytest.approx(gwet_ac(frame, on="outcome").value)
    signs = frame.assign(score=np.sign(frame["score"])).drop(columns="scale")
    assert result.value == pytest.approx(gwet_ac(signs).value, abs=1e-12)


def test_bad_input_is_named():
    frame = _random_frame(15)
    twice = pd.concat([frame, frame.iloc[[4]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"row \d+: annotator 'rater-\d' judged this comparison"):
        gwet_ac(twice)
    mixed = frame.assign(scale=np.where(frame.index % 2, 7, 5))
    with pytest.raises(ValueError, match="5-point and 7-point"):
        fleiss_kappa(mixed)
    assert fleiss_kappa(mixed, on="outcome").categories == (-1, 0, 1)
    off = frame.assign(scale=5)
    with pytest.raises(ValueError, match=r"score -?3 is not on the scale"):
        gwet_ac(off)
    with pytest.raises(ValueError, match="annotator 'nobody'"):
        cohens_kappa(frame, "rater-0", "nobody")
    with pytest.raises(ValueError, match="weights must be one of"):
        gwet_ac(frame, weights="cubic")
    with pytest.raises(ValueError, match="level must be one of"):
        krippendorff_alpha(frame, level="ratio")
    with pytest.raises(ValueError, match="on must be one of"):
        agreement_summary(frame, on="margin")
    with pytest.raises(ValueError, match="at least one judgment"):
        gwet_ac(frame.iloc[:0])
    with pytest.raises(ValueError, match="annotator"):
        cohens_kappa(frame.drop(columns="annotator"), "rater-0", "rater-1")
