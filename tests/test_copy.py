"""``pairwise copy``: a whole store into another, row for row, with the counts the triggers keep."""

from __future__ import annotations

import json
import random
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from databases import ON_POSTGRES

from pairwise import progress
from pairwise.cli import main
from pairwise.store import Prompt, Store, StoreError
from pairwise.store import copy as copy_module
from pairwise.store.connection import locate
from pairwise.store.copy import CopyConflict, copy_store

NEW_PROMPT = Prompt("new-1", "x", [{"role": "user", "content": "Why?"}], [], 1)
TABLES = (
    "prompts",
    "responses",
    "studies",
    "study_pairs",
    "comparisons",
    "annotators",
    "tokens",
    "sessions",
    "leases",
    "judgments",
    "passes",
    "scan_starts",
    "scores",
    "study_totals",
    "schema_version",
)


def rows(location: str | Path, table: str) -> list[tuple]:
    """Every row of ``table`` in key order, on either backend."""
    with Store(location) as store:
        width = len(store.conn.execute(f"SELECT * FROM {table} LIMIT 0").description)
        order = ", ".join(str(i) for i in range(1, min(width, 2) + 1))
        return [tuple(r) for r in store.conn.execute(f"SELECT * FROM {table} ORDER BY {order}")]


def report(path: str | Path) -> dict:
    """``pairwise report --format json`` on the store, without ``meta`` (it names the file)."""
    result = CliRunner().invoke(
        main, ["--db", str(path), "report", "--format", "json", "--bootstrap", "100"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    data.pop("meta")
    return data


@pytest.fixture
def busy(judged: Store) -> Store:
    """The judged demo, with what a live store also holds: a lease, a pass, a token, a session,
    a reward-model score, and a larger overlap that reopened comparisons and moved scan starts."""
    rng = random.Random(1)
    study = judged.update_study("demo", overlap=4)
    late = judged.ensure_annotator("late")
    got = judged.next_comparison(study, late.id, rng=rng)
    assert got is not None  # leased, not judged
    judged.record_pass(got.comparison_id + 1, late.id, reason="broken", note="cut off")
    judged.add_token(late.id, "f" * 64)
    judged.add_session("e" * 64, "f" * 64, days=1)
    judged.add_scores([(got.prompt.id, got.model_a, "rm-1", 0.25)])
    assert judged.query("SELECT count(*) AS n FROM leases")[0]["n"] == 1
    assert judged.query("SELECT count(*) AS n FROM scan_starts")[0]["n"] >= 3
    return judged


def test_a_copy_holds_every_row_of_every_table(busy, new_db):
    dest = new_db("copy", bare=True)
    result = copy_store(busy.path, dest)
    assert {t.table for t in result.tables} == set(TABLES) - {"schema_version"}
    for table in TABLES:
        assert rows(dest, table) == rows(busy.path, table), table
    counts = {t.table: t.added for t in result.tables}
    assert counts["judgments"] == 432 and counts["leases"] == 1 and counts["sessions"] == 1
    assert all(t.added == t.source and t.skipped == 0 for t in result.tables)


def test_the_copys_counts_follow_its_rows_as_the_sources_do(busy, new_db):
    """The trigger-kept counts were copied, not inflated by the triggers while rows went in, and
    the copy's triggers go on counting: the same new judgment leaves both stores alike."""
    dest = new_db("copy", bare=True)
    copy_store(busy.path, dest)
    with Store(dest) as copy:
        for store in (busy, copy):
            study = store.get_study("demo")
            who = store.ensure_annotator("newcomer")
            got = store.next_comparison(study, who.id, rng=random.Random(5))
            store.record_judgment(got.comparison_id, who.id, score=2, shown_order="AB")
        assert copy.study_progress(copy.get_study("demo")) == busy.study_progress(
            busy.get_study("demo")
        )
    for table in ("study_pairs", "study_totals", "scan_starts", "comparisons"):
        assert rows(dest, table) == rows(busy.path, table), table
    # and they are what the rows say
    pairs = busy.query(
        "SELECT c.pair_id, count(*) AS n, sum(CASE WHEN j.score > 0 THEN 1 ELSE 0 END) AS wins"
        " FROM judgments j"
        " JOIN comparisons c ON c.id = j.comparison_id WHERE c.is_gold = 0 GROUP BY c.pair_id"
    )
    assert sorted((p["pair_id"], p["n"], p["wins"]) for p in pairs) == [
        (r[0], r[4], r[5]) for r in rows(dest, "study_pairs")
    ]


def test_a_report_on_the_copy_equals_the_report_on_the_original(busy, new_db):
    dest = new_db("copy", bare=True)
    copy_store(busy.path, dest)
    assert report(dest) == report(busy.path)


def test_a_store_that_is_not_empty_is_refused_and_left_alone(busy, new_db):
    dest = new_db("other", bare=True)
    with Store(dest) as other:
        other.ensure_annotator("someone")
    before = rows(dest, "annotators")
    with pytest.raises(
        StoreError, match=re.escape(f"{locate(dest)} is not empty: 1 row in annotators")
    ):
        copy_store(busy.path, dest)
    assert rows(dest, "annotators") == before and rows(dest, "judgments") == []


def test_the_source_must_exist_and_differ_from_the_destination(busy, tmp_path):
    with pytest.raises(StoreError, match="no store at .*nothing.db"):
        copy_store(tmp_path / "nothing.db", tmp_path / "copy.db")
    assert not (tmp_path / "nothing.db").exists()
    other_name = (  # the same store, written another way
        busy.path.replace("postgresql://", "postgres://", 1)
        if ON_POSTGRES
        else f"sqlite:///{busy.path}"
    )
    with pytest.raises(StoreError, match="same store"):
        copy_store(busy.path, other_name)


def test_a_count_that_differs_rolls_the_whole_copy_back(busy, tmp_path):
    """A destination that loses a row on the way (a trigger of its own here, in a SQLite file
    whatever the source) fails the check of counts, and keeps nothing of the copy."""
    dest = tmp_path / "copy.db"
    Store(dest).close()
    conn = sqlite3.connect(dest)
    conn.execute(
        "CREATE TRIGGER lose_one AFTER INSERT ON judgments WHEN new.id = 7"
        " BEGIN DELETE FROM judgments WHERE id = 7; END"
    )
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="judgments: the source has 432 rows, the destination 431"):
        copy_store(busy.path, dest)
    assert all(rows(dest, table) == [] for table in TABLES if table != "schema_version")


def test_a_merge_adds_new_rows_and_skips_those_already_there(busy, new_db):
    """The destination is an earlier copy; the source then got a new study with its own prompts,
    responses, people and judgments. The merge brings exactly those, and the reports agree."""
    dest = new_db("copy", bare=True)
    copy_store(busy.path, dest)
    busy.add_prompts([NEW_PROMPT])
    busy.add_responses([("new-1", "m1", "Because."), ("new-1", "m2", "No idea.")])
    study = busy.create_study("later", pairs=[("m1", "m2")], overlap=1)
    who = busy.ensure_annotator("later-rater")
    got = busy.next_comparison(study, who.id)
    busy.record_judgment(got.comparison_id, who.id, score=-1, shown_order=got.shown_order)

    result = copy_store(busy.path, dest, merge=True)
    added = {t.table: t.added for t in result.tables if t.added}
    assert added == {
        "prompts": 1,
        "responses": 2,
        "studies": 1,
        "study_pairs": 1,
        "comparisons": 1,
        "annotators": 1,
        "judgments": 1,
    }
    assert {t.table for t in result.tables} == set(TABLES) - {
        "schema_version",
        "study_totals",
        "scan_starts",
    }
    assert report(dest) == report(busy.path)
    for table in ("study_pairs", "study_totals"):  # counted by the triggers in the merge
        assert rows(dest, table) == rows(busy.path, table), table
    again = copy_store(busy.path, dest, merge=True)
    assert again.added == 0 and again.skipped == sum(t.source for t in again.tables)


def test_a_merge_stops_at_a_row_held_with_other_content(busy, new_db):
    dest = new_db("copy", bare=True)
    copy_store(busy.path, dest)
    busy.conn.execute("UPDATE judgments SET rationale = 'changed' WHERE id = 5")
    busy.add_prompts([NEW_PROMPT])
    before = rows(dest, "prompts")
    with pytest.raises(
        CopyConflict, match="judgments id 5 is in the destination with another rationale"
    ):
        copy_store(busy.path, dest, merge=True)
    assert rows(dest, "prompts") == before  # the new prompt went in before, and was rolled back


def test_a_merge_stops_at_a_unique_value_held_under_another_key(busy, new_db):
    dest = new_db("other", bare=True)
    with Store(dest) as other:
        other.conn.execute(
            "INSERT INTO annotators (id, name, role, created_at) VALUES (90, 'rater-1', 'admin', 't')"
        )
    with pytest.raises(
        CopyConflict, match="annotators name 'rater-1' is in the destination under id 90"
    ):
        copy_store(busy.path, dest, merge=True)
    assert rows(dest, "prompts") == []


def test_progress_is_reported_per_table(busy, tmp_path):
    seen: dict[str, tuple[int, int]] = {}
    with progress.reporting(lambda stage, done, total: seen.__setitem__(stage, (done, total))):
        copy_store(busy.path, tmp_path / "copy.db", batch=100)
    assert seen["copying judgments"] == (432, 432)
    assert seen["copying prompts"] == (48, 48)


def test_the_command_prints_each_table_and_a_summary(busy, new_db):
    dest = new_db("copy", bare=True)
    result = CliRunner().invoke(main, ["copy", busy.path, str(dest)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.split() == ["judgments", "432"] for line in lines)
    assert lines[-1].startswith(f"Copied {sum(len(rows(busy.path, t)) for t in TABLES) - 1:,} rows")
    refused = CliRunner().invoke(main, ["copy", busy.path, str(dest)])
    assert refused.exit_code == 1
    assert len(refused.output.splitlines()) == 1
    assert refused.output.startswith(f"Error: {locate(dest)} is not empty: ")
    merged = CliRunner().invoke(main, ["copy", busy.path, str(dest), "--merge"])
    assert merged.exit_code == 0, merged.output
    assert "Merged 0 rows" in merged.output


def test_new_rows_after_a_copy_take_ids_past_the_copied_ones(busy, new_db):
    """On PostgreSQL the copy moves each id sequence past the ids it wrote."""
    dest = new_db("copy", bare=True)
    copy_store(busy.path, dest)
    with Store(dest) as copy:
        newcomer = copy.ensure_annotator("newcomer")
        assert newcomer.id == 1 + max(r[0] for r in rows(busy.path, "annotators"))
        got = copy.next_comparison(copy.get_study("demo"), newcomer.id, rng=random.Random(2))
        stored = copy.record_judgment(got.comparison_id, newcomer.id, score=1, shown_order="BA")
        assert stored.judgment_id == 433


@pytest.mark.skipif(not ON_POSTGRES, reason="needs the server of PAIRWISE_TEST_DATABASE_URL")
def test_sqlite_to_postgresql_and_back_keeps_every_row_and_the_report(busy, new_db, tmp_path):
    start = tmp_path / "start.db"
    copy_store(busy.path, start)
    on_server = new_db("on_server", bare=True)
    copy_store(start, on_server)
    back = tmp_path / "back.db"
    copy_store(on_server, back)
    for table in TABLES:
        assert rows(back, table) == rows(start, table), table
    assert report(on_server) == report(start)
    assert report(back) == report(start)


def test_counts_are_the_sources_when_the_triggers_stay_on(busy, new_db, monkeypatch):
    """A role that may not turn the triggers off (not the tables' owner) still gets the
    source's counts: what the triggers added while the rows went in is set back."""
    monkeypatch.setattr(copy_module, "_pause_triggers", lambda writer, plan: False)
    dest = new_db("copy", bare=True)
    copy_store(busy.path, dest)
    for table in ("study_pairs", "study_totals", "scan_starts"):
        assert rows(dest, table) == rows(busy.path, table), table
