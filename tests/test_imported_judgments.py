"""Judgments imported from outside (Chatbot Arena, MT-Bench, our own files) are stored for what
they are: no guessed side order, no scale they were not made on, and no placeholder text that
names a model or reaches an annotator."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

import analysis
from pairwise.cli import main
from pairwise.export import ExportOptions, export_dataset
from pairwise.ingest import IngestError, import_judgments
from pairwise.quality import annotator_quality
from pairwise.report import build_report, render, report_from_store
from pairwise.store import PLACEHOLDER_RESPONSE, Prompt, Store, StoreError
from pairwise.store import schema as store_schema

MODELS = ("gpt-4", "claude-v1")


def battles(n: int, seed: int = 0, *, texts: bool = False, prefix: str = "q") -> list[dict]:
    """``n`` Arena battles where gpt-4, always named model_a, wins most of the time."""
    rng = np.random.default_rng(seed)
    winners = rng.choice(["model_a", "model_b", "tie"], p=[0.7, 0.15, 0.15], size=n)
    records = []
    for i, winner in enumerate(winners):
        record = {
            "question_id": f"{prefix}{i}",
            "model_a": MODELS[0],
            "model_b": MODELS[1],
            "winner": str(winner),
            "judge": f"user{i % 7}",
        }
        if texts:
            for side, model in zip("ab", MODELS, strict=True):
                record[f"conversation_{side}"] = [
                    {"role": "user", "content": f"Question {i}?"},
                    {"role": "assistant", "content": f"Answer of {model} to {i}."},
                ]
        records.append(record)
    return records


def write_jsonl(path, records) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


# -- 13: an unknown side order stays unknown -----------------------------------------------------


def test_arena_battles_store_an_unknown_side_and_stay_out_of_position_checks(store, tmp_path):
    import_judgments(store, write_jsonl(tmp_path / "arena.jsonl", battles(300)))
    frame = store.judgments_frame()
    assert frame["shown_order"].isna().all()
    stored = store.conn.execute("SELECT count(*) FROM judgments WHERE shown_order IS NULL")
    assert stored.fetchone()[0] == 300
    # Before: every battle stored as "A on the left" gave a strong, false left-side bias.
    nothing = analysis.position_preference(frame)  # nothing left to check
    assert (nothing.n, nothing.unknown_side) == (0, 300) and np.isnan(nothing.share)
    report = build_report(frame, rounds=50)
    assert report.position is None
    assert report.meta["counts"]["unknown_shown_order"] == 300
    for fmt in ("md", "html"):
        assert "300 judgment(s) left out" in render(report, fmt)
    assert json.loads(render(report, "json"))["meta"]["counts"]["unknown_shown_order"] == 300
    summary = analysis.annotator_summary(frame)
    assert (summary["left_decided"] == 0).all() and summary["left_win_share"].isna().all()
    assert annotator_quality(frame)["left_rate"].isna().all()


def test_position_check_counts_only_judgments_with_a_known_side():
    frame = analysis.simulate_judgments(n_models=2, n_comparisons=300, position_bias=1.0, seed=5)
    known = analysis.position_preference(frame, rounds=100)
    mixed = frame.copy()
    hidden = np.arange(len(frame)) % 3 == 0
    mixed["shown_order"] = mixed["shown_order"].where(~hidden)
    found = analysis.position_preference(mixed, rounds=100)
    alone = analysis.position_preference(frame[~hidden], rounds=100)
    assert found.unknown_side == hidden.sum() and known.unknown_side == 0
    assert (found.n, found.wins, found.share) == (alone.n, alone.wins, alone.share)


@pytest.mark.sqlite_only("a SQLite file written by an earlier version is migrated")
def test_an_old_store_gets_a_nullable_shown_order_and_keeps_everything(tmp_path, judged):
    """A store written by 0.1.0, when shown_order was NOT NULL (and judgments had eight columns):
    the columns added since arrive, the table is rebuilt once, nothing is lost."""
    path = tmp_path / "old.db"
    judged.conn.execute("VACUUM INTO ?", [str(path)])
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.executescript(
            "ALTER TABLE judgments RENAME TO new_judgments;"
            "CREATE TABLE judgments (id INTEGER PRIMARY KEY,"
            " comparison_id INTEGER NOT NULL REFERENCES comparisons(id),"
            " annotator_id INTEGER NOT NULL REFERENCES annotators(id),"
            " score INTEGER NOT NULL,"
            " shown_order TEXT NOT NULL CHECK (shown_order IN ('AB', 'BA')),"
            " rationale TEXT NOT NULL DEFAULT '', seconds REAL, created_at TEXT NOT NULL,"
            " UNIQUE (comparison_id, annotator_id));"
            "INSERT INTO judgments SELECT id, comparison_id, annotator_id, score, shown_order,"
            " rationale, seconds, created_at FROM new_judgments; DROP TABLE new_judgments;"
            "CREATE INDEX judgments_annotator ON judgments (annotator_id, comparison_id);"
        )
    before = judged.judgments_frame()
    with Store(path) as old:
        columns = {c[1]: c[3] for c in old.conn.execute("PRAGMA table_info(judgments)")}
        assert columns["shown_order"] == 0  # NOT NULL dropped
        pd.testing.assert_frame_equal(old.judgments_frame(), before)
        row = old.conn.execute("SELECT comparison_id, annotator_id FROM judgments").fetchone()
        with pytest.raises(sqlite3.IntegrityError):  # one judgment per annotator and comparison
            old.conn.execute(
                "INSERT INTO judgments (comparison_id, annotator_id, score, created_at)"
                " VALUES (?, ?, 0, 'now')",
                list(row),
            )
        with pytest.raises(sqlite3.IntegrityError):  # the side, when given, is still checked
            old.conn.execute("UPDATE judgments SET shown_order = 'XY' WHERE id = 1")
        indexes = {i[1] for i in old.conn.execute("PRAGMA index_list(judgments)")}
        assert "judgments_annotator" in indexes


def test_exports_and_frames_keep_working_with_unknown_sides(store, tmp_path, monkeypatch):
    import_judgments(store, write_jsonl(tmp_path / "arena.jsonl", battles(40, texts=True)))
    raw = export_dataset(store, tmp_path / "raw", ExportOptions(format="raw-jsonl"))
    lines = raw.files["all"].read_text().splitlines()
    assert {json.loads(line)["shown_order"] for line in lines} == {None}
    csv_file = export_dataset(store, tmp_path / "raw", ExportOptions(format="raw-csv"))
    loader = csv_file.card.read_text().split("```python\n")[1].split("```")[0]
    scope: dict = {}
    monkeypatch.chdir(tmp_path)
    exec(loader, scope)  # the card's own loader reads an unknown side as missing
    assert scope["frame"]["shown_order"].isna().all()
    prefs = export_dataset(store, tmp_path / "prefs", ExportOptions())
    assert prefs.export.counts["records"] > 0


# -- 14: a scale that does not match the study ---------------------------------------------------


def test_three_point_judgments_are_refused_by_a_seven_point_study(store, tmp_path):
    records = battles(5, texts=True)
    store.add_prompts([Prompt("q0", "c", [{"role": "user", "content": "Question 0?"}], [], 1)])
    store.add_responses([("q0", m, f"Answer of {m} to 0.") for m in MODELS])
    store.create_study("seven", pairs=[MODELS], overlap=1, scale=7)
    path = write_jsonl(tmp_path / "arena.jsonl", records)
    before = store.counts()
    with pytest.raises(IngestError) as caught:
        import_judgments(store, path, study="seven")
    error = caught.value
    assert (error.file, error.line, error.field) == (path, 1, "winner")
    assert "3-point" in str(error) and "7-point" in str(error) and "'seven'" in str(error)
    assert store.counts() == before  # nothing written
    own = [
        {"prompt_id": "q0", "model_a": MODELS[0], "model_b": MODELS[1], "annotator": "k"}
        | {"score": 1, "scale": 5}
    ]
    with pytest.raises(IngestError, match=r"5-point.*7-point") as caught:
        import_judgments(store, write_jsonl(tmp_path / "own.jsonl", own), study="seven")
    assert (caught.value.line, caught.value.field) == (1, "scale")
    result = CliRunner().invoke(
        main, ["--db", store.path, "import", "judgments", path, "--study", "seven"]
    )
    assert result.exit_code == 1 and "line 1" in result.output and "7-point" in result.output


# -- 1: placeholders name no model; studies without texts are never annotated ---------------------


def test_imported_study_without_texts_names_no_model_and_is_never_served(store, tmp_path):
    import_judgments(store, write_jsonl(tmp_path / "arena.jsonl", battles(12)), study="arena")
    contents = [row[0] for row in store.conn.execute("SELECT content FROM responses")]
    assert set(contents) == {PLACEHOLDER_RESPONSE}
    messages = " ".join(row[0] for row in store.conn.execute("SELECT messages FROM prompts"))
    assert not any(model in text for model in MODELS for text in [*contents, messages])
    study = store.get_study("arena")
    assert study.read_only
    who = store.add_annotator("ann")
    with pytest.raises(StoreError, match="imported without the texts"):
        store.next_comparison(study, who.id)
    # a study imported with its texts stays open for annotation
    full = battles(5, texts=True, prefix="t")
    import_judgments(store, write_jsonl(tmp_path / "full.jsonl", full))
    assert not store.get_study("full").read_only
    # its report still works
    assert report_from_store(store, "arena", rounds=20).pairs["n"].sum() == 12


def test_annotate_page_never_offers_a_read_only_study(store, tmp_path, monkeypatch):
    import_judgments(store, write_jsonl(tmp_path / "arena.jsonl", battles(6)), study="imported")
    monkeypatch.setenv("PAIRWISE_DB", store.path)
    app = "from pairwise.pages.{} import page\npage()\n"
    at = AppTest.from_string(app.format("annotate")).run(timeout=30)
    assert not at.exception
    assert any("no study to annotate" in i.value for i in at.info)
    assert "imported" not in " ".join(m.value for m in at.markdown)
    # with an open study as well, only that one is offered, though a newer one is imported
    full = battles(4, texts=True, prefix="t")
    import_judgments(store, write_jsonl(tmp_path / "full.jsonl", full))
    newer = battles(3, prefix="n")
    import_judgments(store, write_jsonl(tmp_path / "newer.jsonl", newer), study="newer")
    assert [s.read_only for s in store.studies()] == [True, False, True]
    at = AppTest.from_string(app.format("annotate")).run(timeout=30)
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert all(model not in shown for model in MODELS)
    assert not at.sidebar.selectbox  # one study left to offer: no choice
    studies = AppTest.from_string(app.format("studies")).run(timeout=30)
    assert not studies.exception
    table = studies.dataframe[0].value.set_index("study")
    assert table.loc["imported", "annotation"] == "imported, read-only"
    assert table.loc["full", "annotation"] == "open"


def test_texts_imported_later_take_the_place_of_placeholders(store, tmp_path):
    """Verdicts first (no texts: placeholders, read-only), the texts later: the texts are stored,
    and the study opens for annotation once none of its placeholders is left."""
    import_judgments(store, write_jsonl(tmp_path / "gpt4.jsonl", battles(4)), study="arena")
    assert store.get_study("arena").read_only
    frame_before = store.judgments_frame("arena")
    # the same battles with their conversations, for two of the four questions
    texts = battles(4, texts=True)
    half = import_judgments(store, write_jsonl(tmp_path / "half.jsonl", texts[:2]), study="arena")
    assert half.inserted["prompts"] == 2 and half.inserted["responses"] == 4
    assert half.unchanged["judgments"] == 2  # the verdicts were stored already
    assert store.get_prompt("q0").messages == [{"role": "user", "content": "Question 0?"}]
    assert store.get_study("arena").read_only  # q2 and q3 are still placeholders
    # the rest through the plain prompt and response files
    prompts = [{"id": f"q{i}", "prompt": f"Question {i}?"} for i in (2, 3)]
    responses = [
        {"prompt_id": f"q{i}", "model": m, "response": f"Answer of {m} to {i}."}
        for i in (2, 3)
        for m in MODELS
    ]
    runner = CliRunner()
    for kind, rows in (("prompts", prompts), ("responses", responses)):
        path = write_jsonl(tmp_path / f"{kind}.jsonl", rows)
        result = runner.invoke(main, ["--db", store.path, "import", kind, path])
        assert result.exit_code == 0, result.output
    study = store.get_study("arena")
    assert not study.read_only
    contents = {row[0] for row in store.conn.execute("SELECT content FROM responses")}
    assert PLACEHOLDER_RESPONSE not in contents and len(contents) == 8
    # the judgments are the same ones, now with their texts' lengths
    frame = store.judgments_frame("arena")
    pd.testing.assert_series_equal(frame["score"], frame_before["score"])
    assert (frame["len_a"] == [len(f"Answer of gpt-4 to {i}.") for i in range(4)]).all()
    # and the study is served: asked for a second judgment of each comparison, a person gets
    # one with the real texts
    study = store.update_study("arena", overlap=2)
    who = store.add_annotator("ann")
    got = store.next_comparison(study, who.id)
    assert got is not None and {got.left, got.right} == {
        f"Answer of {m} to {got.prompt.id[1:]}." for m in MODELS
    }


def test_a_real_text_never_gives_way(store, tmp_path):
    """Only a placeholder is replaced: another text for a stored one is refused, naming the
    file's line and field, and nothing of that file is written."""
    full = battles(2, texts=True)
    import_judgments(store, write_jsonl(tmp_path / "full.jsonl", full), study="arena")
    other = battles(2, texts=True, seed=1)
    other[1]["conversation_a"][1]["content"] = "Another answer."
    before = store.counts()
    with pytest.raises(IngestError, match=r"line 2.*conversation_a.*already stored with other"):
        import_judgments(store, write_jsonl(tmp_path / "other.jsonl", other), study="arena")
    assert store.counts() == before
    # a file without texts leaves the stored texts as they are
    import_judgments(store, write_jsonl(tmp_path / "bare.jsonl", battles(2, seed=2)), study="arena")
    assert store.get_prompt("q0").messages == [{"role": "user", "content": "Question 0?"}]
    assert not store.get_study("arena").read_only


