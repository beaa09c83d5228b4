"""The demo steps aside when real people arrive.

In local demo mode everyone is ``local-admin`` and the demo study is there to try the app. The
first invitation turns sign-in on; from then on the demo study is set apart (no longer handed out,
left out of reports, Progress and exports over all studies, removable in one click on the Studies
page or with ``pairwise study remove``), and ``local-admin``'s judgments leave reports like an
excluded annotator's. Nothing is deleted until someone asks.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from pairwise import auth, report
from pairwise.cli import main
from pairwise.demo import ensure_demo
from pairwise.export import ExportOptions, build_export
from pairwise.store import Store, StoreError
from pairwise.store import schema as store_schema

MODELS = ("atlas-7b-chat", "cirrus-70b-chat")
ROOT = Path(__file__).resolve().parent.parent


def judge(store: Store, study: str, who: str, count: int, seed: int = 0) -> int:
    """``who`` rates up to ``count`` comparisons of ``study`` (any scores); how many were stored."""
    person = store.ensure_annotator(who)
    s, rng, stored = store.get_study(study), random.Random(seed), 0
    while stored < count and (got := store.next_comparison(s, person.id, rng=rng)) is not None:
        store.record_judgment(
            got.comparison_id, person.id, score=rng.randint(-3, 3), shown_order=got.shown_order
        )
        stored += 1
    return stored


@pytest.fixture
def tried(judged: Store) -> Store:
    """The judged demo (432 judgments by three raters) plus a real study on the same prompts,
    with 20 judgments by local-admin and 30 by a real annotator; nobody invited yet."""
    assert auth.first_invitation(judged)
    judged.create_study("real", pairs=[MODELS], overlap=2, seed=3)
    assert judge(judged, "demo", auth.LOCAL_ADMIN, 0) == 0
    assert judge(judged, "real", auth.LOCAL_ADMIN, 20) == 20
    assert judge(judged, "real", "ann", 30, seed=1) == 30
    return judged


def report_judgments(store: Store, study: str | None = None) -> int:
    return report.report_from_store(store, study, rounds=10).meta["counts"]["judgments"]


def test_the_seeded_demo_is_marked_and_in_use(demo_store):
    demo = demo_store.get_study("demo")
    assert demo.demo and not demo.set_apart
    assert [s.name for s in demo_store.studies(include_set_apart=False)] == ["demo"]


def test_the_first_invitation_sets_the_demo_apart(tried):
    assert report_judgments(tried) == 432 + 50
    auth.invite(tried, "ada", admin=True)
    demo = tried.get_study("demo")
    assert demo.set_apart and demo.set_apart_at is not None
    assert not tried.get_study("real").set_apart
    assert tried.get_annotator(auth.LOCAL_ADMIN).excluded
    assert [s.name for s in tried.studies(include_set_apart=False)] == ["real"]
    # Reports over every study: the demo's 432 judgments and local-admin's 20 are left out
    assert report_judgments(tried) == 30
    # named, the demo is still there; nothing was deleted
    assert report_judgments(tried, "demo") == 432
    assert tried.counts()["judgments"] == 432 + 50


def test_later_invitations_change_nothing(tried):
    auth.invite(tried, "ada", admin=True)
    tried.set_apart("demo", apart=False)  # an admin put it back
    tried.set_excluded(auth.LOCAL_ADMIN, False)
    auth.invite(tried, "bob")
    assert not tried.get_study("demo").set_apart
    assert not tried.get_annotator(auth.LOCAL_ADMIN).excluded


def test_exports_over_all_studies_leave_the_demo_out(tried):
    auth.invite(tried, "ada", admin=True)
    raw = ExportOptions(format="raw-jsonl", aggregation="judgment")
    assert build_export(tried, raw).counts["judgments"] == 30  # local-admin excluded too
    everything = ExportOptions(format="raw-jsonl", aggregation="judgment", include_excluded=True)
    assert build_export(tried, everything).counts["judgments"] == 50
    named = ExportOptions(format="raw-jsonl", aggregation="judgment", study="demo")
    assert build_export(tried, named).counts["judgments"] == 432
    prefs = build_export(tried, ExportOptions(aggregation="judgment"))
    assert set(prefs.columns["study"].values[:-1]) <= {"real"}


def test_removing_deletes_the_demo_and_only_the_demo(tried):
    with pytest.raises(StoreError, match="set it apart first"):
        tried.remove_study("demo")
    auth.invite(tried, "ada", admin=True)
    real_before = tried.comparisons_frame("real")
    removed = tried.remove_study("demo", unused_texts=True)
    assert removed["studies"] == 1 and removed["comparisons"] == 144
    assert removed["judgments"] == 432
    assert [s.name for s in tried.studies()] == ["real"]
    # the real study, on the same prompts, is untouched
    assert tried.comparisons_frame("real").equals(real_before)
    assert tried.counts()["judgments"] == 50
    # every demo prompt is in the real study: no prompt, and no response to one, goes
    assert "prompts" not in removed and "responses" not in removed
    assert tried.counts()["prompts"] == 48 and tried.counts()["responses"] == 144


def test_removing_the_demo_alone_takes_its_texts_and_it_does_not_come_back(judged):
    auth.invite(judged, "ada", admin=True)
    judged.remove_study("demo", unused_texts=True)
    assert judged.counts() | {"annotators": 0} == dict.fromkeys(judged.counts(), 0)
    assert ensure_demo(judged) is None  # sign-in is on: no demo seeded again
    assert judged.studies() == []


def test_put_back(tried):
    auth.invite(tried, "ada", admin=True)
    assert not tried.set_apart("demo", apart=False).set_apart
    assert report_judgments(tried) == 432 + 30


# -- command line -------------------------------------------------------------------------------


def cli(store: Store, *args: str):
    return CliRunner().invoke(main, ["--db", store.path, *args])


def test_cli_invite_says_so_then_set_apart_and_remove(tried):
    out = cli(tried, "invite", "ada", "--admin")
    assert out.exit_code == 0, out.output
    assert "the demo study 'demo' is set apart" in out.output
    assert "pairwise study remove demo" in out.output
    assert "[set apart]" in cli(tried, "study", "list").output
    assert "set apart" in cli(tried, "study", "show", "demo").output

    refused = cli(tried, "study", "remove", "real")
    assert refused.exit_code == 1
    assert refused.output == "Error: study 'real' is in use: set it apart first, then remove it\n"
    assert cli(tried, "study", "set-apart", "real").exit_code == 0
    assert cli(tried, "study", "set-apart", "real", "--undo").output == "'real' is in use again.\n"

    removed = cli(tried, "study", "remove", "demo")
    assert removed.exit_code == 0, removed.output
    assert removed.output == "Removed 'demo': 432 judgments, 144 comparisons.\n"
    assert [s.name for s in tried.studies()] == ["real"]
    assert cli(tried, "study", "remove", "demo").output == "Error: no study 'demo'\n"


def test_a_later_invitation_prints_no_demo_notice(tried):
    cli(tried, "invite", "ada", "--admin")
    out = cli(tried, "invite", "bob")
    assert out.exit_code == 0 and "set apart" not in out.output


# -- pages --------------------------------------------------------------------------------------


def page(name: str, token: str) -> AppTest:
    at = AppTest.from_string(f"from pairwise.pages.{name} import page\npage()\n")
    at.query_params["token"] = token
    return at.run(timeout=60)


@pytest.fixture
def signed_in(tried, monkeypatch):
    monkeypatch.setenv("PAIRWISE_DB", tried.path)
    admin = auth.invite(tried, "ada", admin=True)[1]
    annotator = auth.invite(tried, "bob")[1]
    return tried, admin, annotator


def test_annotators_and_progress_no_longer_see_the_demo(signed_in):
    store, admin, annotator = signed_in
    annotate = page("annotate", annotator)
    assert not annotate.exception
    assert "demo" not in [o for box in annotate.selectbox for o in box.options]
    progress = page("progress", admin)
    assert not progress.exception
    assert progress.selectbox(key="progress.study").options == ["real"]


def test_the_studies_page_removes_the_demo_in_one_click(signed_in):
    store, admin, _ = signed_in
    at = page("studies", admin)
    assert not at.exception
    notice = " ".join(m.value for m in at.markdown)
    assert "The demo study demo is set apart" in notice and "432 judgment(s)" in notice
    at.button(key=f"studies.remove.{store.get_study('demo').id}").click().run(timeout=60)
    assert not at.exception
    assert [s.name for s in store.studies()] == ["real"]
    assert any("Removed the study demo with 432 judgment(s)" in s.value for s in at.success)
    assert not any("is set apart" in m.value for m in at.markdown)


def test_the_studies_page_puts_it_back(signed_in):
    store, admin, _ = signed_in
    at = page("studies", admin)
    at.button(key=f"studies.restore.{store.get_study('demo').id}").click().run(timeout=60)
    assert not at.exception
    assert not store.get_study("demo").set_apart
    assert any("in use again" in s.value for s in at.success)


def test_the_real_command_from_demo_to_nothing(tmp_path, new_db):
    """``pairwise`` as a program: seed, invite, see it set apart, remove it, and it stays gone."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAIRWISE_DB": new_db("real", bare=True)}

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "pairwise.cli", *args],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0 and done.stderr == "", done.stderr
        return done.stdout

    assert "Seeded the demo study 'demo'" in run("init", "--demo")
    assert "the demo study 'demo' is set apart" in run("invite", "ada", "--admin")
    assert run("study", "list").rstrip().endswith("[set apart]")
    assert (
        run("study", "remove", "demo")
        == "Removed 'demo': 144 comparisons, 48 prompts, 144 responses.\n"
    )
    assert run("study", "list").startswith("No studies yet")
    assert "not seeded" in run("init", "--demo")


