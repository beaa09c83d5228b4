"""A report over studies on different scales: outcome sections over every judgment, graded
sections per scale, and a scale filter in the library, the command line and the Report page."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

import analysis
from pairwise.cli import main
from pairwise.report import build_report, render, report_from_store
from pairwise.store import Prompt, Store

MODELS = ("m1", "m2", "m3")


@pytest.fixture
def mixed(store: Store) -> Store:
    """Two studies of the same models and prompts, one on the 7-point and one on the 3-point
    scale, each comparison judged by two annotators."""
    store.add_prompts(
        Prompt(f"p{i}", "chat", [{"role": "user", "content": f"Q{i}"}], [], 1) for i in range(30)
    )
    store.add_responses((f"p{i}", m, f"answer {m} {i}") for i in range(30) for m in MODELS)
    pairs = [("m1", "m2"), ("m2", "m3")]
    rng = np.random.default_rng(0)
    people = [store.add_annotator(name) for name in ("ann", "bob")]
    for name, scale in (("seven", 7), ("three", 3)):
        store.create_study(name, pairs=pairs, overlap=2, scale=scale, seed=1)
        top = scale // 2
        for comparison in store.comparisons_frame(name)["comparison_id"]:
            for who in people:
                store.record_judgment(
                    int(comparison),
                    who.id,
                    score=int(rng.integers(-top, top + 1)),
                    shown_order=str(rng.choice(["AB", "BA"])),
                )
    return store


def test_report_over_mixed_scales_keeps_outcomes_together_and_scores_apart(mixed):
    frame = mixed.judgments_frame()
    assert sorted(frame["scale"].unique()) == [3, 7]
    report = build_report(frame, rounds=100)
    # outcomes: every judgment of a pair, whatever its scale, equal to pair_rates on the frame
    expected = analysis.pair_rates(frame, rounds=100)
    pd.testing.assert_frame_equal(report.pairs[expected.columns], expected, check_dtype=False)
    assert report.pairs["n"].sum() == len(frame)
    assert report.ratings is not None and report.position is not None
    # graded: each scale on its own, equal to mean_scores on that scale's judgments
    assert sorted(report.scores["scale"].unique()) == [3, 7]
    for scale, rows in report.scores.groupby("scale"):
        alone = analysis.mean_scores(frame[frame["scale"] == scale], rounds=100)
        assert rows["mean_score"].tolist() == pytest.approx(alone["mean_score"].tolist())
        assert rows["mean_score_ci_high"].max() <= scale // 2
    assert sorted(report.distribution["score"].unique()) == [-3, -2, -1, 0, 1, 2, 3]
    # agreement: on outcomes over all, on scores within each scale
    agreement = report.agreement
    over_all = agreement[agreement["scale"].isna()]
    assert set(over_all["on"]) == {"outcome"} and over_all["n_ratings"].max() == len(frame)
    assert set(agreement.loc[agreement["on"] == "score", "scale"]) == {3, 7}
    for fmt in ("md", "html", "json"):
        assert "7" in render(report, fmt)


def test_scale_filter_keeps_one_scale(mixed):
    seven = report_from_store(mixed, rounds=50, scale=7)
    assert seven.meta["scale"] == 7 and seven.meta["scales"] == [7]
    assert seven.pairs["n"].sum() == int((mixed.judgments_frame()["scale"] == 7).sum())
    assert "on the 7-point scale only" in render(seven, "md")


def test_cli_report_over_mixed_scales_and_with_scale(mixed, tmp_path):
    every = CliRunner().invoke(main, ["--db", mixed.path, "report", "--format", "json"])
    assert every.exit_code == 0, every.output
    data = json.loads(every.output)
    assert {row["scale"] for row in data["scores"]} == {3, 7}
    three = CliRunner().invoke(
        main, ["--db", mixed.path, "report", "--format", "json", "--scale", "3"]
    )
    assert three.exit_code == 0, three.output
    data = json.loads(three.output)
    assert data["meta"]["scale"] == 3 and {row["scale"] for row in data["scores"]} == {3}


def test_report_page_over_mixed_scales_and_by_scale(mixed, monkeypatch):
    monkeypatch.setenv("PAIRWISE_DB", mixed.path)
    at = AppTest.from_string("from pairwise.pages.report import page\npage()\n")
    at.run(timeout=60)
    at.selectbox(key="report.study").set_value("(all studies)").run(timeout=60)
    assert not at.exception
    assert at.selectbox(key="report.scale").options == ["(all scales)", "3-point", "7-point"]
    headers = [h.value for h in at.subheader]
    assert "Graded scores" in headers and "Win / tie / loss per pair (all judgments)" in headers
    at.selectbox(key="report.scale").set_value(3).run(timeout=60)
    assert not at.exception
    assert "3 judgments" not in at.caption[0].value
    shown = at.session_state["report.cached"][1]
    assert shown.meta["scale"] == 3
