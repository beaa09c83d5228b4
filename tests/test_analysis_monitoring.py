"""Where each pair stands: settled marks and judgments still needed, checked by properties and by
simulating the judgments the monitor asks for."""

import numpy as np
import pandas as pd
import pytest

from analysis import anytime_interval
from analysis.monitoring import COLUMNS, pair_progress


def _pair(wins, n, model_b="b", start=0, seed=0):
    """A pair with one judgment per prompt, ``wins`` of ``n`` won by model A in random order."""
    outcome = np.array([1] * wins + [-1] * (n - wins))
    np.random.default_rng(seed).shuffle(outcome)
    return pd.DataFrame(
        {
            "judgment_id": np.arange(start, start + n),
            "prompt_id": [f"{model_b}{i}" for i in range(n)],
            "model_a": "a",
            "model_b": model_b,
            "score": outcome,
        }
    )


def test_settled_marks_say_why():
    frame = pd.concat(
        [
            _pair(190, 200, "clear"),  # 95% wins: excludes one half at once
            _pair(1500, 3000, "even", start=1000),  # even, but many prompts: narrow
            _pair(10, 20, "open", start=5000),  # even and few: neither
        ],
        ignore_index=True,
    )
    got = pair_progress(frame, target=0.05).set_index("model_b")
    assert list(got.reset_index()[COLUMNS].columns) == COLUMNS
    assert got.loc["clear", "settled_by"] == "excludes 50%"
    assert got.loc["even", "settled_by"] == "narrower than target"
    assert got.loc["even", "still_needed"] == 0
    assert not got.loc["open", "settled"] and got.loc["open", "settled_by"] == ""
    assert got["settled"].tolist() == [True, True, False]
    for row in got.itertuples():  # the anytime interval holds the fixed one
        assert row.anytime_ci_low <= row.win_rate_ci_low <= row.win_rate_ci_high
        assert row.win_rate_ci_high <= row.anytime_ci_high


def test_the_judgments_still_needed_bring_the_interval_to_the_target():
    rng = np.random.default_rng(1)
    first = (rng.random(150) < 0.5).astype(float)
    frame = _pair(int(first.sum()), 150)
    target = 0.06
    needed = int(pair_progress(frame, target=target)["still_needed"].iloc[0])
    assert needed > 0
    # Carry on at the same rate for the judgments asked for: the interval lands near the target
    # (the square-root law; the sequence narrows a shade slower, as log log n).
    widths = []
    for seed in range(20):
        more = (np.random.default_rng(100 + seed).random(needed) < 0.5).astype(float)
        wins = np.concatenate([first, more])
        low, high = anytime_interval(wins, np.ones(len(wins)))
        widths.append((high[0] - low[0]) / 2)
    assert np.median(widths) == pytest.approx(target, rel=0.08)


def test_no_judgments_is_an_empty_table_and_a_bad_target_is_refused():
    assert list(pair_progress(_pair(0, 0)).columns) == COLUMNS
    with pytest.raises(ValueError, match="target"):
        pair_progress(_pair(5, 10), target=0)