@pytest.mark.sqlite_only("a SQLite file written by an earlier version is migrated")
def test_a_store_from_before_set_apart_opens_with_its_studies_in_use(tmp_path):
    """An older store gains ``studies.demo`` and ``studies.set_apart_at`` by ALTER TABLE."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(store_schema._SCHEMA)
    for column in ("demo", "set_apart_at"):  # the studies table as it was before them
        conn.execute(f"ALTER TABLE studies DROP COLUMN {column}")
    conn.execute(
        "INSERT INTO studies (name, question, scale, overlap, models, pair_plan, created_at)"
        " VALUES ('old', 'Which?', 7, 1, '[]', '{}', '2024')"
    )
    conn.commit()
    conn.close()
    with Store(path) as s:
        old = s.get_study("old")
        assert not old.demo and not old.set_apart
        assert s.set_apart("old").set_apart


def test_removing_an_adaptive_study_takes_its_pairs_too(tried):
    """Tables that refer to a study are found through the schema: an adaptive study's pair rows
    (and the comparisons that point at them) go with it, and the other studies keep theirs."""
    tried.create_study("fast", pairs=[MODELS], overlap=1, seed=5, adaptive=True)
    assert judge(tried, "fast", "ann", 10, seed=2) == 10
    pairs_before = tried.conn.execute("SELECT count(*) FROM study_pairs").fetchone()[0]
    fast = tried.set_apart("fast")
    removed = tried.remove_study("fast")
    assert removed["study_pairs"] == 1 and removed["judgments"] == 10
    assert removed["comparisons"] == 48
    left = tried.conn.execute("SELECT count(*) FROM study_pairs").fetchone()[0]
    assert left == pairs_before - 1
    assert not tried.conn.execute(
        "SELECT 1 FROM comparisons WHERE study_id = ?", [fast.id]
    ).fetchone()
    assert report_judgments(tried, "real") == 50 and report_judgments(tried, "demo") == 432
