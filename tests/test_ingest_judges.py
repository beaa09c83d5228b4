"""Verdicts of model judges and people as published: AlpacaEval annotations, empty responses,
the kind of each judge, and files in no supported format.

The AlpacaEval fixtures in ``tests/fixtures/alpaca_eval`` are written in the shape AlpacaEval
publishes (``results/<model>/model_outputs.json``, ``annotations.json``: a JSON array, four-space
indent, the keys in AlpacaEval's order).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from databases import dump
from streamlit.testing.v1 import AppTest

from pairwise import auth
from pairwise.ingest import (
    IngestError,
    alpaca_eval_prompt_id,
    import_judgments,
    import_prompts,
    import_responses,
)
from pairwise.quality import annotator_quality, people_only
from pairwise.store import DuplicateConflict, Store, StoreError
from pairwise.store import schema as store_schema

ALPACA_EVAL = Path(__file__).parent / "fixtures" / "alpaca_eval"
ANNOTATIONS = ALPACA_EVAL / "annotations.json"
BASELINE, MODEL = "gpt4_1106_preview", "tulu-2-dpo-70b"


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


@pytest.fixture
def outputs(store: Store) -> Store:
    """Both models' ``model_outputs.json`` imported, as a user would before the annotations."""
    for generator in (BASELINE, MODEL):
        import_responses(store, ALPACA_EVAL / f"model_outputs_{generator}.json")
    return store


def published() -> list[dict]:
    return json.loads(ANNOTATIONS.read_text(encoding="utf-8"))


def test_annotations_link_to_the_model_outputs_and_count_what_is_not_judged(outputs):
    before = outputs.counts()
    result = import_judgments(outputs, ANNOTATIONS)
    assert result.read_as == "AlpacaEval annotations"
    assert result.left_out == {"not judged (preference null)": 1}
    # the prompts and responses are the ones model_outputs.json brought: none new, none changed
    assert result.inserted["prompts"] == 0 and result.inserted["responses"] == 0
    assert result.unchanged == {"prompts": 6, "responses": 12, "judgments": 0}
    assert outputs.counts()["prompts"] == before["prompts"] == 7
    assert result.inserted["judgments"] == 6
    assert "(read as AlpacaEval annotations)" in str(result)
    assert "left out: 1 record(s) not judged (preference null)" in str(result)

    frame = outputs.judgments_frame("annotations").set_index("prompt_id")
    assert set(frame["judge_kind"]) == {"model"}
    assert set(frame["model_a"]) == {BASELINE} and set(frame["model_b"]) == {MODEL}
    assert (frame["scale"] == 3).all()
    by_record = {alpaca_eval_prompt_id(r["instruction"]): r for r in published()}
    for prompt_id, row in frame.iterrows():
        record = by_record[prompt_id]
        assert row["annotator"] == record["annotator"]
        assert row["category"] == record["dataset"]
        preference = 1.5 if record["preference"] == 0 else record["preference"]
        # preference - 1 is the probability that output_2 (model B) is better
        assert row["p_a"] == pytest.approx(2 - preference)
        assert row["score"] == np.sign(1.5 - preference)
        assert row["seconds"] == pytest.approx(record["time_per_example"])
    weighted = frame.loc[alpaca_eval_prompt_id("Say hi in French.")]
    assert weighted["outcome"] == "win" and weighted["p_a"] == pytest.approx(0.63)
    assert json.loads(weighted["rationale"])["message"] == {"content": "m", "role": "assistant"}


def test_mean_preference_is_alpaca_evals_win_rate(outputs):
    """AlpacaEval's win rate of generator_2: mean of (preference - 1), 0 read as 1.5, nulls out."""
    import_judgments(outputs, ANNOTATIONS)
    judged = [r["preference"] for r in published() if r["preference"] is not None]
    alpaca_eval_win_rate = sum((1.5 if p == 0 else p) - 1 for p in judged) / len(judged)
    frame = outputs.judgments_frame("annotations")
    assert 1 - frame["p_a"].mean() == pytest.approx(alpaca_eval_win_rate)


