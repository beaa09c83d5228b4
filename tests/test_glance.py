"""The report read at a glance: headlines, the win-rate matrix and where they appear.

Headline figures are checked against statsmodels' Wilson interval and scipy's binomial test on
hand-counted non-tied judgments (one judgment per prompt, so the report must use Wilson and the
exact sign test); the matrix against counts made by hand from the judgments.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

import analysis
from pairwise import glance
from pairwise.escape import markdown_prose
from pairwise.report import (
    AT_A_GLANCE,
    LEADERBOARD,
    WIN_MATRIX,
    build_report,
    report_html,
    report_markdown,
)


def one_per_prompt(wins: int, ties: int, losses: int, a="atlas-7b-chat", b="cirrus-70b-chat"):
    scores = [1] * wins + [0] * ties + [-2] * losses
    n = len(scores)
    return pd.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in range(n)],
            "model_a": a,
            "model_b": b,
            "score": scores,
            "annotator": [f"ann{i % 3}" for i in range(n)],
        }
    )


def test_a_headline_gives_the_non_tied_share_with_wilson_and_the_sign_test():
    report = build_report(one_per_prompt(wins=30, ties=10, losses=12), rounds=50)
    (headline,) = glance.headlines(report.decisive, report.pairs, confidence=0.95)
    low, high = proportion_confint(30, 42, alpha=0.05, method="wilson")
    p = binomtest(30, 42, 0.5).pvalue
    assert headline.decided and (headline.first, headline.second) == (
        "atlas-7b-chat",
        "cirrus-70b-chat",
    )
    assert headline.share == pytest.approx(30 / 42)
    assert (headline.ci_low, headline.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert headline.p_value == pytest.approx(p)
    assert headline.text == (
        f"atlas-7b-chat beats cirrus-70b-chat: 71% [{low:.0%}, {high:.0%}] of non-tied judgments,"
        f" p = {p:.3f} (42 of 52 not tied)"
    )


def test_the_winner_is_named_first_whichever_side_it_was_on():
    report = build_report(one_per_prompt(wins=5, ties=3, losses=40), rounds=50)
    (headline,) = glance.headlines(report.decisive, report.pairs, confidence=0.95)
    low, high = proportion_confint(40, 45, alpha=0.05, method="wilson")
    assert headline.first == "cirrus-70b-chat" and headline.share == pytest.approx(40 / 45)
    assert (headline.ci_low, headline.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert headline.text.startswith("cirrus-70b-chat beats atlas-7b-chat: 89% [")
    assert "p < 0.001" in headline.text


def test_a_close_pair_is_not_given_a_winner():
    report = build_report(one_per_prompt(wins=6, ties=2, losses=5), rounds=50)
    (headline,) = glance.headlines(report.decisive, report.pairs, confidence=0.95)
    assert not headline.decided
    assert headline.text.startswith(
        "atlas-7b-chat and cirrus-70b-chat are not told apart: atlas-7b-chat wins 55% ["
    )
    assert f"p = {binomtest(6, 11, 0.5).pvalue:.3f}" in headline.text


def test_the_matrix_holds_each_models_share_of_non_tied_judgments():
    frame = analysis.simulate_judgments(n_models=4, n_prompts=40, n_comparisons=80, seed=3)
    report = build_report(frame, rounds=50)
    matrix = glance.win_matrix(report.decisive)
    signs = np.sign(frame["score"])
    for a in matrix.index:
        for b in matrix.columns:
            if a == b:
                assert np.isnan(matrix.loc[a, b])
                continue
            won = ((frame.model_a == a) & (frame.model_b == b) & (signs > 0)).sum() + (
                (frame.model_a == b) & (frame.model_b == a) & (signs < 0)
            ).sum()
            lost = ((frame.model_a == a) & (frame.model_b == b) & (signs < 0)).sum() + (
                (frame.model_a == b) & (frame.model_b == a) & (signs > 0)
            ).sum()
            if won + lost == 0:
                assert np.isnan(matrix.loc[a, b])
            else:
                assert matrix.loc[a, b] == pytest.approx(won / (won + lost))
                assert matrix.loc[a, b] + matrix.loc[b, a] == pytest.approx(1)


def test_markdown_and_html_lead_with_the_same_headlines_leaderboard_and_matrix():
    frame = analysis.simulate_judgments(n_models=3, n_prompts=30, n_comparisons=60, seed=1)
    report = build_report(frame, rounds=50, study="s")
    texts = [h.text for h in glance.headlines(report.decisive, report.pairs, confidence=0.95)]
    assert len(texts) == 3
    markdown = report_markdown(report, chart_files={"win-rate-matrix": "m.png"})
    html = report_html(report)
    order = [AT_A_GLANCE, LEADERBOARD, WIN_MATRIX, "Win / tie / loss per pair"]
    assert sorted(order, key=markdown.index) == order
    assert sorted(order, key=html.index) == order
    for text in texts:
        assert f"- {markdown_prose(text)}" in markdown and f"<li>{escape(text)}</li>" in html
    # the matrix chart follows its table, in both
    assert markdown.index("![win-rate-matrix](m.png)") > markdown.index(f"## {WIN_MATRIX}")
    matrix_at = html.index(f"<h2>{WIN_MATRIX}</h2>")
    assert html.index("<svg", matrix_at) < html.index("<h2>Win / tie / loss", matrix_at)
    table = glance.matrix_table(glance.win_matrix(report.decisive))
    assert "| " + " | ".join(table[1][0]) + " |" in markdown


def test_a_pair_judged_only_as_ties_has_no_headline():
    report = build_report(one_per_prompt(wins=0, ties=6, losses=0), rounds=50)
    assert report.decisive.empty
    assert glance.headlines(report.decisive, report.pairs, confidence=0.95) == []
    assert AT_A_GLANCE not in report_markdown(report)
