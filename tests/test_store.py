"""The store on real SQLite files: schema, WAL, atomic writes, orientation, the judgments frame."""

from __future__ import annotations

import sqlite3

import pytest

from pairwise.scales import Scale, orient, outcome, unorient
from pairwise.store import DuplicateConflict, Prompt, Store, StoreError


def _prompt(pid: str, text: str = "hi", category: str = "chat") -> Prompt:
    return Prompt(pid, category, [{"role": "user", "content": text}], [], 1)


@pytest.fixture
def small(tmp_path):
    store = Store(tmp_path / "t.db")
    store.add_prompts([_prompt("p1"), _prompt("p2", "yo", "code")])
    store.add_responses(
        [("p1", "m1", "a"), ("p1", "m2", "bbb"), ("p2", "m1", "cc"), ("p2", "m2", "dddd")]
    )
    yield store
    store.close()


def test_file_is_wal_with_foreign_keys_and_schema_version(small):
    assert small.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert small.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert small.schema_version == 1
    with pytest.raises(sqlite3.IntegrityError), small.transaction() as conn:
        conn.execute(
            "INSERT INTO responses (prompt_id, model, content, chars, content_hash, created_at)"
            " VALUES ('nope', 'm', 'x', 1, 'h', 'now')"
        )


def test_reopening_keeps_data_and_version(tmp_path):
    path = tmp_path / "r.db"
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