def test_annotations_alone_bring_their_texts(store):
    result = import_judgments(store, ANNOTATIONS, study="ae")
    assert result.inserted["prompts"] == 6 and result.inserted["responses"] == 12
    texts = store.comparison_texts("ae").set_index("prompt_id")
    explain = texts.loc[alpaca_eval_prompt_id("Explain recursion in one sentence.")]
    assert explain["response_b"] == ""  # the model answered nothing: a real, empty output
    assert json.loads(explain["messages"]) == [
        {"role": "user", "content": "Explain recursion in one sentence."}
    ]


def test_reimporting_annotations_changes_nothing(outputs):
    import_judgments(outputs, ANNOTATIONS)
    before = dump(outputs)
    again = import_judgments(outputs, ANNOTATIONS)
    assert again.inserted["judgments"] == 0 and again.unchanged["judgments"] == 6
    assert dump(outputs) == before


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"preference": 2.5}, "preference", "must be from 1 (output_1 better) to 2"),
        ({"preference": 0.5}, "preference", "or null (not judged)"),
        ({"preference": "1"}, "preference", "must be a number"),
        ({"output_2": None}, "output_2", "is missing"),
        ({"generator_2": BASELINE}, "model_b", "same model"),
        ({"instruction": ""}, "instruction", "is empty"),
        ({"raw_completion": 3}, "raw_completion", "must be a string or an object"),
    ],
)
def test_bad_annotations_name_line_and_field_and_write_nothing(
    outputs, write_file, change, field, message
):
    records = published()
    records[2] = {**records[2], **change}
    path = write_file("annotations.json", json.dumps(records, indent=4))
    before = dump(outputs)
    with pytest.raises(IngestError) as caught:
        import_judgments(outputs, path)
    # four-space indent: "[" on line 1, then 13 lines per record
    assert (caught.value.line, caught.value.field) == (2 + 2 * 13, field), str(caught.value)
    assert message in caught.value.message
    assert str(caught.value).endswith("(the file was read as AlpacaEval annotations)")
    assert dump(outputs) == before


def test_a_file_in_no_supported_format_says_so_once(store, write_file):
    records = [
        {"question": f"q{i}", "answer_a": "x", "answer_b": "y", "label": 1} for i in range(500)
    ]
    path = write_file("labels.json", json.dumps(records))
    with pytest.raises(IngestError) as caught:
        import_judgments(store, path)
    e = caught.value
    assert len(e.problems) == 1 and e.more == 0 and e.line is None
    assert e.message.startswith("is in no supported judgment format")
    assert "answer_a, answer_b, label, question" in e.message
    for name in ("AlpacaEval annotations", "Chatbot Arena battles", "pairwise judgments"):
        assert name in e.message
    assert set(store.counts().values()) == {0}


def test_files_given_to_the_wrong_command_name_the_right_one(store):
    with pytest.raises(IngestError, match="import it with `pairwise import judgments`"):
        import_responses(store, ANNOTATIONS)
    outputs = ALPACA_EVAL / f"model_outputs_{MODEL}.json"
    with pytest.raises(IngestError, match="import it with `pairwise import responses`"):
        import_judgments(store, outputs)
    assert set(store.counts().values()) == {0}


def test_a_file_of_unjudged_annotations_is_refused(store, write_file):
    records = [{**r, "preference": None} for r in published()]
    path = write_file("none.json", json.dumps(records))
    with pytest.raises(IngestError, match="holds no judged records"):
        import_judgments(store, path)


# -- empty responses ------------------------------------------------------------------------------


