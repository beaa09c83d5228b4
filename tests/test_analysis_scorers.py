"""Scorer accuracy on human judgments: a hand count per strength, Wilson against scipy, and the
prompt bootstrap when prompts repeat."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.scorers import scorer_accuracy, strength_label


def _judgment(prompt, a, b, score, kind="human"):
    return {
        "prompt_id": prompt,
        "model_a": a,
        "model_b": b,
        "score": score,
        "scale": 7,
        "judge_kind": kind,
    }


def test_accuracy_per_strength_matches_a_hand_count():
    frame = pd.DataFrame(
        [
            _judgment("p1", "x", "y", 3),  # much better x; rm prefers x: right
            _judgment("p2", "x", "y", -3),  # much better y; rm prefers x: wrong
            _judgment("p3", "x", "y", 2),  # better x; rm prefers x: right
            _judgment("p4", "x", "y", -1),  # slightly better y; rm prefers y: right
            _judgment("p5", "x", "y", 1),  # slightly better x; equal scores: a score tie
            _judgment("p6", "x", "y", 0),  # human tie: left out
            _judgment("p7", "x", "y", 2),  # y unscored
            _judgment("p1", "x", "y", -3, kind="model"),  # a model judge: not a human judgment
        ]
    )
    scores = pd.DataFrame(
        [
            ("p1", "x", "rm", 2.0),
            ("p1", "y", "rm", 1.0),
            ("p2", "x", "rm", 0.5),
            ("p2", "y", "rm", -0.5),
            ("p3", "x", "rm", 1.0),
            ("p3", "y", "rm", 0.0),
            ("p4", "x", "rm", -1.0),
            ("p4", "y", "rm", 0.0),
            ("p5", "x", "rm", 3.0),
            ("p5", "y", "rm", 3.0),
            ("p6", "x", "rm", 1.0),
            ("p6", "y", "rm", 0.0),
            ("p7", "x", "rm", 1.0),
        ],
        columns=["prompt_id", "model", "scorer", "score"],
    )
    table = scorer_accuracy(frame, scores).set_index("strength")
    assert list(table.index) == ["all", "much better", "better", "slightly better"]
    overall = table.loc["all"]
    assert (overall.n, overall.correct) == (4, 3)
    assert (overall.human_ties, overall.score_ties, overall.unscored) == (1, 1, 1)
    assert overall.accuracy == pytest.approx(3 / 4)
    ci = stats.binomtest(3, 4).proportion_ci(method="wilson")
    assert (overall.ci_low, overall.ci_high) == pytest.approx((ci.low, ci.high))
    assert overall.method == "wilson"
    assert (table.loc["much better", "n"], table.loc["much better", "correct"]) == (2, 1)
    assert (table.loc["better", "n"], table.loc["better", "unscored"]) == (1, 1)
    assert (table.loc["slightly better", "n"], table.loc["slightly better", "score_ties"]) == (1, 1)


def test_labels_come_from_each_scale():
    assert [strength_label(7, m) for m in (3, 2, 1)] == ["much better", "better", "slightly better"]
    assert [strength_label(5, m) for m in (2, 1)] == ["much better", "slightly better"]
    assert strength_label(3, 1) == strength_label(2, 1) == "better"


def test_repeated_prompts_get_a_prompt_bootstrap():
    rng = np.random.default_rng(1)
    rows, scores = [], []
    for prompt in range(80):
        quality = rng.normal()
        scores += [
            (f"p{prompt}", "x", "rm", quality + rng.normal(0, 0.5)),
            (f"p{prompt}", "y", "rm", 0.0),
        ]
        for _ in range(3):
            rows.append(
                _judgment(f"p{prompt}", "x", "y", int(np.sign(quality + rng.normal(0, 0.5))) or 1)
            )
    table = scorer_accuracy(
        pd.DataFrame(rows),
        pd.DataFrame(scores, columns=["prompt_id", "model", "scorer", "score"]),
        rounds=500,
    )
    overall = table.iloc[0]
    assert overall.method == "cluster_bootstrap" and overall.n == 240
    assert 0.5 < overall.ci_low < overall.accuracy < overall.ci_high < 1
    # Wider than Wilson on 240 independent judgments would be, as repeated prompts leave less news.
    low, high = stats.binomtest(int(overall.correct), 240).proportion_ci(method="wilson")
    assert overall.ci_high - overall.ci_low > (high - low) * 0.9


def test_a_response_scored_twice_by_one_scorer_is_refused():
    scores = pd.DataFrame(
        [("p1", "x", "rm", 1.0)] * 2, columns=["prompt_id", "model", "scorer", "score"]
    )
    with pytest.raises(ValueError, match="more than once"):
        scorer_accuracy(pd.DataFrame([_judgment("p1", "x", "y", 1)]), scores)
