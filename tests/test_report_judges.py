"""The report's judge, leaderboard, focus and style-control sections: from the command line, on
the admin page and from a frame with model judges, each checked against a count of its own."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from analysis import agreement_between, position_consistency
from pairwise.cli import main
from pairwise.report import build_report, render, report_json

BASELINE = "atlas-7b-chat"


def _cli_report(judged, tmp_path, *options):
    out = tmp_path / "r.json"
    args = ["--db", judged.path, "report", "--study", "demo", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--bootstrap", "100", *options])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_leaderboard_counts_match_a_count_from_each_models_side(judged, tmp_path):
    data = _cli_report(judged, tmp_path, "--baseline", BASELINE)
    frame = judged.judgments_frame("demo", include_gold=False)
    expected = {}
    for row in frame.itertuples():
        if BASELINE not in (row.model_a, row.model_b):
            continue
        model, sign = (
            (row.model_b, -np.sign(row.score))
            if row.model_a == BASELINE
            else (row.model_a, np.sign(row.score))
        )
        counts = expected.setdefault(model, [0, 0, 0])
        counts[{1: 0, 0: 1, -1: 2}[sign]] += 1
    board = data["leaderboard"]
    assert {r["model"]: [r["wins"], r["ties"], r["losses"]] for r in board} == expected
    rates = [r["win_half_tie_rate"] for r in board]
    assert rates == sorted(rates, reverse=True)
    for r in board:
        assert r["win_half_tie_rate"] == pytest.approx(
            (r["wins"] + r["ties"] / 2) / r["n"], abs=1e-6
        )
        assert r["ci"][0] <= r["win_half_tie_rate"] <= r["ci"][1]
        if r["lc_win_rate"] is None:  # always longer (or shorter) than the baseline: no LC
            assert r["lc_ci"] == [None, None]
        else:
            assert r["lc_ci"][0] <= r["lc_win_rate"] <= r["lc_ci"][1]
    assert any(r["lc_win_rate"] is not None for r in board)
    assert data["meta"]["baseline"] == BASELINE


def test_focus_turns_every_pair_and_style_control_reports_coefficients(judged, tmp_path):
    plain = _cli_report(judged, tmp_path)
    data = _cli_report(judged, tmp_path, "--focus", BASELINE, "--style-control")
    focused = [p for p in data["pairs"] if BASELINE in (p["model_a"], p["model_b"])]
    assert focused and all(p["model_a"] == BASELINE for p in focused)
    for pair in focused:  # the same judgments, read from the other side
        before = next(
            p
            for p in plain["pairs"]
            if {p["model_a"], p["model_b"]} == {pair["model_a"], pair["model_b"]}
        )
        turned = before["model_a"] != BASELINE
        assert pair["n"] == before["n"]
        assert pair["wins"] == (before["losses"] if turned else before["wins"])
    style = data["style_control"]
    assert [c["feature"] for c in style["coefficients"]] == ["length", "headers", "lists", "bold"]
    assert {m["model"] for m in style["models"]} == {m["model"] for m in data["ratings"]["models"]}


def test_an_unknown_baseline_is_a_plain_error(judged):
    result = CliRunner().invoke(
        main, ["--db", judged.path, "report", "--baseline", "nobody", "--bootstrap", "100"]
    )
    assert result.exit_code == 1 and "baseline model 'nobody'" in result.output


def _judges_frame() -> pd.DataFrame:
    rows = []
    rng = np.random.default_rng(4)
    for prompt in range(30):
        for annotator, kind in (("e1", "human"), ("e2", "human"), ("gpt-4", "model")):
            orders = ("AB", "BA") if kind == "model" else ("AB",)
            for order in orders:
                rows.append(
                    {
                        "prompt_id": f"q{prompt}",
                        "comparison_id": prompt,
                        "turns": 1 + prompt % 2,
                        "model_a": "x",
                        "model_b": "y",
                        "score": int(rng.choice([-1, 0, 1])),
                        "annotator": annotator,
                        "judge_kind": kind,
                        "shown_order": order,
                        "seconds": 10.0,
                    }
                )
    return pd.DataFrame(rows)


def test_judge_sections_equal_the_analysis_functions():
    frame = _judges_frame()
    report = build_report(frame, rounds=50)
    data = report_json(report)
    expected = agreement_between(frame)
    assert [r["n_pairs_with_ties"] for r in data["agreement_between"]] == [
        None if pd.isna(n) else int(n) for n in expected["n_pairs_with_ties"]
    ]
    assert data["agreement_between"][-1]["group_a"] == "random"
    consistency = position_consistency(frame)
    assert [r["consistent"] for r in data["position_consistency"]] == list(
        consistency["consistent"]
    )
    text = render(report, "md")
    assert "## Agreement between judges" in text and "## Position consistency" in text


def test_the_page_shows_the_leaderboard_for_a_chosen_baseline(judged, monkeypatch):
    monkeypatch.setenv("PAIRWISE_DB", judged.path)
    at = AppTest.from_string("from pairwise.pages.report import page\npage()\n").run(timeout=60)
    at.number_input(key="report.rounds").set_value(100).run(timeout=60)
    at.selectbox(key="report.baseline").set_value(BASELINE).run(timeout=120)
    assert not at.exception
    assert f"Leaderboard against {BASELINE}" in [h.value for h in at.subheader]
    at.checkbox(key="report.style").check().run(timeout=120)
    at.selectbox(key="report.focus").set_value(BASELINE).run(timeout=120)
    assert not at.exception
    assert "Ratings with style control" in [h.value for h in at.subheader]
    pairs = next(t.value for t in at.table if "model A" in t.value.columns)  # win / tie / loss
    turned = pairs[(pairs["model A"] == BASELINE) | (pairs["model B"] == BASELINE)]
    assert len(turned) == 2 and (turned["model A"] == BASELINE).all()


def test_alpaca_eval_annotations_give_alpaca_evals_win_rate(store, tmp_path):
    """The leaderboard on AlpacaEval's own annotations equals its win rate computed from the file:
    the mean of preference - 1 over judged records, a draw (0 or 1.5) counting one half."""
    from pathlib import Path

    from pairwise.ingest import import_judgments, import_responses

    fixtures = Path(__file__).parent / "fixtures" / "alpaca_eval"
    for name in ("model_outputs_gpt4_1106_preview.json", "model_outputs_tulu-2-dpo-70b.json"):
        import_responses(store, fixtures / name)
    import_judgments(store, fixtures / "annotations.json")
    records = json.loads((fixtures / "annotations.json").read_text())
    judged = [r["preference"] for r in records if r["preference"] is not None]
    expected = np.mean([0.5 if p in (0, 1.5) else p - 1 for p in judged])
    out = tmp_path / "r.json"
    args = ["--db", store.path, "report", "--baseline", "gpt4_1106_preview", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(out.read_text())["leaderboard"]
    assert row["model"] == "tulu-2-dpo-70b" and row["n"] == len(judged)
    assert row["win_half_tie_rate"] == pytest.approx(expected, abs=1e-6)
    # A soft verdict (1.37) is neither a win nor a tie: wins, ties and losses are hard counts.
    assert (row["wins"], row["ties"], row["losses"]) == (
        sum(p == 2 for p in judged) + sum(1.5 < p < 2 for p in judged),
        sum(p in (0, 1.5) for p in judged),
        sum(1 <= p < 1.5 for p in judged),
    )


def test_mt_bench_people_and_gpt4_pairs_agree_as_counted_by_hand(store):
    """MT-Bench's published shapes, imported into one study; every figure worked by hand."""
    from pathlib import Path

    from pairwise.ingest import import_judgments
    from pairwise.report import report_from_store

    fixtures = Path(__file__).parent / "fixtures" / "mt_bench"
    import_judgments(store, fixtures / "human_judgments.jsonl", study="mt")
    import_judgments(store, fixtures / "gpt-4_pair.jsonl", study="mt")
    data = report_json(report_from_store(store, "mt", rounds=50))
    rows = {(r["group_a"], r["group_b"], r["turn"]): r for r in data["agreement_between"]}
    counts = {
        k: (r["with_ties"], r["without_ties"], r["n_pairs_with_ties"]) for k, r in rows.items()
    }
    assert counts == {
        # turn 1, gpt-4 v claude: both people and the judge (consistent in both orders) pick gpt-4
        ("human", "human", 1): (1.0, 1.0, 1),
        ("human", "gpt-4/pair-v2", 1): (1.0, 1.0, 2),
        # turn 2: the judge's orders disagree on both items, so it votes tie twice; the people
        # said tie (v claude) and gpt-4 (v vicuna): one of two agrees, none without ties
        ("human", "gpt-4/pair-v2-multi-turn", 2): (0.5, None, 2),
        ("human", "human", None): (1.0, 1.0, 1),
        ("human", "gpt-4/pair-v2", None): (1.0, 1.0, 2),
        ("human", "gpt-4/pair-v2-multi-turn", None): (0.5, None, 2),
        ("random", "random", None): (0.333333, 0.5, None),
    }
    consistency = {r["judge"]: r for r in data["position_consistency"]}
    # pair-v2 saw one comparison in both orders (the other's first game failed) and kept its verdict;
    # pair-v2-multi-turn preferred the answer shown first in both of its comparisons
    assert (consistency["gpt-4/pair-v2"]["n"], consistency["gpt-4/pair-v2"]["consistent"]) == (1, 1)
    multi = consistency["gpt-4/pair-v2-multi-turn"]
    assert (multi["n"], multi["consistent"], multi["favours_first"]) == (2, 0, 2)