def test_empty_responses_import_in_both_paths(store, write_file):
    prompts = jsonl({"id": "p1", "prompt": "?"}, {"id": "p2", "prompt": "!"})
    import_prompts(store, write_file("p.jsonl", prompts))
    lines = jsonl(
        {"prompt_id": "p1", "model": "silent", "response": ""},
        {"prompt_id": "p1", "model": "spaces", "response": "  \n"},
    )
    assert import_responses(store, write_file("r.jsonl", lines)).inserted == {"responses": 2}
    csv_file = write_file("r.csv", 'prompt_id,model,response\np2,silent,""\np2,terse,\n')
    assert import_responses(store, csv_file).inserted == {"responses": 2}
    texts = dict(
        ((r["prompt_id"], r["model"]), r["content"])
        for r in store.query("SELECT prompt_id, model, content FROM responses")
    )
    assert texts == {
        ("p1", "silent"): "",
        ("p1", "spaces"): "  \n",
        ("p2", "silent"): "",
        ("p2", "terse"): "",
    }

    battle = {
        "question_id": "q1",
        "model_a": "silent",
        "model_b": "chatty",
        "winner": "model_b",
        "judge": "expert_1",
        "conversation_a": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}],
        "conversation_b": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
        ],
    }
    row = {
        "prompt_id": "p2",
        "model_a": "silent",
        "model_b": "chatty",
        "annotator": "ann",
        "outcome": "loss",
        "response_a": "",
        "response_b": "Hello",
        "prompt": "!",
    }
    import_judgments(store, write_file("battle.jsonl", jsonl(battle)), study="s")
    import_judgments(store, write_file("frame.jsonl", jsonl(row)), study="s")
    texts = store.comparison_texts("s").set_index("prompt_id")
    assert texts.loc["q1", "response_a"] == "" and texts.loc["p2", "response_a"] == ""


# -- judge kinds -------------------------------------------------------------------------------------


def test_model_judges_are_not_people(outputs):
    import_judgments(outputs, ANNOTATIONS, study="ae")
    judge = outputs.get_annotator("alpaca_eval_gpt4_turbo_fn")
    assert judge.judge_kind == "model" and judge.is_model
    people = outputs.annotators_frame()
    assert "alpaca_eval_gpt4_turbo_fn" not in set(people["name"])
    assert {a.name for a in outputs.annotators("model")} == {
        "alpaca_eval_gpt4_turbo_fn",
        "weighted_alpaca_eval_gpt4_turbo",
    }
    study = outputs.get_study("ae")
    # the overlap is about people: model verdicts leave every comparison open for them
    assert study.overlap == 1
    assert outputs.study_progress(study)["done"] == 0
    with pytest.raises(StoreError, match="is a model judge"):
        outputs.next_comparison(study, judge.id)
    with pytest.raises(StoreError, match="is a model judge"):
        outputs.record_judgment(1, judge.id, score=1, shown_order="AB")
    with pytest.raises(StoreError, match="is a model judge: it is not invited"):
        auth.invite(outputs, "alpaca_eval_gpt4_turbo_fn")
    person = outputs.ensure_annotator("ann")
    assert outputs.next_comparison(study, person.id) is not None


def test_a_judge_keeps_its_kind_across_files(outputs, write_file):
    auth.invite(outputs, "alpaca_eval_gpt4_turbo_fn")  # a person of that name came first
    before = dump(outputs)
    with pytest.raises(IngestError) as caught:
        import_judgments(outputs, ANNOTATIONS)
    assert caught.value.line == 2
    assert "stored as a human judge, not a model one" in caught.value.message
    assert dump(outputs) == before


def test_own_frame_rows_carry_judge_kind_and_soft_verdicts(store, write_file):
    base = {"prompt_id": "p", "model_a": "x", "model_b": "y", "scale": 3}
    rows = [
        {**base, "annotator": "gpt-4", "judge_kind": "model", "score": 1, "p_a": 0.8},
        {**base, "annotator": "ann", "score": -1, "p_a": 0.0},
        {**base, "annotator": "bob", "judge_kind": "human", "score": 0},
    ]
    import_judgments(store, write_file("rows.jsonl", jsonl(*rows)), study="s")
    frame = store.judgments_frame("s").set_index("annotator")
    assert frame["judge_kind"].to_dict() == {"gpt-4": "model", "ann": "human", "bob": "human"}
    assert frame["p_a"].to_dict() == {"gpt-4": 0.8, "ann": 0.0, "bob": 0.5}
    bad = {**base, "annotator": "eve", "score": -1, "p_a": 0.7}
    with pytest.raises(IngestError, match="disagrees with score -1") as caught:
        import_judgments(store, write_file("bad.jsonl", jsonl(bad)), study="s")
    assert caught.value.field == "p_a"


