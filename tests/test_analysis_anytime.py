"""Anytime-valid confidence sequences: checked by simulation (watched after every prompt, they
err at most 5% of the time, where the fixed interval errs far more), against a step-by-step
implementation of Waudby-Smith & Ramdas's hedged betting wealth, and by properties."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis import pair_rates
from analysis.anytime import (
    anytime_interval,
    anytime_rates,
    confidence_sequence,
    log_wealth,
    prompts_for_half_width,
    with_anytime,
)
from analysis.intervals import wilson_interval

ALPHA = 0.05
RUNS, PROMPTS = 400, 2000
# Monte Carlo error of a share near 5% over RUNS runs, times 2.5
SLACK = 2.5 * math.sqrt(ALPHA * (1 - ALPHA) / RUNS)


def ever_excluded(wins, judgments, rate):
    """Per run: whether the sequence excluded ``rate`` after any prompt."""
    return (log_wealth(wins, judgments, rate) >= math.log(1 / ALPHA)).any(axis=-1)


def test_watching_after_every_prompt_errs_at_most_five_percent_where_the_fixed_interval_does_not():
    rng = np.random.default_rng(20)
    wins = (rng.random((RUNS, PROMPTS)) < 0.5).astype(float)
    judgments = np.ones_like(wins)
    anytime_errors = ever_excluded(wins, judgments, 0.5).mean()
    # the same runs, checking the Wilson interval (one judgment per prompt) after every prompt
    so_far = np.cumsum(wins, axis=1)
    low, high = wilson_interval(so_far, np.broadcast_to(np.arange(1, PROMPTS + 1), so_far.shape))
    fixed_errors = ((low > 0.5) | (high < 0.5)).any(axis=1).mean()
    assert anytime_errors <= ALPHA + SLACK
    assert fixed_errors > ALPHA + SLACK
    assert fixed_errors > 4 * anytime_errors


def test_alike_judgments_of_one_prompt_keep_the_guarantee():
    # Each prompt has 1 to 3 judgments sharing the prompt's own chance of a win, drawn around
    # one half: judgments within a prompt are correlated, prompts are not.
    rng = np.random.default_rng(21)
    judgments = rng.integers(1, 4, (RUNS, PROMPTS)).astype(float)
    chance = rng.beta(1.0, 1.0, (RUNS, PROMPTS))
    wins = rng.binomial(judgments.astype(int), chance).astype(float)
    assert (
        ever_excluded(
            wins,
            judgments,
            0.5,
        ).mean()
        <= ALPHA + SLACK
    )


def test_a_rate_far_from_one_half_is_covered_at_every_look():
    rng = np.random.default_rng(22)
    judgments = np.full((RUNS, PROMPTS), 3.0)
    chance = rng.beta(8.0, 2.0, (RUNS, PROMPTS))  # mean 0.8
    wins = rng.binomial(3, chance).astype(float)
    assert ever_excluded(wins, judgments, 0.8).mean() <= ALPHA + SLACK


def test_the_rate_is_per_judgment_when_prompts_have_different_numbers_of_judgments():
    # Prompts with 3 judgments win 80%, prompts with 1 win 20%: per judgment the rate is
    # (3 · 0.8 + 0.2) / 4 = 0.65, while the mean of the prompts' shares is 0.5.
    rng = np.random.default_rng(23)
    judgments = np.where(rng.random(20_000) < 0.5, 3.0, 1.0)
    wins = rng.binomial(judgments.astype(int), np.where(judgments == 3, 0.8, 0.2)).astype(float)
    low, high = anytime_interval(wins, judgments)
    assert low[0] < 0.65 < high[0]
    assert low[0] > 0.5


def hedged_wealth_step_by_step(outcomes, rate, alpha=ALPHA, truncation=0.5):
    """Waudby-Smith & Ramdas (2023), hedged capital with predictable plug-in bets, written out
    one observation at a time for 0/1 outcomes, as their paper defines it."""
    up = down = 1.0
    mean_sum, square_sum = 0.5, 0.25
    variance = 0.25
    path = []
    for t, x in enumerate(outcomes, start=1):
        bet = math.sqrt(2 * math.log(2 / alpha) / (variance * t * math.log(1 + t)))
        up *= 1 + min(bet, truncation / rate) * (x - rate)
        down *= 1 - min(bet, truncation / (1 - rate)) * (x - rate)
        mean_sum += x
        running_mean = mean_sum / (t + 1)
        square_sum += (x - running_mean) ** 2
        variance = square_sum / (t + 1)
        path.append(max(up, down) / 2)
    return np.array(path)


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.71])
def test_wealth_matches_the_paper_step_by_step(rate):
    outcomes = (np.random.default_rng(24).random(300) < 0.6).astype(float)
    expected = hedged_wealth_step_by_step(outcomes, rate)
    got = np.exp(log_wealth(outcomes, np.ones(300), rate))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_the_interval_ends_are_where_the_wealth_crosses_the_threshold():
    rng = np.random.default_rng(25)
    judgments = rng.integers(1, 4, 500).astype(float)
    wins = rng.binomial(judgments.astype(int), 0.4).astype(float)
    (low,), (high,) = anytime_interval(wins, judgments)
    threshold = math.log(1 / ALPHA)
    final = lambda m: log_wealth(wins, judgments, m)[-1]  # noqa: E731
    assert final(low - 1e-6) >= threshold > final(low + 1e-6)
    assert final(high + 1e-6) >= threshold > final(high - 1e-6)
    inside = np.linspace(low + 1e-6, high - 1e-6, 50)
    assert all(final(m) < threshold for m in inside)


def test_the_whole_sequence_holds_the_last_interval_and_only_narrows():
    rng = np.random.default_rng(26)
    wins = (rng.random(800) < 0.3).astype(float)
    low, high = confidence_sequence(wins, np.ones(800))
    assert np.all(np.diff(low) >= 0) and np.all(np.diff(high) <= 0)
    (last_low,), (last_high,) = anytime_interval(wins, np.ones(800))
    # the running intersection may be narrower than the last interval, by at most the grid
    assert last_low - 1 / 2000 <= low[-1] and high[-1] <= last_high + 1 / 2000
    # every look excluding a rate agrees with the wealth at that look
    excluded = log_wealth(wins, np.ones(800), 0.45) >= math.log(1 / ALPHA)
    first_exclusion = np.argmax(excluded) if excluded.any() else None
    assert first_exclusion is not None
    assert high[first_exclusion] <= 0.45 + 1 / 2000


def test_the_sequence_narrows_like_the_fixed_interval_but_wider():
    rng = np.random.default_rng(27)
    widths = []
    for n in (100, 1000, 10_000):
        wins = (rng.random(n) < 0.5).astype(float)
        (low,), (high,) = anytime_interval(wins, np.ones(n))
        wilson_low, wilson_high = wilson_interval(wins.sum(), n)
        widths.append(high - low)
        assert 1.0 < (high - low) / (wilson_high - wilson_low) < 3.0
    assert widths[0] > widths[1] > widths[2]


def test_rows_are_sequences_of_their_own_and_padding_changes_nothing():
    rng = np.random.default_rng(28)
    first = (rng.random(50) < 0.7).astype(float)
    second = (rng.random(80) < 0.4).astype(float)
    wins = np.zeros((2, 80))
    judgments = np.zeros((2, 80))
    wins[0, :50], judgments[0, :50] = first, 1
    wins[1], judgments[1] = second, 1
    low, high = anytime_interval(wins, judgments)
    alone = [anytime_interval(x, np.ones(len(x))) for x in (first, second)]
    np.testing.assert_allclose(low, [a[0][0] for a in alone])
    np.testing.assert_allclose(high, [a[1][0] for a in alone])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="between 0 and its judgments"):
        anytime_interval(np.array([2.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="same shape"):
        log_wealth(np.ones(3), np.ones(2), 0.5)
    with pytest.raises(ValueError, match="confidence"):
        anytime_interval(np.ones(3), np.ones(3), confidence=1.0)


# -- on judgments frames -------------------------------------------------------------------------


def frame_of(outcomes_by_prompt, model_a="a", model_b="b"):
    """A judgments frame: one prompt per inner list of scores, judgments in list order."""
    rows = []
    for prompt, scores in enumerate(outcomes_by_prompt):
        for score in scores:
            rows.append(
                {"prompt_id": f"p{prompt}", "model_a": model_a, "model_b": model_b, "score": score}
            )
    frame = pd.DataFrame(rows)
    frame.insert(0, "judgment_id", np.arange(1, len(frame) + 1))
    return frame


def test_frame_sequences_take_prompts_in_order_of_their_first_judgment():
    rng = np.random.default_rng(29)
    scores = [list(rng.choice([1, 0, -1], size=3)) for _ in range(200)]
    frame = frame_of(scores)
    got = anytime_rates(frame)
    wins = np.array([sum(s > 0 for s in p) for p in scores], dtype=float)
    low, high = anytime_interval(wins, np.full(200, 3.0))
    assert got[["anytime_ci_low", "anytime_ci_high"]].to_numpy()[0] == pytest.approx(
        [low[0], high[0]]
    )
    # row order is not arrival order: shuffled rows give the same sequence
    shuffled = anytime_rates(frame.sample(frac=1, random_state=1))
    pd.testing.assert_frame_equal(shuffled, got)
    # a different arrival order is a different sequence (still valid, not the same numbers)
    reordered = frame.assign(judgment_id=frame["judgment_id"].to_numpy()[::-1])
    assert not np.allclose(
        anytime_rates(reordered)[["anytime_ci_low", "anytime_ci_high"]].to_numpy(),
        got[["anytime_ci_low", "anytime_ci_high"]].to_numpy(),
    )


def test_pairs_are_oriented_as_pair_rates_orients_them():
    forward = frame_of([[1], [1], [-1], [1]] * 10, "x", "y")
    backward = frame_of([[-1], [-1], [1], [-1]] * 10, "y", "x")
    backward["judgment_id"] += len(forward)
    both = pd.concat([forward, backward], ignore_index=True)
    got = anytime_rates(both)
    rates = pair_rates(both)
    assert list(got[["model_a", "model_b"]].iloc[0]) == list(rates[["model_a", "model_b"]].iloc[0])
    # the same 40 prompts judged both ways: turned, each prompt holds two alike judgments
    assert got["n_prompts"].iloc[0] == 40 == rates["n_prompts"].iloc[0]
    wins = np.array([2.0, 2.0, 0.0, 2.0] * 10)
    expected = anytime_interval(wins, np.full(40, 2.0))
    assert got["anytime_ci_low"].iloc[0] == pytest.approx(expected[0][0])
    assert got["anytime_ci_high"].iloc[0] == pytest.approx(expected[1][0])


def test_the_reported_sequence_holds_the_fixed_interval():
    rng = np.random.default_rng(30)
    frames = []
    for i, rate in enumerate((0.2, 0.5, 0.8)):
        scores = [list(np.where(rng.random(2) < rate, 1, -1)) for _ in range(60 + 40 * i)]
        frames.append(frame_of(scores, "a", f"b{i}"))
    frame = pd.concat(frames, ignore_index=True)
    frame["judgment_id"] = np.arange(1, len(frame) + 1)
    rates = with_anytime(pair_rates(frame), frame)
    assert (rates["anytime_ci_low"] <= rates["win_rate_ci_low"]).all()
    assert (rates["anytime_ci_high"] >= rates["win_rate_ci_high"]).all()
    raw = anytime_rates(frame)
    assert (rates["anytime_ci_low"].to_numpy() <= raw["anytime_ci_low"].to_numpy()).all()
    assert (rates["anytime_ci_high"].to_numpy() >= raw["anytime_ci_high"].to_numpy()).all()
    empty = with_anytime(pair_rates(frame.iloc[:0]), frame.iloc[:0])
    assert {"anytime_ci_low", "anytime_ci_high"} <= set(empty.columns)


def test_the_narrowing_law_predicts_simulated_widths():
    rng = np.random.default_rng(31)

    def median_half_width(n, rate=0.3):
        wins = (rng.random((80, n)) < rate).astype(float)
        low, high = anytime_interval(wins, np.ones_like(wins))
        return float(np.median(high - low) / 2)

    start = median_half_width(100)
    for n in (400, 2000):
        width = median_half_width(n)
        # from the width at 100 prompts, the law puts this width at n prompts, within 6%
        assert prompts_for_half_width(start, 100, width * 1.06) <= n
        assert prompts_for_half_width(start, 100, width * 0.94) >= n
        # a plain square-root law would promise the width far sooner
        assert 100 * (start / width) ** 2 < 0.8 * n
    assert prompts_for_half_width(0.05, 300, 0.06) == 300
    with pytest.raises(ValueError, match="target"):
        prompts_for_half_width(0.1, 10, 0.0)
