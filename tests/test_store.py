"""The store on real SQLite files: schema, WAL, atomic writes, orientation, the judgments frame."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from databases import INTEGRITY_ERRORS

from pairwise.scales import Scale, orient, outcome, unorient
from pairwise.store import DuplicateConflict, ImportedJudgment, Prompt, Store, StoreError


def _prompt(pid: str, text: str = "hi", category: str = "chat") -> Prompt:
    return Prompt(pid, category, [{"role": "user", "content": text}], [], 1)


@pytest.fixture
def small(new_db):
    store = Store(new_db("t"))
    store.add_prompts([_prompt("p1"), _prompt("p2", "yo", "code")])
    store.add_responses(
        [("p1", "m1", "a"), ("p1", "m2", "bbb"), ("p2", "m1", "cc"), ("p2", "m2", "dddd")]
    )
    yield store
    store.close()


@pytest.mark.sqlite_only("the settings of the SQLite file")
def test_file_is_wal_with_foreign_keys(small):
    assert small.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert small.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_schema_version_and_foreign_keys_are_enforced(small):
    assert small.schema_version == 1
    with pytest.raises(INTEGRITY_ERRORS), small.transaction() as conn:
        conn.execute(
            "INSERT INTO responses (prompt_id, model, content, chars, content_hash, created_at)"
            " VALUES ('nope', 'm', 'x', 1, 'h', 'now')"
        )


def test_reopening_keeps_data_and_version(new_db):
    path = new_db("r")
    with Store(path) as s:
        s.add_prompts([_prompt("p1")])
    with Store(path) as s:
        assert s.prompt_ids() == {"p1"}
        assert s.conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 1


def test_reimport_is_idempotent_and_conflicts_write_nothing(small):
    assert small.add_prompts([_prompt("p1")]) == (0, 1)
    with pytest.raises(DuplicateConflict, match="p1"):
        small.add_prompts([_prompt("p3"), _prompt("p1", "changed")])
    assert small.prompt_ids() == {"p1", "p2"}  # p3 rolled back with the conflict
    with pytest.raises(StoreError, match="unknown prompt id"):
        small.add_responses([("p1", "m3", "x"), ("zz", "m1", "y")])
    assert "m3" not in small.models()


def test_outer_transaction_makes_several_calls_atomic(small):
    with pytest.raises(RuntimeError), small.transaction():
        small.add_prompts([_prompt("p9")])
        small.add_responses([("p9", "m1", "x")])
        raise RuntimeError("crash in the middle")
    assert "p9" not in small.prompt_ids()


@pytest.mark.parametrize("points", [7, 5, 3, 2])
def test_orientation_round_trip_on_every_scale(points):
    scale = Scale(points)
    for value in scale.values:
        for order in ("AB", "BA"):
            score = orient(value, order)
            assert scale.check(score) == score
            assert unorient(score, order) == value
    # Preferring the left response favours model A only when A was shown on the left.
    best_left = scale.values[0]
    assert outcome(orient(best_left, "AB")) == "win"
    assert outcome(orient(best_left, "BA")) == "loss"
    assert len(scale.choices()) == points
    assert [c.shortcut for c in scale.choices()] == [str(i) for i in range(1, points + 1)]
    assert scale.has_tie == (points % 2 == 1)


def test_judgment_is_stored_once_and_oriented_to_model_a(small):
    study = small.create_study("s", pairs=[("m1", "m2")], overlap=2, seed=3)
    ann = small.add_annotator("ann")
    got = small.next_comparison(study, ann.id)
    # "Response 1 much better" on a 7-point scale is +3 for the left response.
    score = orient(3, got.shown_order)
    first = small.record_judgment(
        got.comparison_id, ann.id, score=score, shown_order=got.shown_order
    )
    again = small.record_judgment(
        got.comparison_id, ann.id, score=score, shown_order=got.shown_order
    )
    assert first.stored and again.status == "duplicate" and again.judgment_id == first.judgment_id
    frame = small.judgments_frame("s")
    assert len(frame) == 1
    row = frame.iloc[0]
    left_model = row.model_a if got.shown_order == "AB" else row.model_b
    winner = row.model_a if row.outcome == "win" else row.model_b
    assert winner == left_model
    assert row.margin == 3 and row.scale == 7


def test_left_text_matches_shown_order(small):
    study = small.create_study("s", pairs=[("m1", "m2")], overlap=1, seed=0)
    ann = small.add_annotator("ann")
    texts = {("p1", "m1"): "a", ("p1", "m2"): "bbb", ("p2", "m1"): "cc", ("p2", "m2"): "dddd"}
    seen = 0
    while (got := small.next_comparison(study, ann.id)) is not None:
        a, b = texts[(got.prompt.id, got.model_a)], texts[(got.prompt.id, got.model_b)]
        assert (got.left, got.right) == ((a, b) if got.shown_order == "AB" else (b, a))
        small.record_pass(got.comparison_id, ann.id)
        seen += 1
    assert seen == 2


def test_score_off_the_scale_is_refused(small):
    study = small.create_study("s", pairs=[("m1", "m2")], scale=3, seed=0)
    ann = small.add_annotator("ann")
    got = small.next_comparison(study, ann.id)
    with pytest.raises(StoreError, match="3-point"):
        small.record_judgment(got.comparison_id, ann.id, score=2, shown_order="AB")
    assert small.judgments_frame().empty


def test_frame_columns_and_types_follow_the_contract(small):
    study = small.create_study("s", pairs=[("m1", "m2")], overlap=1, seed=0)
    ann = small.add_annotator("ann")
    got = small.next_comparison(study, ann.id)
    small.record_judgment(
        got.comparison_id, ann.id, score=-2, shown_order=got.shown_order, rationale="r", seconds=4.5
    )
    frame = small.judgments_frame()
    documented = {
        "judgment_id",
        "study",
        "comparison_id",
        "prompt_id",
        "category",
        "turns",
        "model_a",
        "model_b",
        "scale",
        "score",
        "outcome",
        "margin",
        "shown_order",
        "annotator",
        "seconds",
        "created_at",
        "len_a",
        "len_b",
        "is_gold",
        "gold_score",
        "rationale",
    }
    assert documented <= set(frame.columns)
    row = frame.iloc[0]
    assert (row.outcome, row.margin, row.seconds, row.rationale) == ("loss", 2, 4.5, "r")
    assert (row.len_a, row.len_b) == ((1, 3) if row.prompt_id == "p1" else (2, 4))
    small.set_excluded("ann")
    assert small.judgments_frame().empty
    assert len(small.judgments_frame(include_excluded=True)) == 1


def _joined_reference(store: Store, with_text: bool) -> pd.DataFrame:
    """Every judgment as one plain SQL join, the way the contract describes each column, with
    the study's id to filter on."""
    text = ", p.messages, ra.content AS response_a, rb.content AS response_b" if with_text else ""
    frame = store.frame(
        "SELECT j.id AS judgment_id, s.name AS study, j.comparison_id, c.prompt_id, p.category,"
        " p.turns, ra.model AS model_a, rb.model AS model_b, s.scale, j.score, j.shown_order,"
        " a.name AS annotator, j.seconds, j.created_at, ra.chars AS len_a, rb.chars AS len_b,"
        " c.is_gold, c.gold_score, j.rationale, a.excluded" + text + ", s.id AS study_key"
        " FROM judgments j JOIN comparisons c ON c.id = j.comparison_id"
        " JOIN studies s ON s.id = c.study_id JOIN prompts p ON p.id = c.prompt_id"
        " JOIN responses ra ON ra.id = c.response_a JOIN responses rb ON rb.id = c.response_b"
        " JOIN annotators a ON a.id = j.annotator_id ORDER BY j.id"
    )
    frame = frame.astype({"is_gold": bool, "excluded": bool, "seconds": float, "gold_score": float})
    frame["outcome"] = [outcome(score) for score in frame["score"]]
    frame["margin"] = frame["score"].abs()
    return frame