@pytest.mark.sqlite_only("a SQLite file written by an earlier version is migrated")
def test_an_old_store_loses_model_names_from_placeholders(tmp_path):
    path = tmp_path / "old.db"
    with Store(path) as new:
        import_judgments(new, write_jsonl(tmp_path / "arena.jsonl", battles(3)), study="arena")
    with sqlite3.connect(path) as conn:  # as an earlier version wrote it
        conn.execute(
            "UPDATE responses SET content = '(response of ' || model || ' — text not provided)'"
        )
        conn.executescript("ALTER TABLE studies DROP COLUMN read_only")
    store_schema._migrated.discard(str(path.resolve()))  # as a new process opening it would
    with Store(path) as old:
        contents = {row[0] for row in old.conn.execute("SELECT content FROM responses")}
        assert contents == {PLACEHOLDER_RESPONSE}
        assert old.get_study("arena").read_only


def test_a_new_study_refuses_verdicts_of_another_scale_in_the_same_file(store, tmp_path):
    """A 7-point row first, then an Arena verdict: the new study is 7-point, the verdict is not
    (accepted before, then refused on re-import, as the study existed by then)."""
    seven = {"prompt_id": "q0", "model_a": MODELS[0], "model_b": MODELS[1], "annotator": "k"}
    path = write_jsonl(tmp_path / "mixed.jsonl", [seven | {"score": 2, "scale": 7}, *battles(1)])
    with pytest.raises(IngestError, match=r"3-point.*line 1 gives 7") as caught:
        import_judgments(store, path)
    assert (caught.value.line, caught.value.field) == (2, "winner")
    assert store.counts()["judgments"] == 0
