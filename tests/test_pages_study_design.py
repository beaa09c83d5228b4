"""The planner and adaptive switch of the Studies page, and the pairs of the Progress page, through
Streamlit's AppTest on a real SQLite file: the pages show what the library computes."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

import analysis


def _app(page: str) -> AppTest:
    return AppTest.from_string(f"from pairwise.pages.{page} import page\npage()\n").run(timeout=60)


@pytest.fixture
def demo(judged, monkeypatch):
    """The judged demo study, with the pages pointed at its database (local demo admin)."""
    monkeypatch.setenv("PAIRWISE_DB", judged.path)
    return judged


def _markdown(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_the_planner_shows_the_plan_of_the_library(demo):
    at = _app("studies")
    assert not at.exception
    at.number_input(key="new.overlap").set_value(3).run()
    needed = int(re.search(r"Needs \*\*([\d,]+) prompts per pair", _markdown(at)).group(1))
    pairs = 3  # the demo's three models, all pairs
    assert needed == analysis.plan_study(half_width=0.05, overlap=3, pairs=pairs).prompts
    # a pilot fills the ICC in, and the plan follows it
    at.selectbox(key="plan.pilot").select("demo").run()
    pilot = analysis.pilot_estimates(demo.judgments_frame("demo", include_gold=False))
    assert at.number_input(key="plan.icc.demo").value == pytest.approx(pilot.icc)
    text = _markdown(at)
    expected = analysis.plan_study(
        half_width=0.05,
        overlap=3,
        icc=pilot.icc,
        pairs=pairs,
        seconds_per_judgment=pilot.median_seconds,
    )
    assert f"**{expected.prompts:,} prompts per pair**" in text
    assert f"**{expected.annotator_hours:,.1f} annotator hours**" in text
    # the demo has 48 prompts per pair: fewer than a half-width of 0.05 needs
    assert any("fewer than the plan needs" in w.value for w in at.warning)


def test_a_study_created_adaptive_on_the_page_is_adaptive(demo):
    at = _app("studies")
    at.text_input(key="new.name").input("fast")
    at.checkbox(key="new.adaptive").check().run()
    at.button(key="new.create").click().run()
    assert not at.exception and not at.error
    assert demo.get_study("fast").adaptive
    assert not demo.get_study("demo").adaptive


def test_progress_shows_each_pairs_intervals_needs_and_settled_mark(demo):
    at = _app("progress")
    assert not at.exception
    at.selectbox(key="progress.study").select(demo.get_study("demo").id).run()
    expected = analysis.pair_progress(demo.judgments_frame("demo", include_gold=False))
    shown = at.dataframe[-1].value
    assert shown["judgments"].tolist() == expected["n"].tolist()
    assert shown["win_rate"].tolist() == pytest.approx(expected["win_rate"].tolist())
    assert shown["still_needed"].tolist() == expected["still_needed"].tolist()
    for row, anytime, status in zip(
        expected.itertuples(), shown["anytime"], shown["status"], strict=True
    ):
        assert anytime == f"{row.anytime_ci_low:.1%} – {row.anytime_ci_high:.1%}"
        assert status == (f"✔ {row.settled_by}" if row.settled else "")
    assert any("random order" in c.value for c in at.caption)
    # a looser target settles more pairs, never fewer
    at.number_input(key="progress.target").set_value(0.3).run()
    looser = at.dataframe[-1].value
    assert (looser["status"] != "").sum() >= (shown["status"] != "").sum()
    assert (looser["still_needed"] <= shown["still_needed"]).all()