def test_the_frame_round_trips_judge_kind_and_p_a(outputs, tmp_path, new_db):
    import_judgments(outputs, ANNOTATIONS, study="ae")
    frame = outputs.judgments_frame("ae", with_text=True)
    path = tmp_path / "frame.jsonl"
    frame.to_json(path, orient="records", lines=True)
    other = Store(new_db("other"))
    import_judgments(other, path)
    back = other.judgments_frame("ae")
    columns = ["prompt_id", "model_a", "model_b", "annotator", "judge_kind", "score", "p_a"]
    pd.testing.assert_frame_equal(
        back[columns].reset_index(drop=True), frame[columns].reset_index(drop=True)
    )
    other.close()


def test_annotator_quality_leaves_model_judges_out(outputs, write_file):
    import_judgments(outputs, ANNOTATIONS, study="ae")
    frame = outputs.judgments_frame("ae")
    person = frame.iloc[[0]].assign(annotator="ann", judge_kind="human", judgment_id=-1)
    quality = annotator_quality(pd.concat([frame, person], ignore_index=True))
    assert list(quality.index) == ["ann"]
    assert quality.loc["ann", "judgments"] == 1
    assert people_only(frame).empty


@pytest.mark.sqlite_only("a SQLite file written by an earlier version is migrated")
def test_a_store_from_before_judge_kinds_opens_with_people_and_hard_verdicts(tmp_path):
    """An older store gains judge_kind, p_a, score_ab and score_ba by ALTER TABLE on open."""
    path = tmp_path / "old.db"
    old_schema = store_schema._SCHEMA.replace(
        ",\n    judge_kind TEXT NOT NULL DEFAULT 'human' CHECK (judge_kind IN ('human', 'model'))",
        "",
    )
    for column in ("p_a", "score_ab", "score_ba"):
        start = old_schema.index(f"    {column} ")
        old_schema = old_schema[:start] + old_schema[old_schema.index("\n", start) + 1 :]
    assert "judge_kind" not in old_schema and "p_a" not in old_schema
    conn = sqlite3.connect(path)
    conn.executescript(old_schema)
    conn.execute(
        "INSERT INTO annotators (name, role, created_at) VALUES ('ann', 'annotator', '2024')"
    )
    conn.commit()
    conn.close()
    with Store(path) as s:
        assert s.get_annotator("ann").judge_kind == "human"
        columns = {row[1] for row in s.conn.execute("PRAGMA table_info(judgments)")}
        assert {"p_a", "score_ab", "score_ba"} <= columns


# -- MT-Bench and Arena, all in one study --------------------------------------------------------------

MT_BENCH = Path(__file__).parent / "fixtures" / "mt_bench"
ARENA = Path(__file__).parent / "fixtures" / "arena" / "battles.json"


def test_mt_bench_people_gpt4_pairs_and_arena_battles_in_one_study(store):
    humans = import_judgments(store, MT_BENCH / "human_judgments.jsonl", study="mt")
    assert humans.read_as == "Chatbot Arena battles / MT-Bench human judgments"
    pairs = import_judgments(store, MT_BENCH / "gpt-4_pair.jsonl", study="mt")
    assert pairs.read_as == "MT-Bench pair judgments (FastChat)"
    assert pairs.left_out == {'judged in no order (g1_winner and g2_winner "error")': 1}
    assert pairs.inserted["judgments"] == 4
    # the GPT-4 judgments are about the questions the people judged: no new prompt texts
    assert pairs.inserted["prompts"] == 0
    battles = import_judgments(store, ARENA, study="mt")
    assert battles.inserted["judgments"] == 3
    frame = store.judgments_frame("mt")
    kinds = frame.groupby("judge_kind")["annotator"].agg(set).to_dict()
    assert kinds == {
        "human": {"expert_0", "author_2", "expert_5", "arena_user_973"},
        "model": {"gpt-4/pair-v2", "gpt-4/pair-v2-multi-turn"},
    }
    model = frame[frame["judge_kind"] == "model"].set_index(["prompt_id", "model_b"])
    # the study holds gpt-4 as model A against claude (the people's file came first)
    consistent = model.loc[("81", "claude-v1")]
    assert consistent["model_a"] == "gpt-4"
    assert (consistent["score_ab"], consistent["score_ba"], consistent["score"]) == (1, 1, 1)
    # each game favoured the answer shown first: inconsistent, so a tie, both games kept
    flipped = model.loc[("81-turn2", "claude-v1")]
    assert (flipped["score_ab"], flipped["score_ba"], flipped["score"]) == (1, -1, 0)
    tie = model.loc[("81-turn2", "vicuna-13b-v1.2")]
    assert (tie["score_ab"], tie["score_ba"], tie["score"]) == (1, 0, 0)
    # game 1 failed: game 2 (vicuna shown first) alone, a one-order judgment
    one = model.loc[("81", "vicuna-13b-v1.2")]
    assert one["shown_order"] == "BA" and one["score"] == 1
    assert np.isnan(one["score_ab"]) and np.isnan(one["score_ba"])
    assert one["rationale"].endswith(
        "\n\n[model B shown first]\nAssistant B follows the format. [[B]]"
    )
    assert frame.loc[frame["judge_kind"] == "human", "score_ab"].isna().all()
    people = frame[frame["judge_kind"] == "human"]
    assert len(people) == 7 and set(people["turns"]) == {1, 2}