def test_frame_equals_a_plain_join_of_the_tables(new_db):
    """Two studies whose comparison ids interleave, gold items, an excluded annotator, missing
    seconds and rationales: every filter gives the rows and values of a plain SQL join."""
    store = Store(new_db("j"))
    store.add_prompts([_prompt(f"p{i}", f"q{i} ü", ["chat", "code"][i % 2]) for i in range(6)])
    models = ("m1", "m2", "m3")
    store.add_responses(
        (f"p{i}", m, m * (i + 3 * k + 1)) for i in range(6) for k, m in enumerate(models)
    )
    first = store.create_study("first", pairs=[("m1", "m2")], overlap=2, seed=1)
    second = store.create_study("second", pairs=[("m3", "m2")], overlap=2, scale=5, seed=2)
    people = [store.add_annotator(name) for name in ("ann", "bob", "cy")]
    for study, scale in ((first, 3), (second, 2)):
        for n, person in enumerate(people):
            while (got := store.next_comparison(study, person.id)) is not None:
                store.record_judgment(
                    got.comparison_id,
                    person.id,
                    score=(got.comparison_id + n) % (2 * scale + 1) - scale,
                    shown_order=got.shown_order,
                    rationale=["", "why", "a\nb"][got.comparison_id % 3],
                    seconds=None if n == 1 else 2.5 * n,
                )
    later = store.add_comparisons(first.id, [("p0", "m3", "m1"), ("p4", "m3", "m1")], seed=3)
    store.add_judgments(
        ImportedJudgment(comparison_id, people[0].id, score=-1, created_at="2024-05-01T00:00:00Z")
        for comparison_id, _ in later
    )
    assert min(i for i, _ in later) > store.comparisons_frame("second")["comparison_id"].max()
    store.set_gold(int(store.comparisons_frame("first")["comparison_id"].iloc[0]), 2)
    store.set_excluded("bob")
    for study, excluded, gold, text in itertools.product(
        [None, "first", second.id], [False, True], [True, False], [False, True]
    ):
        everything = _joined_reference(store, text)
        wanted = np.ones(len(everything), dtype=bool)
        if study is not None:
            wanted &= everything["study_key"] == store.get_study(study).id
        if not excluded:
            wanted &= ~everything["excluded"]
        if not gold:
            wanted &= ~everything["is_gold"]
        expected = everything[wanted].drop(columns="study_key").reset_index(drop=True)
        frame = store.judgments_frame(
            study, include_excluded=excluded, include_gold=gold, with_text=text
        )
        assert len(frame) > 0
        pd.testing.assert_frame_equal(frame[expected.columns], expected, check_dtype=False)
    store.close()


def test_study_checks_its_inputs(small):
    with pytest.raises(StoreError, match="no responses stored"):
        small.create_study("x", pairs=[("m1", "ghost")])
    with pytest.raises(StoreError, match="two different"):
        small.create_study("x", pairs=[("m1", "m1")])
    small.create_study("x", pairs=[("m1", "m2")])
    with pytest.raises(StoreError, match="exists already"):
        small.create_study("x", pairs=[("m1", "m2")])
    with pytest.raises(ValueError):
        small.create_study("y", pairs=[("m1", "m2")], scale=4)
    assert [s.name for s in small.studies()] == ["x"]
