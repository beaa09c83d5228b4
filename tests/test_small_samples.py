"""Small samples get intervals that hold: inside the possible range, never without width when
the data leave doubt, from Wilson over the prompts below ``MIN_PROMPTS``, and marked.

Coverage itself is measured by simulation in ``benchmarks/validate_coverage.py``; these tests
check the properties every interval must have, and the formulas against scipy and statsmodels.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from streamlit.testing.v1 import AppTest

import analysis
from analysis import mean_scores, pair_rates
from analysis.intervals import (
    MIN_PROMPTS,
    bounded_wilson,
    effective_prompts,
    expanded_tail,
    percentile_interval,
)
from pairwise.report import SMALL_MARK, SMALL_NOTE, build_report, render
from pairwise.store import Prompt

RATES = ["win_rate", "tie_rate", "loss_rate", "win_half_tie_rate"]


def judged(scores_per_prompt: list[list[int]], scale: int = 7) -> pd.DataFrame:
    """One pair; prompt i has the judgments ``scores_per_prompt[i]``."""
    rows = [
        {"prompt_id": f"p{i}", "model_a": "a", "model_b": "b", "score": s, "scale": scale}
        for i, scores in enumerate(scores_per_prompt)
        for s in scores
    ]
    return pd.DataFrame(rows)


def test_two_judgments_of_one_prompt_give_an_interval_with_width():
    """The reported case: 50.0% [50.0%, 50.0%] from a cluster bootstrap with n = 2."""
    row = pair_rates(judged([[1, -1]])).iloc[0]
    assert row["win_rate"] == 0.5 and row["small_sample"]
    assert row["method"] == "wilson_prompts"
    low, high = proportion_confint(0.5, 1, method="wilson")  # one effective prompt
    assert (row["win_rate_ci_low"], row["win_rate_ci_high"]) == pytest.approx((low, high))
    assert row["win_rate_ci_high"] - row["win_rate_ci_low"] > 0.5


def test_small_pairs_use_wilson_over_kish_effective_prompts():
    sizes = [1, 2, 3, 4, 1, 3]  # uneven: Kish's n_eff = 14^2 / 40 = 4.9 prompts
    rng = np.random.default_rng(0)
    frame = judged([list(rng.choice([-2, 0, 1, 3], size=m)) for m in sizes])
    row = pair_rates(frame).iloc[0]
    n_eff = sum(sizes) ** 2 / sum(m * m for m in sizes)
    assert effective_prompts(np.array([14]), np.array([40])) == pytest.approx([n_eff])
    for rate in RATES:
        low, high = proportion_confint(row[rate] * n_eff, n_eff, method="wilson")
        assert (row[f"{rate}_ci_low"], row[f"{rate}_ci_high"]) == pytest.approx((low, high))
    assert row["method"] == "wilson_prompts" and row["small_sample"]
    assert pd.isna(row["rounds"]) and pd.isna(row["seed"])


def test_enough_prompts_are_bootstrapped_and_not_marked():
    rng = np.random.default_rng(1)
    frame = judged([list(rng.integers(-3, 4, size=3)) for _ in range(MIN_PROMPTS)])
    row = pair_rates(frame, rounds=200).iloc[0]
    assert row["method"] == "cluster_bootstrap" and not row["small_sample"]
    one = pair_rates(judged([[1]] * 5 + [[-1]] * 4)).iloc[0]
    assert one["method"] == "wilson" and one["small_sample"]  # independent, but still few


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(-3, 3), min_size=1, max_size=4), min_size=1, max_size=2 * MIN_PROMPTS
    ),
    st.integers(0, 2**16),
)
def test_every_interval_is_in_range_holds_the_estimate_and_has_width(prompts, seed):
    frame = judged(prompts)
    rates = pair_rates(frame, rounds=100, seed=seed).iloc[0]
    for rate in RATES:
        low, high = rates[f"{rate}_ci_low"], rates[f"{rate}_ci_high"]
        assert 0 <= low <= rates[rate] + 1e-12 and rates[rate] - 1e-12 <= high <= 1
        assert high - low > 0  # a handful of judgments always leaves doubt
    scores = mean_scores(frame, rounds=100, seed=seed).iloc[0]
    low, high = scores["mean_score_ci_low"], scores["mean_score_ci_high"]
    assert -3 <= low <= scores["mean_score"] + 1e-12 <= high + 2e-12 <= 3 + 2e-12
    assert high - low > 0
    assert scores["small_sample"] == (len(prompts) < MIN_PROMPTS)


def test_mean_score_of_two_judgments_stays_on_the_scale():
    """The reported case: [-17.6, +20.6] on a ±3 scale from a t interval on two judgments."""
    row = mean_scores(judged([[3], [-2]])).iloc[0]
    assert -3 <= row["mean_score_ci_low"] < row["mean_score_ci_high"] <= 3
    assert row["method"] == "wilson_prompts" and row["small_sample"]
    low, high = proportion_confint((0.5 + 3) / 6 * 2, 2, method="wilson")
    assert (row["mean_score_ci_low"], row["mean_score_ci_high"]) == pytest.approx(
        (-3 + 6 * low, -3 + 6 * high)
    )


def test_t_interval_is_clipped_to_the_scale_and_never_flat():
    many = [[3]] * 25 + [[2]]
    row = mean_scores(judged(many)).iloc[0]
    assert row["method"] == "t" and row["mean_score_ci_high"] == 3
    t_low, _ = stats.t.interval(
        0.95, 25, loc=np.mean(sum(many, [])), scale=stats.sem(sum(many, []))
    )
    assert row["mean_score_ci_low"] == pytest.approx(t_low)
    flat = mean_scores(judged([[3]] * 30)).iloc[0]  # every score alike: t has no width
    assert flat["method"] == "wilson_prompts" and not flat["small_sample"]
    assert flat["mean_score_ci_low"] < 3 == flat["mean_score_ci_high"]


def test_bounded_wilson_is_wilson_on_the_rescaled_mean():
    low, high = bounded_wilson(np.array([1.0]), np.array([12.0]), -3, 3)
    ref_low, ref_high = proportion_confint(4 / 6 * 12, 12, method="wilson")
    assert (low[0], high[0]) == pytest.approx((-3 + 6 * ref_low, -3 + 6 * ref_high))


def test_expanded_tail_follows_hesterberg():
    # by hand from t tables: t_{49, 0.975} = 2.00958; sqrt(50/49) * 2.00958 = 2.02998
    assert float(expanded_tail(0.95, 50)) == pytest.approx(stats.norm.sf(2.02998), abs=1e-5)
    tails = expanded_tail(0.95, np.array([5, 20, 50, 200, 10_000]))
    assert np.all(np.diff(tails) > 0) and tails[-1] == pytest.approx(0.025, abs=1e-4)
    samples = np.arange(1001.0)[:, None]
    low, high = percentile_interval(samples, 0.95, clusters=50)
    assert (low[0], high[0]) == pytest.approx((1000 * tails[2], 1000 * (1 - tails[2])))


def test_every_output_marks_small_sample_rows(store, monkeypatch):
    frame = analysis.simulate_judgments(n_models=3, n_prompts=8, n_comparisons=12, seed=3)
    report = build_report(frame, rounds=50)
    data = json.loads(render(report, "json"))
    assert data["pairs"] and all(p["small_sample"] for p in data["pairs"])
    assert all(p["method"] in ("wilson", "wilson_prompts") for p in data["pairs"])
    assert all(s["small_sample"] for s in data["scores"])
    assert all(m["small_sample"] for m in data["ratings"]["models"])
    assert data["bias"]["position"]["small_sample"]
    for fmt in ("md", "html"):
        text = render(report, fmt)
        assert SMALL_NOTE.split(":")[0] in text and f" {SMALL_MARK}" in text
    # the page: a warning, and the column in the tables
    store.add_prompts(
        Prompt(f"p{i}", "c", [{"role": "user", "content": "Q"}], [], 1) for i in range(3)
    )
    store.add_responses((f"p{i}", m, "text") for i in range(3) for m in ("x", "y"))
    store.create_study("tiny", pairs=[("x", "y")], overlap=1, seed=0)
    who = store.add_annotator("ann")
    for comparison in store.comparisons_frame("tiny")["comparison_id"]:
        store.record_judgment(int(comparison), who.id, score=1, shown_order="AB")
    monkeypatch.setenv("PAIRWISE_DB", store.path)
    at = AppTest.from_string("from pairwise.pages.report import page\npage()\n").run(timeout=60)
    assert not at.exception
    assert any("small sample" in w.value for w in at.warning)
    cells = [str(v) for table in at.table for v in table.value.to_numpy().ravel()]
    assert any(cell.endswith(f" {SMALL_MARK}") for cell in cells)
