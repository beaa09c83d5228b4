"""``pairwise plan``, ``study create --adaptive`` and the pairs of ``study show``: the command line
prints what the library computes."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

import analysis
from pairwise.cli import main
from pairwise.store import Store


def invoke(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args])


def test_plan_prints_the_closed_form(new_db, databases):
    db = new_db("x", bare=True)
    out = invoke(db, "plan", "--half-width", "0.05")
    assert out.exit_code == 0, out.output
    assert "385 per pair" in out.output
    assert not databases.holds_store(db)  # no store needed without a pilot


def test_plan_json_has_the_documented_keys_and_the_library_numbers(new_db):
    args = ["--half-width", "0.04", "--overlap", "3", "--icc", "0.2", "--pairs", "6"]
    out = invoke(new_db("x", bare=True), "plan", *args, "--seconds", "30", "--format", "json")
    assert out.exit_code == 0, out.output
    record = json.loads(out.output)
    expected = analysis.plan_study(
        half_width=0.04, overlap=3, icc=0.2, pairs=6, seconds_per_judgment=30
    )
    assert record["prompts"] == expected.prompts == math.ceil(1.959964**2 / 4 / 0.04**2 * 1.4 / 3)
    assert record["judgments"] == expected.judgments
    assert record["total_judgments"] == expected.total_judgments
    assert record["annotator_hours"] == pytest.approx(expected.total_judgments * 30 / 3600)


def test_plan_takes_the_pilots_icc_ties_and_seconds(judged):
    frame = judged.judgments_frame("demo", include_gold=False)
    pilot = analysis.pilot_estimates(frame)
    study = judged.get_study("demo")
    db = judged.path
    judged.close()
    out = invoke(db, "plan", "--study", "demo", "--detect", "0.1", "--format", "json")
    assert out.exit_code == 0, out.output
    record = json.loads(out.output)
    assert record["pilot"]["icc"] == pytest.approx(pilot.icc, abs=1e-6)
    assert record["pilot"]["tie_rate"] == pytest.approx(pilot.tie_rate, abs=1e-6)
    expected = analysis.plan_study(
        detect=0.1,
        overlap=study.overlap,
        icc=pilot.icc,
        tie_rate=pilot.tie_rate,
        pairs=pilot.pairs,
        seconds_per_judgment=pilot.median_seconds,
    )
    assert record["total_judgments"] == expected.total_judgments
    assert record["annotator_hours"] == pytest.approx(expected.annotator_hours, rel=1e-6)
    # an option given on the command line wins over the pilot's figure
    out = invoke(db, "plan", "--study", "demo", "--half-width", "0.05", "--icc", "0")
    assert out.exit_code == 0, out.output
    assert "ICC 0.000" in out.output and f"{pilot.median_seconds:.1f} s" in out.output


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "exactly one goal"),
        (["--half-width", "0.05", "--detect", "0.1"], "exactly one goal"),
        (["--half-width", "0.7"], "half_width"),
        (["--half-width", "0.05", "--study", "nope"], "no study 'nope'"),
    ],
)
def test_plan_errors_are_one_line(new_db, args, message):
    out = invoke(new_db("x", bare=True), "plan", *args)
    assert out.exit_code == 1
    assert message in out.output and "Traceback" not in out.output


def test_an_adaptive_study_says_so_and_shows_where_each_pair_stands(judged):
    db = judged.path
    models = judged.get_study("demo").models
    judged.close()
    out = invoke(db, "study", "create", "fast", "--models", ",".join(models), "--adaptive")
    assert out.exit_code == 0, out.output
    with Store(db) as store:
        assert store.get_study("fast").adaptive
        assert not store.get_study("demo").adaptive
        pairs = analysis.pair_progress(store.judgments_frame("demo", include_gold=False))
    shown = invoke(db, "study", "show", "fast")
    assert "adaptive (least settled pair first)" in shown.output
    assert "No judgments yet" in shown.output
    shown = invoke(db, "study", "show", "demo")
    assert shown.exit_code == 0, shown.output
    assert "random order" in shown.output
    lines = shown.output.splitlines()
    for row in pairs.itertuples():
        line = next(x for x in lines if x.startswith(f"{row.model_a}  ") and row.model_b in x)
        assert f"[{row.anytime_ci_low:.1%}, {row.anytime_ci_high:.1%}]" in line
        assert f"[{row.win_rate_ci_low:.1%}, {row.win_rate_ci_high:.1%}]" in line
        assert ("settled" in line) == row.settled
    assert pairs["settled"].any()  # the demo's strongest model is clearly ahead of the weakest