def test_a_bad_pair_judgment_names_its_line_and_field(store, write_file):
    lines = (MT_BENCH / "gpt-4_pair.jsonl").read_text().splitlines()
    record = json.loads(lines[1]) | {"g2_winner": "model_3"}
    path = write_file("pairs.jsonl", "\n".join([lines[0], json.dumps(record), *lines[2:]]) + "\n")
    with pytest.raises(IngestError) as caught:
        import_judgments(store, path)
    assert (caught.value.line, caught.value.field) == (2, "g2_winner")
    assert "must be one of 'model_1', 'model_2', 'tie', 'error'" in caught.value.message
    assert set(store.counts().values()) == {0}


# -- bulk writes keep the one-row rules ------------------------------------------------------------


def test_bulk_response_and_comparison_writes_keep_the_rules(store, write_file):
    import_prompts(store, write_file("p.jsonl", jsonl({"id": "p1", "prompt": "?"})))
    assert store.add_responses([("p1", "a", "x"), ("p1", "a", "x"), ("p1", "b", "")]) == (2, 1)
    with pytest.raises(DuplicateConflict):
        store.add_responses([("p1", "c", "x"), ("p1", "c", "y")])
    with pytest.raises(StoreError, match="unknown prompt id 'p9'"):
        store.add_responses([("p9", "a", "x")])
    assert store.counts()["responses"] == 2  # nothing of a refused batch was written
    study = store.create_study("both ways", pairs=[("a", "b"), ("b", "a")], overlap=1)
    places = store.add_comparisons(study.id, [("p1", "a", "b"), ("p1", "b", "a")])
    frame = store.comparisons_frame(study.id).set_index(["model_a", "model_b"])
    assert places == [
        (int(frame.loc[("a", "b"), "comparison_id"]), False),
        (int(frame.loc[("b", "a"), "comparison_id"]), False),
    ]
    with pytest.raises(StoreError, match="no response of 'z' to prompt 'p1'"):
        store.add_comparisons(study.id, [("p1", "a", "z")])


def test_people_and_progress_pages_show_no_model_judge(outputs, monkeypatch):
    import_judgments(outputs, ANNOTATIONS, study="ae")
    person = outputs.ensure_annotator("ann")
    study = outputs.get_study("ae")
    got = outputs.next_comparison(study, person.id)
    outputs.record_judgment(got.comparison_id, person.id, score=1, shown_order=got.shown_order)
    monkeypatch.setenv("PAIRWISE_DB", outputs.path)
    for page in ("people", "progress"):
        at = AppTest.from_string(f"from pairwise.pages.{page} import page\npage()\n").run(
            timeout=30
        )
        assert not at.exception, page
        shown = " ".join(
            str(v) for frame in at.dataframe for v in frame.value.reset_index().to_numpy().ravel()
        )
        shown += " ".join(str(o) for box in at.selectbox for o in box.options)
        assert "alpaca_eval_gpt4_turbo_fn" not in shown, page
        assert "weighted_alpaca_eval_gpt4_turbo" not in shown, page
        if page == "progress":
            assert "ann" in shown
