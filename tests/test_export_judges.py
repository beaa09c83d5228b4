"""Exports and kinds of judges: people only by default, model judges on request, soft labels.

The store holds an AlpacaEval annotation file (a model judge, soft verdicts among them) and, on
the same comparisons, judgments by two people.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from pairwise.cli import main
from pairwise.export import PARQUET_SCHEMA, ExportOptions, build_export, export_dataset
from pairwise.ingest import alpaca_eval_prompt_id, import_judgments
from pairwise.store import Store

ANNOTATIONS = Path(__file__).parent / "fixtures" / "alpaca_eval" / "annotations.json"
REF, OURS = "gpt4_1106_preview", "tulu-2-dpo-70b"


@pytest.fixture
def mixed(store: Store) -> Store:
    """The annotations as study "ae"; ann and bob judged the first three prompts."""
    import_judgments(store, ANNOTATIONS, study="ae")
    store.update_study("ae", overlap=2)
    comparisons = store.comparisons_frame("ae").set_index("prompt_id")["comparison_id"]
    first = [alpaca_eval_prompt_id(r["instruction"]) for r in _records()[:3]]
    for name, scores in (("ann", (1, -1, 1)), ("bob", (1, 0, -1))):
        person = store.ensure_annotator(name)
        for prompt_id, score in zip(first, scores, strict=True):
            got = store.record_judgment(
                int(comparisons[prompt_id]), person.id, score=score, shown_order="AB"
            )
            assert got.stored
    return store


def _records() -> list[dict]:
    return json.loads(ANNOTATIONS.read_text(encoding="utf-8"))


def _model_p_a() -> dict[str, float]:
    """The model judge's p_a per prompt, worked out from the file: 2 - preference (0 is 1.5)."""
    return {
        alpaca_eval_prompt_id(r["instruction"]): 2
        - (1.5 if r["preference"] == 0 else r["preference"])
        for r in _records()
        if r["preference"] is not None
    }


@pytest.mark.parametrize(
    ("judges", "annotators", "left_out"),
    [
        ("human", {"ann", "bob"}, 6),
        ("model", {"alpaca_eval_gpt4_turbo_fn", "weighted_alpaca_eval_gpt4_turbo"}, 6),
        ("all", {"ann", "bob", "alpaca_eval_gpt4_turbo_fn", "weighted_alpaca_eval_gpt4_turbo"}, 0),
    ],
)
def test_judges_option_keeps_one_kind_or_both(mixed, judges, annotators, left_out):
    options = ExportOptions(aggregation="judgment", keep_ties=True, judges=judges)
    built = build_export(mixed, options)
    assert set(built.frame()["annotator"]) == annotators
    assert built.counts["other_judges"] == left_out
    raw = build_export(mixed, ExportOptions(format="raw-jsonl", judges=judges)).frame()
    assert set(raw["annotator"]) == annotators
    kinds = (
        {"human"} if judges == "human" else {"model"} if judges == "model" else {"human", "model"}
    )
    assert set(raw["judge_kind"]) == kinds


def test_default_export_is_people_only_and_the_card_says_so(mixed, tmp_path):
    written = export_dataset(mixed, tmp_path / "prefs", ExportOptions())
    assert written.export.options.judges == "human"
    card = written.card.read_text(encoding="utf-8")
    assert "- judges: human (judgments of people only;" in card
    assert "| judgments of the other kind of judge left out | 6 |" in card
    model = export_dataset(mixed, tmp_path / "model", ExportOptions(judges="model"))
    assert "- judges: model (judgments of model judges only;" in model.card.read_text()


def test_soft_verdicts_export_as_soft_labels_per_judgment(mixed):
    options = ExportOptions(aggregation="judgment", keep_ties=True, judges="model")
    rows = build_export(mixed, options).frame()
    expected = _model_p_a()
    assert len(rows) == len(expected) == 6
    for row in rows.itertuples():
        p_a = expected[row.prompt_id]
        chosen_is_a = row.chosen_model == REF
        assert row.p_chosen == pytest.approx(p_a if chosen_is_a else 1 - p_a)
        assert row.p_chosen >= 0.5  # chosen is the side the verdict leans to (a tie: 0.5)
        assert row.tie == (p_a == 0.5)
    weighted = rows.set_index("prompt_id").loc[alpaca_eval_prompt_id("Say hi in French.")]
    assert weighted["chosen_model"] == REF and weighted["p_chosen"] == pytest.approx(0.63)


def test_aggregated_records_carry_the_mean_probability(mixed):
    rows = build_export(mixed, ExportOptions(judges="all", keep_ties=True)).frame()
    rows = rows.set_index("prompt_id")
    people = {"ann": (1, -1, 1), "bob": (1, 0, -1)}
    model = _model_p_a()
    for i, record in enumerate(_records()[:3]):
        prompt_id = alpaca_eval_prompt_id(record["instruction"])
        credits = [model[prompt_id]] + [(np.sign(s[i]) + 1) / 2 for s in people.values()]
        mean_p_a = np.mean(credits)
        row = rows.loc[prompt_id]
        assert row["n_judgments"] == 3
        expected = mean_p_a if row["chosen_model"] == REF else 1 - mean_p_a
        assert row["p_chosen"] == pytest.approx(expected), prompt_id


def test_parquet_carries_p_chosen(mixed, tmp_path):
    written = export_dataset(mixed, tmp_path / "p", ExportOptions(format="parquet", judges="model"))
    table = pq.read_table(written.files["all"])
    assert table.schema.equals(PARQUET_SCHEMA)
    assert "p_chosen" in table.column_names
    assert all(0.5 <= p <= 1 for p in table.column("p_chosen").to_pylist())


def test_cli_judges_option(mixed, tmp_path):
    out = tmp_path / "cli.jsonl"
    result = CliRunner().invoke(
        main,
        ["--db", mixed.path, "export", str(out), "--judges", "model", "--aggregation", "judgment"],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["annotator"] for line in lines} == {
        "alpaca_eval_gpt4_turbo_fn",
        "weighted_alpaca_eval_gpt4_turbo",
    }
    bad = CliRunner().invoke(main, ["--db", mixed.path, "export", str(out), "--judges", "robots"])
    assert bad.exit_code == 2 and "--judges" in bad.output


def test_export_page_offers_the_judges_choice(mixed, monkeypatch):
    monkeypatch.setenv("PAIRWISE_DB", mixed.path)
    at = AppTest.from_string("from pairwise.pages.export import page\npage()\n").run(timeout=30)
    assert not at.exception
    radio = at.radio(key="export.judges")
    assert radio.value == "human"
    records = {m.label: m.value for m in at.metric}["Records"]
    expected = build_export(mixed, ExportOptions(study="ae")).counts["records"]
    assert records == str(expected)
    radio.set_value("model").run()
    records = {m.label: m.value for m in at.metric}["Records"]
    assert records == str(
        build_export(mixed, ExportOptions(study="ae", judges="model")).counts["records"]
    )
