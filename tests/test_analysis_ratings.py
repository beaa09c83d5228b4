"""Bradley-Terry ratings, checked against choix, a statsmodels logistic regression, a direct
scipy fit of Davidson's likelihood, data drawn from known strengths, and properties that must hold."""

from __future__ import annotations

import math

import choix
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize

from analysis import ratings
from analysis.ratings import (
    ELO_SCALE,
    SEPARATION_RIDGE,
    Ratings,
    bradley_terry,
    pair_counts,
)

MODELS = ["alpha", "bravo", "charlie", "delta", "echo"]


def _draw(
    strengths: list[float],
    *,
    per_pair: int,
    nu: float = 0.0,
    judgments_per_prompt: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """Judgments of every pair drawn from Davidson's model (plain Bradley-Terry when nu is 0).

    Each prompt is judged ``judgments_per_prompt`` times, independently; A and B are assigned at
    random so that both orientations occur.
    """
    rng = np.random.default_rng(seed)
    pi = np.exp(strengths)
    rows = []
    prompt = 0
    for i in range(len(strengths)):
        for j in range(i + 1, len(strengths)):
            tie = nu * math.sqrt(pi[i] * pi[j])
            p = np.array([pi[i], tie, pi[j]]) / (pi[i] + pi[j] + tie)
            for _ in range(per_pair):
                swap = rng.random() < 0.5
                for outcome in rng.choice([1, 0, -1], size=judgments_per_prompt, p=p):
                    a, b, score = (j, i, -outcome) if swap else (i, j, outcome)
                    rows.append((f"p{prompt}", MODELS[a], MODELS[b], int(score)))
                prompt += 1
    return pd.DataFrame(rows, columns=["prompt_id", "model_a", "model_b", "score"])


def _differences(result: Ratings) -> pd.Series:
    """Ratings relative to the first model alphabetically: what every fit must agree on."""
    ratings = result.table.set_index("model")["rating"].sort_index()
    return ratings - ratings.iloc[0]


def _as_elo(strengths: np.ndarray) -> pd.Series:
    values = pd.Series(ELO_SCALE * np.asarray(strengths), index=MODELS[: len(strengths)])
    return values - values.iloc[0]


SAMPLE = _draw([0.8, 0.3, 0.0, -0.4, -0.9], per_pair=60, nu=0.6, seed=1)


def test_pair_counts_match_a_crosstab():
    counts = pair_counts(SAMPLE)
    first = np.minimum(SAMPLE["model_a"], SAMPLE["model_b"])
    flipped = SAMPLE["model_a"] != first
    score = np.where(flipped, -SAMPLE["score"], SAMPLE["score"])
    expected = pd.crosstab(
        [first, np.maximum(SAMPLE["model_a"], SAMPLE["model_b"])], np.sign(score)
    )
    for row in counts.itertuples():
        cell = expected.loc[(row.model_a, row.model_b)]
        assert (row.wins, row.ties, row.losses) == (cell[1], cell[0], cell[-1])
    assert counts[["wins", "ties", "losses"]].to_numpy().sum() == len(SAMPLE)
    assert (counts["model_a"] < counts["model_b"]).all()


def test_known_strengths_are_recovered():
    truth = np.array([1.0, 0.5, 0.0, -0.5, -1.0])
    frame = _draw(list(truth), per_pair=2000, seed=2)
    result = bradley_terry(frame, rounds=20)
    # 2000 judgments per pair: the standard error of a difference is about 0.05 (9 Elo points).
    np.testing.assert_allclose(_differences(result), _as_elo(truth), atol=0.15 * ELO_SCALE)
    assert list(result.table["model"]) == MODELS  # best first


def test_davidson_recovers_strengths_and_nu():
    truth = np.array([0.6, 0.2, 0.0, -0.3, -0.5])
    frame = _draw(list(truth), per_pair=2000, nu=0.8, seed=3)
    result = bradley_terry(frame, method="davidson", rounds=20)
    np.testing.assert_allclose(_differences(result), _as_elo(truth), atol=0.15 * ELO_SCALE)
    assert result.nu == pytest.approx(0.8, abs=0.05)


def test_half_wins_match_choix():
    # Counting a tie as one win each way while counting every decisive judgment twice doubles the
    # half-wins likelihood, so choix's maximum likelihood estimate must be the same point.
    comparisons = []
    for row in SAMPLE.itertuples():
        a, b = MODELS.index(row.model_a), MODELS.index(row.model_b)
        if row.score > 0:
            comparisons += [(a, b), (a, b)]
        elif row.score < 0:
            comparisons += [(b, a), (b, a)]
        else:
            comparisons += [(a, b), (b, a)]
    strengths = choix.ilsr_pairwise(len(MODELS), comparisons, alpha=0.0, tol=1e-12)
    result = bradley_terry(SAMPLE, rounds=10)
    np.testing.assert_allclose(_differences(result), _as_elo(strengths), atol=1e-4)


def test_half_wins_match_logistic_regression_with_arena_scaling():
    # Chatbot Arena's fit: a logistic regression on +ln 10 / -ln 10 columns for the two models,
    # rating = 1000 + 400 * coefficient. Ties enter as half a success (a fractional binomial).
    counts = pair_counts(SAMPLE)
    design = np.zeros((len(counts), len(MODELS)))
    for k, row in enumerate(counts.itertuples()):
        design[k, MODELS.index(row.model_a)] = math.log(10)
        design[k, MODELS.index(row.model_b)] = -math.log(10)
    successes = counts["wins"] + counts["ties"] / 2
    failures = counts["losses"] + counts["ties"] / 2
    glm = sm.GLM(
        np.column_stack([successes, failures]),
        design[:, 1:],  # the first model is the reference, coefficient 0
        family=sm.families.Binomial(),
    ).fit(tol=1e-12)
    expected = pd.Series(400 * np.concatenate([[0.0], glm.params]), index=MODELS)
    np.testing.assert_allclose(_differences(bradley_terry(SAMPLE, rounds=10)), expected, atol=1e-4)


def _davidson_negative_loglik(params: np.ndarray, counts: pd.DataFrame) -> float:
    """Davidson (1970) written out plainly: pi = exp(strength), the first model fixed at 1."""
    pi = dict(zip(MODELS, np.exp(np.concatenate([[0.0], params[:-1]])), strict=True))
    nu = math.exp(params[-1])
    total = 0.0
    for row in counts.itertuples():
        a, b = pi[row.model_a], pi[row.model_b]
        tie = nu * math.sqrt(a * b)
        denominator = a + b + tie
        total += row.wins * math.log(a / denominator)
        total += row.ties * math.log(tie / denominator)
        total += row.losses * math.log(b / denominator)
    return -total


def test_davidson_matches_a_direct_maximisation():
    counts = pair_counts(SAMPLE)
    direct = optimize.minimize(
        _davidson_negative_loglik,
        np.zeros(len(MODELS)),
        args=(counts,),
        method="BFGS",
        options={"gtol": 1e-9},
    )
    result = bradley_terry(SAMPLE, method="davidson", rounds=10)
    assert result.log_likelihood == pytest.approx(-direct.fun, abs=1e-6)
    assert result.log_likelihood >= -direct.fun - 1e-9
    assert result.nu == pytest.approx(math.exp(direct.x[-1]), rel=1e-4)
    expected = _as_elo(np.concatenate([[0.0], direct.x[:-1]]))
    np.testing.assert_allclose(_differences(result), expected, atol=0.05)


def test_half_wins_log_likelihood_is_the_binomial_one():
    result = bradley_terry(SAMPLE, rounds=10)
    theta = result.table.set_index("model")["rating"] / ELO_SCALE
    expected = 0.0
    for row in pair_counts(SAMPLE).itertuples():
        p = 1 / (1 + math.exp(theta[row.model_b] - theta[row.model_a]))
        expected += (row.wins + row.ties / 2) * math.log(p)
        expected += (row.losses + row.ties / 2) * math.log(1 - p)
    assert result.log_likelihood == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize("method", ["half-wins", "davidson"])
def test_row_order_does_not_matter(method):
    shuffled = SAMPLE.sample(frac=1.0, random_state=7)
    first = bradley_terry(SAMPLE, method=method, rounds=50, seed=5)
    second = bradley_terry(shuffled, method=method, rounds=50, seed=5)
    pd.testing.assert_frame_equal(first.table, second.table, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("resample", ["prompts", "judgments"])
def test_swapping_a_and_b_gives_the_same_ratings(resample):
    swapped = SAMPLE.assign(
        model_a=SAMPLE["model_b"], model_b=SAMPLE["model_a"], score=-SAMPLE["score"]
    )
    first = bradley_terry(SAMPLE, rounds=50, resample=resample)
    second = bradley_terry(swapped, rounds=50, resample=resample)
    pd.testing.assert_frame_equal(first.table, second.table, rtol=1e-9, atol=1e-9)


def test_outcome_labels_give_the_same_fit_as_scores():
    labels = SAMPLE.assign(outcome=np.sign(SAMPLE["score"]).map({1: "win", 0: "tie", -1: "loss"}))
    from_labels = bradley_terry(labels.drop(columns="score"), rounds=20)
    pd.testing.assert_frame_equal(from_labels.table, bradley_terry(SAMPLE, rounds=20).table)


def test_a_model_that_always_wins_ranks_first():
    frame = SAMPLE.copy()
    involved = (frame["model_a"] == "echo") | (frame["model_b"] == "echo")
    frame.loc[involved, "score"] = np.where(frame.loc[involved, "model_a"] == "echo", 2, -2)
    result = bradley_terry(frame, rounds=100)
    top = result.table.iloc[0]
    assert (top["model"], top["rank"], top["rank_low"], top["rank_high"]) == ("echo", 1, 1, 1)
    # No finite maximum likelihood estimate exists, so the documented ridge keeps it finite.
    assert result.ridge == SEPARATION_RIDGE
    assert np.isfinite(result.table[["rating", "ci_low", "ci_high"]].to_numpy()).all()
    assert top["rating"] > result.table.iloc[1]["rating"] + 400


def test_models_never_compared_across_groups_still_get_finite_ratings():
    frame = SAMPLE[
        SAMPLE[["model_a", "model_b"]].isin(["alpha", "bravo"]).all(axis=1)
        | SAMPLE[["model_a", "model_b"]].isin(["charlie", "delta", "echo"]).all(axis=1)
    ]
    result = bradley_terry(frame, rounds=20)
    assert result.ridge == SEPARATION_RIDGE
    assert np.isfinite(result.table["rating"]).all()


def test_a_connected_sample_needs_no_ridge():
    assert bradley_terry(SAMPLE, rounds=10).ridge == 0.0


def test_intervals_contain_the_point_estimates():
    for method in ("half-wins", "davidson"):
        result = bradley_terry(SAMPLE, method=method, rounds=300, seed=11)
        table = result.table
        assert (table["ci_low"] <= table["rating"]).all()
        assert (table["rating"] <= table["ci_high"]).all()
        assert (table["rank_low"] <= table["rank"]).all()
        assert (table["rank"] <= table["rank_high"]).all()
        assert (table["ci_high"] - table["ci_low"] > 0).all()
    assert result.nu_interval[0] <= result.nu <= result.nu_interval[1]


def test_ranks_and_counts():
    result = bradley_terry(SAMPLE, rounds=50)
    table = result.table
    assert list(table["rank"]) == sorted(table["rank"])
    assert (np.diff(table["rating"]) <= 0).all()
    for row in table.itertuples():
        expected = ((SAMPLE["model_a"] == row.model) | (SAMPLE["model_b"] == row.model)).sum()
        assert row.n == expected
    assert result.n_judgments == len(SAMPLE)
    assert result.n_prompts == SAMPLE["prompt_id"].nunique()


def test_mean_rating_is_1000_or_the_anchor_is():
    centred = bradley_terry(SAMPLE, rounds=50)
    assert centred.table["rating"].mean() == pytest.approx(1000.0)
    anchored = bradley_terry(SAMPLE, rounds=50, anchor="charlie")
    row = anchored.table.set_index("model").loc["charlie"]
    assert (row["rating"], row["ci_low"], row["ci_high"]) == (1000.0, 1000.0, 1000.0)
    np.testing.assert_allclose(_differences(anchored), _differences(centred), atol=1e-9)
    assert anchored.anchor == "charlie" and centred.anchor is None


def test_the_result_records_how_it_was_made():
    result = bradley_terry(SAMPLE, method="davidson", rounds=40, seed=9, resample="judgments")
    assert (result.method, result.rounds, result.seed, result.resample) == (
        "davidson",
        40,
        9,
        "judgments",
    )
    assert result.confidence == 0.95
    again = bradley_terry(SAMPLE, method="davidson", rounds=40, seed=9, resample="judgments")
    pd.testing.assert_frame_equal(result.table, again.table)
    other = bradley_terry(SAMPLE, method="davidson", rounds=40, seed=10, resample="judgments")
    assert not np.allclose(result.table["ci_low"], other.table["ci_low"])
    assert bradley_terry(SAMPLE, rounds=10).nu is None


def _spread(frame: pd.DataFrame, rounds: int, seed: int) -> pd.Series:
    """Standard deviation of each rating under a plain loop bootstrap that resamples prompts."""
    rng = np.random.default_rng(seed)
    groups = [group for _, group in frame.groupby("prompt_id")]
    draws = []
    for _ in range(rounds):
        picked = pd.concat([groups[k] for k in rng.integers(len(groups), size=len(groups))])
        fit = bradley_terry(picked.assign(prompt_id=np.arange(len(picked))), rounds=1)
        draws.append(fit.table.set_index("model")["rating"])
    return pd.concat(draws, axis=1).std(axis=1)


def test_prompt_bootstrap_matches_a_plain_loop_and_widens_for_clusters(monkeypatch):
    # Each prompt judged three times: judgments of a prompt share the prompt, so resampling
    # judgments one by one would understate the uncertainty of a prompt-level effect.
    frame = _draw([0.5, 0.0, -0.5], per_pair=80, nu=0.5, judgments_per_prompt=3, seed=4)
    duplicated = pd.concat([frame.iloc[::3]] * 3, ignore_index=True)  # three identical judgments
    by_prompt = bradley_terry(duplicated, rounds=1000, seed=1)
    by_judgment = bradley_terry(duplicated, rounds=1000, seed=1, resample="judgments")
    width = by_prompt.table["ci_high"] - by_prompt.table["ci_low"]
    narrow = by_judgment.table["ci_high"] - by_judgment.table["ci_low"]
    # Identical triplicates: the judgment bootstrap sees three times the data, so its intervals
    # shrink by about sqrt(3).
    np.testing.assert_allclose(width / narrow, math.sqrt(3), rtol=0.2)

    loop = _spread(frame, rounds=200, seed=2)
    # Both ways of drawing prompts: one multinomial over distinct prompt rows, or prompt indices.
    for cost in (0, math.inf):
        monkeypatch.setattr(ratings, "_MULTINOMIAL_COST", cost)
        fast = bradley_terry(frame, rounds=2000, seed=3).table.set_index("model")
        # the central 95% of a normal spans 3.92 standard deviations
        np.testing.assert_allclose((fast["ci_high"] - fast["ci_low"]) / 3.92, loop, rtol=0.2)
        # and centred on the estimate, as resamples of the data's own prompts must be
        middle = (fast["ci_high"] + fast["ci_low"]) / 2
        assert (abs(middle - fast["rating"]) < 0.1 * (fast["ci_high"] - fast["ci_low"])).all()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="method"):
        bradley_terry(SAMPLE, method="elo")
    with pytest.raises(ValueError, match="resample"):
        bradley_terry(SAMPLE, resample="annotators")
    with pytest.raises(ValueError, match="anchor model 'zulu'"):
        bradley_terry(SAMPLE, anchor="zulu")
    with pytest.raises(ValueError, match="rounds"):
        bradley_terry(SAMPLE, rounds=0)
    with pytest.raises(ValueError, match="seed"):
        bradley_terry(SAMPLE, seed=-1)
    with pytest.raises(ValueError, match="confidence"):
        bradley_terry(SAMPLE, confidence=95)
    with pytest.raises(ValueError, match="prompt_id"):
        bradley_terry(SAMPLE.drop(columns="prompt_id"))
    with pytest.raises(ValueError, match="score' or 'outcome"):
        pair_counts(SAMPLE.drop(columns="score"))
    same = SAMPLE.assign(model_b=SAMPLE["model_a"])
    with pytest.raises(ValueError, match="two different models"):
        bradley_terry(same)
    missing = SAMPLE.assign(prompt_id=SAMPLE["prompt_id"].where(SAMPLE.index != 7))
    with pytest.raises(ValueError, match="row 7: prompt_id is missing"):
        bradley_terry(missing)
    with pytest.raises(ValueError, match="at least one judgment"):
        bradley_terry(SAMPLE.iloc[:0])
