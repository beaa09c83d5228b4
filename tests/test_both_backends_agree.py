"""The same data and seed give the same report on SQLite and on PostgreSQL, byte for byte apart
from ``meta`` (when the report was made, and where from).

Runs when the tests are pointed at a PostgreSQL server (``PAIRWISE_TEST_DATABASE_URL``): the same
study is built on a SQLite file and on a PostgreSQL database, by the same script, and reported by
the command line on each.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from databases import ON_POSTGRES

from pairwise.cli import main
from pairwise.ingest import create_study, import_prompts, import_responses, read_study_spec
from pairwise.scales import orient
from pairwise.store import ImportedJudgment, Store

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
STRENGTH = {"cirrus-70b-chat": 1.0, "borealis-13b-instruct": 0.3, "atlas-7b-chat": -0.8}
# names whose order differs between byte order and a language's collation
PEOPLE = ("Zoë", "adam", "Émile", "bob", "_ops")

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="needs a PostgreSQL server to compare")


def _build(location: str) -> None:
    """The demo study (its comparisons in a seeded order), judged by five people with a scripted lean (one excluded, one who skips
    now and then and writes rationales), and a model judge's verdicts imported."""
    rng = random.Random(11)
    with Store(location) as store:
        import_prompts(store, PROMPTS_DIR / "demo_prompts.jsonl")
        import_responses(store, PROMPTS_DIR / "demo_responses.jsonl")
        spec = read_study_spec(PROMPTS_DIR / "demo_study.json")
        study = create_study(store, dataclasses.replace(spec, seed=4))
        for name in PEOPLE:
            who = store.ensure_annotator(name)
            while (got := store.next_comparison(study, who.id, rng=rng)) is not None:
                if name == "bob" and rng.random() < 0.1:
                    store.record_pass(got.comparison_id, who.id, reason="skip")
                    continue
                lean = STRENGTH[got.model_a] - STRENGTH[got.model_b] + rng.gauss(0, 0.8)
                button = orient(max(-3, min(3, round(lean * 1.5))), got.shown_order)
                store.record_judgment(
                    got.comparison_id,
                    who.id,
                    score=orient(button, got.shown_order),
                    shown_order=got.shown_order,
                    rationale="ça va — 第二个更好" if name == "Zoë" else "",
                    seconds=round(rng.uniform(5, 60), 3),
                )
        store.set_excluded("_ops")
        judge = store.ensure_annotator("judge-model", judge_kind="model")
        comparisons = store.comparisons_frame(study.name)
        store.add_judgments(
            ImportedJudgment(
                comparison_id=int(row.comparison_id),
                annotator_id=judge.id,
                score=rng.choice([-2, 0, 2]),
                shown_order=rng.choice(["AB", "BA"]),
                created_at="2026-01-01T00:00:00.000+00:00",
            )
            for row in comparisons.itertuples()
        )


def _report(location: str, fmt: str) -> str:
    result = CliRunner().invoke(
        main,
        [
            "--db",
            location,
            "report",
            "--format",
            fmt,
            "--bootstrap",
            "300",
            "--seed",
            "5",
            "--baseline",
            "atlas-7b-chat",
            "--style-control",
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_the_same_study_reports_the_same_on_sqlite_and_postgresql(new_db, tmp_path: Path) -> None:
    on_file = str(tmp_path / "twin.db")
    on_server = new_db("twin", bare=True)
    for location in (on_file, on_server):
        _build(location)

    reports = [json.loads(_report(place, "json")) for place in (on_file, on_server)]
    for report in reports:
        assert report.pop("meta")
    assert json.dumps(reports[0], sort_keys=True) == json.dumps(reports[1], sort_keys=True)

    markdown = [_report(place, "md").splitlines() for place in (on_file, on_server)]
    created = [i for i, line in enumerate(markdown[0]) if line.startswith("Created ")]
    for lines in markdown:
        for i in created:
            lines[i] = "Created ..."
    assert markdown[0] == markdown[1]
