"""The report from the command line and on the admin page, on a demo study judged by a script."""

from __future__ import annotations

import json

from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from pairwise import auth, glance
from pairwise.cli import main
from pairwise.pages.common import ADMINS_ONLY
from pairwise.report import (
    AT_A_GLANCE,
    LEADERBOARD,
    WIN_MATRIX,
    WIN_TIE_LOSS,
    report_from_store,
    report_json,
)


def test_cli_json_report_counts_every_judgment(judged, tmp_path):
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        main,
        [
            "--db",
            judged.path,
            "report",
            "--study",
            "demo",
            "--out",
            str(out),
            "--bootstrap",
            "200",
            "--seed",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert sum(p["n"] for p in data["pairs"]) == 432
    assert (data["meta"]["rounds"], data["meta"]["seed"]) == (200, 3)
    assert data["meta"]["counts"]["store"]["judgments"] == 432
    ranking = [m["model"] for m in sorted(data["ratings"]["models"], key=lambda m: m["rank"])]
    assert ranking == ["cirrus-70b-chat", "borealis-13b-instruct", "atlas-7b-chat"]


def test_cli_report_errors_are_plain(judged):
    result = CliRunner().invoke(main, ["--db", judged.path, "report", "--study", "nope"])
    assert result.exit_code == 1 and "Error:" in result.output and "Traceback" not in result.output


def test_excluded_annotators_leave_the_report(judged):
    judged.set_excluded("rater-0")
    data = report_json(report_from_store(judged, "demo", rounds=50))
    assert sum(p["n"] for p in data["pairs"]) == 432 - 144


def _page(db_path, monkeypatch, token=None) -> AppTest:
    monkeypatch.setenv("PAIRWISE_DB", db_path)
    at = AppTest.from_string("from pairwise.pages.report import page\npage()\n")
    if token:
        at.query_params["token"] = token
    return at.run(timeout=60)


def test_admin_page_shows_the_report(judged, monkeypatch):
    at = _page(judged.path, monkeypatch)
    assert not at.exception
    at.number_input(key="report.rounds").set_value(200).run(timeout=60)
    assert not at.exception
    headers = [h.value for h in at.subheader]
    assert headers[:3] == [AT_A_GLANCE, LEADERBOARD, WIN_MATRIX] and WIN_TIE_LOSS in headers
    result = report_from_store(judged, "demo", rounds=200)
    headlines = glance.headlines(result.decisive, result.pairs, confidence=0.95)
    assert at.markdown[0].value.count("\n- ") == len(headlines) - 1 == 2
    leaderboard, matrix, rates = (t.value for t in at.table[:3])
    assert list(leaderboard["model"]) == list(result.ratings.table["model"])
    assert list(matrix["model beats →"]) == list(leaderboard["model"])
    expected = report_json(result)["pairs"]
    assert list(rates["n"]) == [str(p["n"]) for p in expected]
    assert list(rates["win"]) == [
        f"{p['win_rate']:.1%} [{p['win_rate_ci'][0]:.1%}, {p['win_rate_ci'][1]:.1%}]"
        for p in expected
    ]


def test_annotators_cannot_open_the_report(judged, monkeypatch):
    _, token = auth.invite(judged, "ann")
    at = _page(judged.path, monkeypatch, token)
    text = " ".join(str(e.value) for e in at.main if hasattr(e, "value"))
    assert ADMINS_ONLY in text or any(ADMINS_ONLY in str(e.value) for e in at.error)
    assert not at.subheader
