"""Style-controlled Bradley-Terry ratings: Markdown counts by hand, the fit against statsmodels'
logistic regression, and the style coefficient recovering a simulated taste for length."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis.ratings import ELO_SCALE
from analysis.style import markdown_counts, style_controlled_ratings, style_differences


def test_markdown_elements_are_counted_outside_code():
    text = (
        "# Title\n\nSome **bold** and __also bold__ text.\n\n"
        "## Steps\n1. first\n2) second\n- a dash\n* a star\n+ a plus\n"
        "```python\n# not a header\n- not a list\n**not bold**\n```\n"
        "#not a header either\n-not a list\n"
    )
    assert markdown_counts(text) == {"headers": 2, "lists": 5, "bold": 2}
    assert markdown_counts("") == {"headers": 0, "lists": 0, "bold": 0}


def test_differences_are_normalised_as_arena_does():
    frame = pd.DataFrame(
        {
            "response_a": ["# h\n**b**", "plain"],
            "response_b": ["plain", "- x\n- y"],
            "len_a": [9, 5],
            "len_b": [5, 7],
        }
    )
    diff = style_differences(frame)
    assert diff.loc[0, "length"] == pytest.approx((9 - 5) / (9 + 5 + 1))
    assert diff.loc[0, "headers"] == pytest.approx(1 / 2)
    assert diff.loc[1, "lists"] == pytest.approx(-2 / 3)


def _simulated(seed: int, n: int = 1500) -> pd.DataFrame:
    """Four models with known strengths and judges who like long answers."""
    rng = np.random.default_rng(seed)
    strength = {"m0": 0.0, "m1": 0.5, "m2": 1.0, "m3": -0.5}
    names = list(strength)
    rows = []
    for i in range(n):
        a, b = rng.choice(names, 2, replace=False)
        len_a, len_b = rng.integers(50, 2000, 2)
        text_a = "# Head\n" * int(rng.integers(0, 3)) + "x" * int(len_a)
        text_b = "- item\n" * int(rng.integers(0, 4)) + "**y** " * int(rng.integers(0, 2))
        text_b += "y" * int(len_b)
        logit = strength[a] - strength[b] + 2.0 * (len_a - len_b) / (len_a + len_b + 1)
        win = rng.random() < 1 / (1 + np.exp(-logit))
        rows.append(
            {
                "prompt_id": f"p{i}",
                "model_a": a,
                "model_b": b,
                "score": 1 if win else -1,
                "response_a": text_a,
                "response_b": text_b,
                "len_a": len(text_a),
                "len_b": len(text_b),
            }
        )
    return pd.DataFrame(rows)


def test_fit_equals_statsmodels_logit_and_reports_the_length_taste():
    frame = _simulated(11)
    result = style_controlled_ratings(frame, rounds=60, seed=1)
    models = sorted(set(frame["model_a"]) | set(frame["model_b"]))
    x = np.zeros((len(frame), len(models)))
    x[np.arange(len(frame)), [models.index(m) for m in frame["model_a"]]] = 1
    x[np.arange(len(frame)), [models.index(m) for m in frame["model_b"]]] = -1
    diff = style_differences(frame).to_numpy()
    z = (diff - diff.mean(axis=0)) / diff.std(axis=0)
    y = (frame["score"].to_numpy() > 0).astype(float)
    reference = sm.Logit(y, np.column_stack([x[:, 1:], z])).fit(disp=0, tol=1e-12)
    theta = np.concatenate([[0.0], reference.params[: len(models) - 1]])
    expected = 1000 + ELO_SCALE * (theta - theta.mean())
    table = result.table.set_index("model").loc[models]
    assert table["rating"].to_numpy() == pytest.approx(expected, abs=1e-5)
    coefficients = result.coefficients.set_index("feature")
    assert coefficients["coefficient"].to_numpy() == pytest.approx(
        reference.params[len(models) - 1 :], abs=1e-7
    )
    length = coefficients.loc["length"]
    assert length.ci_low > 0 and length.ci_low < length.coefficient < length.ci_high
    assert (table["ci_low"] < table["rating"]).all() and (table["rating"] < table["ci_high"]).all()
    assert result.ridge == 0.0 and result.n_judgments == len(frame)


def test_a_feature_that_never_differs_has_no_coefficient_and_ties_count_half():
    frame = _simulated(2, n=300).assign(response_a="same", response_b="same", len_a=10, len_b=10)
    frame.loc[::5, "score"] = 0
    result = style_controlled_ratings(frame, rounds=30)
    assert result.coefficients["coefficient"].isna().all()
    assert result.table["rating"].mean() == pytest.approx(1000)
