"""The report: figures checked against scipy, a stable JSON schema, safe HTML, atomic files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import analysis
from pairwise.report import (
    LEADERBOARD,
    REPORT_SCHEMA,
    build_report,
    render,
    report_json,
    write_report,
)


def _one_per_prompt(
    wins: int, ties: int, losses: int, a: str = "alpha", b: str = "beta"
) -> pd.DataFrame:
    """A frame with one judgment per prompt, so the report must use Wilson intervals."""
    scores = [2] * wins + [0] * ties + [-1] * losses
    n = len(scores)
    return pd.DataFrame(
        {
            "comparison_id": range(n),
            "prompt_id": [f"p{i}" for i in range(n)],
            "category": ["coding" if i % 2 else "writing" for i in range(n)],
            "turns": [1 if i % 3 else 2 for i in range(n)],
            "model_a": a,
            "model_b": b,
            "scale": 7,
            "score": scores,
            "shown_order": ["AB" if i % 2 else "BA" for i in range(n)],
            "annotator": [f"ann{i % 4}" for i in range(n)],
            "seconds": 10.0,
            "len_a": [100 + i for i in range(n)],
            "len_b": 120,
            "is_gold": False,
        }
    )


def test_wilson_rates_and_sign_test_match_scipy():
    frame = _one_per_prompt(wins=36, ties=31, losses=33)
    data = report_json(build_report(frame, rounds=200, seed=1))
    (pair,) = data["pairs"]
    assert (pair["wins"], pair["ties"], pair["losses"], pair["n"]) == (36, 31, 33, 100)
    assert pair["method"] == "wilson"
    for name, k in (("win_rate", 36), ("tie_rate", 31), ("loss_rate", 33)):
        ci = stats.binomtest(k, 100).proportion_ci(confidence_level=0.95, method="wilson")
        assert pair[name] == pytest.approx(k / 100)
        assert pair[f"{name}_ci"] == pytest.approx([ci.low, ci.high], abs=1e-6)
    # The sign test drops ties: 36 wins against 33 losses.
    assert pair["p_value"] == pytest.approx(stats.binomtest(36, 69).pvalue, abs=1e-6)
    assert pair["win_half_tie_rate"] == pytest.approx((36 + 31 / 2) / 100)


def test_schema_has_the_documented_keys_and_is_json():
    frame = analysis.simulate_judgments(n_models=3, n_prompts=200, n_comparisons=150, seed=4)
    data = json.loads(render(build_report(frame, rounds=100, seed=2, study="sim"), "json"))
    assert set(data) == {
        "meta",
        "pairs",
        "majority",
        "scores",
        "ratings",
        "agreement",
        "bias",
        "breakdowns",
        "agreement_between",
        "position_consistency",
        "leaderboard",
        "style_control",
        "scorers",
    }
    assert data["meta"]["schema"] == REPORT_SCHEMA
    assert (data["meta"]["rounds"], data["meta"]["seed"]) == (100, 2)
    assert data["meta"]["counts"]["judgments"] == len(frame)
    pair_keys = {
        "model_a",
        "model_b",
        "n",
        "wins",
        "ties",
        "losses",
        "win_rate",
        "tie_rate",
        "loss_rate",
        "win_rate_ci",
        "tie_rate_ci",
        "loss_rate_ci",
        "p_value",
        "small_sample",
    }
    assert all(pair_keys <= set(p) for p in data["pairs"])
    assert len(data["pairs"]) == 3
    rating_keys = {"model", "rating", "ci", "rank"}
    assert all(rating_keys <= set(m) for m in data["ratings"]["models"])
    assert sorted(m["rank"] for m in data["ratings"]["models"]) == [1, 2, 3]
    # Several annotators per comparison: intervals come from the prompt bootstrap.
    assert {p["method"] for p in data["pairs"]} == {"cluster_bootstrap"}
    assert {a["method"] for a in data["agreement"]} >= {"Gwet's AC2 (ordinal weights)"}
    for p in data["pairs"]:
        low, high = p["win_rate_ci"]
        assert low <= p["win_rate"] <= high
        assert p["win_rate"] + p["tie_rate"] + p["loss_rate"] == pytest.approx(1, abs=3e-6)


def test_the_same_seed_gives_the_same_report():
    frame = analysis.simulate_judgments(n_models=3, n_prompts=30, n_comparisons=60, seed=5)
    first = report_json(build_report(frame, rounds=100, seed=7))
    second = report_json(build_report(frame.sample(frac=1, random_state=3), rounds=100, seed=7))
    for data in (first, second):
        data["meta"].pop("created_at")
    assert first["pairs"] == second["pairs"]
    assert first["ratings"] == second["ratings"]


def test_sections_equal_the_analysis_functions_on_the_plain_frame():
    """The report turns repeated strings into shared categories to group fast; no number moves."""
    frame = analysis.simulate_judgments(n_models=4, n_prompts=30, n_comparisons=300, seed=6)
    report = build_report(frame, rounds=100, seed=2)
    options = {"rounds": 100, "seed": 2}
    for section, expected in (
        (report.pairs, analysis.with_anytime(analysis.pair_rates(frame, **options), frame)),
        (report.scores, analysis.mean_scores(frame, **options)),
        (report.by_category, analysis.rates_by_category(frame, **options)),
        (report.by_turns, analysis.rates_by_turns(frame, **options)),
        (report.length_buckets, analysis.length_buckets(frame, **options)),
        (report.ratings.table, analysis.bradley_terry(frame, **options).table),
    ):
        pd.testing.assert_frame_equal(section, expected, check_dtype=False)
    assert report.position == analysis.position_preference(frame, **options)
    assert report.length == analysis.length_preference(frame, **options)


def test_pairs_judged_both_ways_and_all_shown_left_are_turned():
    """Imported arena data: pairs in both orientations, every judgment stored as shown AB."""
    frame = analysis.simulate_judgments(n_models=3, n_prompts=20, n_comparisons=90, seed=8)
    turned = frame.index < 60
    frame.loc[turned, ["model_a", "model_b"]] = frame.loc[turned, ["model_b", "model_a"]].to_numpy()
    frame.loc[turned, "score"] = -frame.loc[turned, "score"]
    frame = frame.drop(columns="outcome").assign(shown_order="AB")
    report = build_report(frame, rounds=50, seed=1)
    pd.testing.assert_frame_equal(
        report.pairs,
        analysis.with_anytime(analysis.pair_rates(frame, rounds=50, seed=1), frame),
        check_dtype=False,
    )
    assert report.position == analysis.position_preference(frame, rounds=50, seed=1)


def test_gold_checks_are_left_out():
    frame = _one_per_prompt(wins=10, ties=5, losses=5)
    gold = _one_per_prompt(wins=0, ties=0, losses=30).assign(is_gold=True)
    gold["prompt_id"] = "g" + gold["prompt_id"]
    data = report_json(build_report(pd.concat([frame, gold], ignore_index=True), rounds=50))
    assert data["pairs"][0]["n"] == 20


def test_breakdowns_split_by_category_and_turns():
    frame = _one_per_prompt(wins=20, ties=10, losses=10)
    data = report_json(build_report(frame, rounds=50))
    by_category = {row["category"]: row["n"] for row in data["breakdowns"]["category"]}
    assert by_category == frame["category"].value_counts().to_dict()
    by_turns = {row["turn_kind"]: row["n"] for row in data["breakdowns"]["turns"]}
    assert by_turns == {
        "single-turn": int((frame.turns == 1).sum()),
        "multi-turn": int((frame.turns > 1).sum()),
    }


def test_html_escapes_hostile_model_names(tmp_path):
    frame = _one_per_prompt(5, 2, 3, a="<script>alert(1)</script>", b="b&b")
    text = render(build_report(frame, rounds=50), "html")
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;" in text
    written = write_report(build_report(frame, rounds=50), tmp_path / "r.html")
    assert written == [tmp_path / "r.html"]
    assert "<svg" in (tmp_path / "r.html").read_text()


def test_markdown_file_comes_with_chart_images(tmp_path):
    frame = analysis.simulate_judgments(n_models=3, n_prompts=20, n_comparisons=40, seed=1)
    written = write_report(build_report(frame, rounds=50, study="s"), tmp_path / "out" / "r.md")
    names = sorted(p.name for p in written)
    assert names == ["r-ratings.png", "r-win-rate-matrix.png", "r-win-tie-loss.png", "r.md"]
    for png in (tmp_path / "out").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (tmp_path / "out" / "r.md").read_text()
    assert "![win-tie-loss](r-win-tie-loss.png)" in text and f"## {LEADERBOARD}" in text
    assert not list((tmp_path / "out").glob(".*tmp"))  # no temporary files left behind


def test_empty_frame_gives_an_empty_report():
    frame = _one_per_prompt(1, 0, 0).iloc[:0]
    data = report_json(build_report(frame, rounds=10))
    assert data["pairs"] == [] and data["ratings"] is None and data["agreement"] == []
    assert data["meta"]["counts"]["judgments"] == 0


def test_an_outcome_that_disagrees_with_its_score_is_refused():
    frame = _one_per_prompt(3, 1, 1).assign(judgment_id=range(1, 6))
    frame["outcome"] = analysis.outcome_from_score(frame["score"])
    frame.loc[4, "outcome"] = "win"  # a loss by its score
    with pytest.raises(ValueError, match=r"judgment_id 5: outcome 'win' disagrees with score -1"):
        build_report(frame, rounds=10)


def test_unknown_format_is_refused(tmp_path):
    frame = _one_per_prompt(1, 1, 1)
    with pytest.raises(ValueError, match="format"):
        write_report(build_report(frame, rounds=10), tmp_path / "r.txt")
    assert not np.any([p.exists() for p in tmp_path.iterdir()])
