"""The admin pages driven through Streamlit's AppTest, on a real SQLite file: what an admin
clicks ends up in the store, what the pages show is what the library computes, and annotators are
kept out."""

from __future__ import annotations

import random
import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pairwise import auth
from pairwise.pages.common import ADMINS_ONLY, MISSING
from pairwise.quality import annotator_quality, throughput
from pairwise.store import Prompt

PAGES = ("studies", "progress", "people")


def _app(page: str, token: str | None = None) -> AppTest:
    at = AppTest.from_string(f"from pairwise.pages.{page} import page\npage()\n")
    if token is not None:
        at.query_params["token"] = token
    return at.run(timeout=30)


@pytest.fixture
def db(store, monkeypatch):
    """Six prompts (chat and code in turn); m1 and m2 answered all, m3 the first three."""
    monkeypatch.setenv("PAIRWISE_DB", store.path)
    ids = [f"p{i}" for i in range(6)]
    store.add_prompts(
        Prompt(p, "chat" if i % 2 == 0 else "code", [{"role": "user", "content": f"Q {p}"}], [], 1)
        for i, p in enumerate(ids)
    )
    store.add_responses(
        (p, m, f"{m} answers {p}") for m in ("m1", "m2", "m3") for p in ids if m != "m3" or p < "p3"
    )
    return store


def _shown_count(at: AppTest) -> int:
    text = " ".join(m.value for m in at.markdown)
    return int(re.search(r"create \*\*([\d,]+) comparisons", text).group(1).replace(",", ""))


def test_an_admin_creates_a_study(db):
    at = _app("studies")  # no link issued yet: the local demo admin
    assert not at.exception
    at.text_input(key="new.name").input("safety-1")
    at.selectbox(key="new.preset").select("Which response is safer?")
    at.radio(key="new.plan").set_value("baseline").run()
    at.selectbox(key="new.baseline").select("m1")
    at.number_input(key="new.overlap").set_value(2).run()
    # m2 vs m1 on all six prompts, m3 vs m1 on the three m3 answered
    assert _shown_count(at) == 9
    at.multiselect(key="new.categories").select("code").run()
    assert _shown_count(at) == 4  # p1, p3, p5 for m2; p1 for m3
    at.multiselect(key="new.categories").unselect("code").run()
    at.button(key="new.create").click().run()
    assert not at.exception and not at.error
    study = db.get_study("safety-1")
    assert (study.question, study.overlap, study.scale.points) == ("Which response is safer?", 2, 7)
    assert study.pair_plan == {"kind": "baseline", "baseline": "m1"}
    frame = db.comparisons_frame("safety-1")
    assert len(frame) == 9 and set(frame["model_b"]) == {"m1"}
    assert db.study_progress(study)["wanted"] == 18
    # The same name again is refused before anything is written.
    at.text_input(key="new.name").input("safety-1").run()
    assert at.button(key="new.create").disabled
    assert len(db.studies()) == 1


def test_settings_and_gold_items_are_saved(db):
    db.create_study("s", pairs=[("m1", "m2")], overlap=3, seed=1)
    at = _app("studies")
    form = at.get("form")[0]
    form.number_input[0].set_value(1)
    form.text_area[0].input("Be *brief*.")
    form.button[0].click().run()
    study = db.get_study("s")
    assert (study.overlap, study.guidelines) == (1, "Be *brief*.")
    at.text_input(key="gold.search").input("p4").run()
    cid = int(db.comparisons_frame("s").query("prompt_id == 'p4'")["comparison_id"].iloc[0])
    assert at.selectbox(key="gold.pick.1").value == cid
    at.radio(key=f"gold.score.{cid}").set_value(-2).run()
    at.button(key="gold.set").click().run()
    row = db.comparisons_frame("s").set_index("comparison_id").loc[cid]
    assert bool(row["is_gold"]) and row["gold_score"] == -2
    at.text_input(key="gold.search").input("p4").run()
    at.button(key="gold.clear").click().run()
    assert not db.comparisons_frame("s")["is_gold"].any()


def _judged_study(db):
    """Three annotators judge a study with random scores; one skips and one flags an item."""
    study = db.create_study("s", pairs=[("m1", "m2"), ("m1", "m3")], overlap=3, seed=2)
    rng = random.Random(5)
    people = [db.add_annotator(n).id for n in ("ann", "bob", "cy")]
    for a in people:
        while (got := db.next_comparison(study, a, rng=rng)) is not None:
            if a == people[1] and got.prompt.id == "p0":
                db.record_pass(got.comparison_id, a, reason="broken", note="truncated")
            elif a == people[2] and got.prompt.id == "p1":
                db.record_pass(got.comparison_id, a, reason="skip")
            else:
                db.record_judgment(
                    got.comparison_id,
                    a,
                    score=rng.choice(study.scale.values),
                    shown_order=got.shown_order,
                    seconds=rng.uniform(5, 60),
                )
    return study


def test_progress_shows_what_the_quality_functions_compute(db):
    study = _judged_study(db)
    at = _app("progress")
    assert not at.exception
    expected = annotator_quality(
        db.judgments_frame("s", include_excluded=True), db.passes_frame("s")
    )
    shown = pd.concat([at.dataframe[0].value, at.dataframe[1].value], axis=1)
    for column in ("judgments", "median_seconds", "majority_agreement", "left_rate", "tie_rate"):
        assert shown[column].tolist() == pytest.approx(expected[column].tolist(), nan_ok=True)
    # bob flagged both comparisons of p0 (m1 vs m2, m1 vs m3); cy skipped both of p1
    assert shown["flags"].tolist() == [0, 2, 0] and shown["skips"].tolist() == [0, 0, 2]
    # no gold item was seen: the gold figures are missing, and show as a dash, not "None"
    assert shown["gold_accuracy"].isna().all()
    assert [at.dataframe[i].proto.placeholder for i in (0, 1)] == [MISSING] * 2
    metrics = {m.label: m.value for m in at.metric}
    progress = db.study_progress(study)
    assert metrics["Judgments done"] == f"{progress['done']:,}"
    assert metrics["Comparisons complete"] == f"{progress['complete']} / {progress['comparisons']}"
    pace = throughput(db.judgments_frame("s", include_excluded=True))
    assert metrics["Judgments, last hour"] == f"{pace.recent:,}"
    assert metrics["Pace"] == "not yet"  # a few judgments made just now give no pace
    flagged = at.dataframe[2].value
    assert flagged["notes"].tolist() == ["bob: truncated"] * 2
    assert flagged["reasons"].tolist() == ["broken"] * 2


def test_excluding_an_annotator_flips_the_flag_and_back(db):
    _judged_study(db)
    at = _app("progress")
    at.selectbox(key="progress.annotator").select("bob").run()
    at.button(key="progress.exclude").click().run()
    assert db.get_annotator("bob").excluded
    assert "bob" not in set(db.judgments_frame("s")["annotator"])  # still stored, left out
    assert "bob" in set(db.judgments_frame("s", include_excluded=True)["annotator"])
    assert at.dataframe[0].value.loc["bob", "excluded"]
    at.button(key="progress.include").click().run()
    assert not db.get_annotator("bob").excluded


def test_people_invite_shows_a_working_link_once_and_revoke_ends_it(db):
    _, admin_token = auth.invite(db, "boss", admin=True)
    at = _app("people", token=admin_token)
    assert not at.exception
    form = at.get("form")[0]
    form.text_input[0].input("carol")
    form.text_input[2].input("https://rate.example.org")
    form.button[0].click().run()
    link = at.code[0].value
    assert link.startswith("https://rate.example.org/?token=")
    carol = auth.sign_in(db, link.split("token=", 1)[1])
    assert carol is not None and carol.name == "carol" and not carol.is_admin
    table = at.dataframe[0].value.set_index("name")
    assert table.loc["carol", "sign-in link"] == "active"
    # carol gave no e-mail address: a dash shows, not "None"
    assert pd.isna(table.loc["carol", "email"]) and at.dataframe[0].proto.placeholder == MISSING
    at.run()
    assert not at.code  # shown once: the next run no longer has it
    at.selectbox(key="people.revoke_who").select("carol").run()
    at.button(key="people.revoke").click().run()
    assert auth.sign_in(db, link.split("token=", 1)[1]) is None
    assert at.dataframe[0].value.set_index("name").loc["carol", "sign-in link"] == "revoked"
    at.selectbox(key="people.revoke_who").select("boss").run()
    assert "people.revoke" not in [b.key for b in at.button]  # no locking oneself out


@pytest.mark.parametrize("page", PAGES)
def test_annotators_get_the_admins_only_message(db, page):
    _, token = auth.invite(db, "ann")
    at = _app(page, token=token)
    assert not at.exception
    assert [e.value for e in at.error] == [ADMINS_ONLY]
    assert not at.title and not at.dataframe


def test_the_first_invite_in_demo_mode_is_an_admin_link(db):
    at = _app("people")  # local demo mode: no link issued yet
    form = at.get("form")[0]
    assert form.checkbox[0].value and form.checkbox[0].disabled
    form.text_input[0].input("me")
    form.button[0].click().run()
    me = auth.sign_in(db, at.code[0].value.split("token=", 1)[1])
    assert me is not None and me.name == "me" and me.is_admin


@pytest.mark.parametrize("page", PAGES)
def test_pages_work_on_an_empty_store_and_an_unjudged_study(store, monkeypatch, page):
    monkeypatch.setenv("PAIRWISE_DB", store.path)
    at = _app(page)
    assert not at.exception and not at.error
    store.add_prompts([Prompt("p", "chat", [{"role": "user", "content": "q"}], [], 1)])
    store.add_responses([("p", "m1", "a"), ("p", "m2", "b")])
    store.create_study("s", pairs=[("m1", "m2")])
    at.run()
    assert not at.exception and not at.error


def _revoked(db, name: str) -> None:
    auth.revoke(db, name)


def _demoted(db, name: str) -> None:
    db.conn.execute("UPDATE annotators SET role = 'annotator' WHERE name = ?", [name])


@pytest.mark.parametrize("lose", [_revoked, _demoted])
def test_an_admin_who_lost_access_cannot_act_from_an_open_page(db, lose):
    """Callbacks run before the page checks anyone: each asks the store who is signed in when it
    runs, so the first press after losing the link or the role already does nothing."""
    _, boss = auth.invite(db, "boss", admin=True)
    _, ann_token = auth.invite(db, "ann")
    study = db.create_study("s", pairs=[("m1", "m2")], overlap=1, seed=1)
    got = db.next_comparison(study, db.get_annotator("ann").id)
    db.record_judgment(got.comparison_id, db.get_annotator("ann").id, score=1, shown_order="AB")
    people, progress = _app("people", token=boss), _app("progress", token=boss)
    people.selectbox(key="people.revoke_who").select("ann").run()
    progress.selectbox(key="progress.annotator").select("ann").run()
    lose(db, "boss")
    people.button(key="people.revoke").click().run()
    progress.button(key="progress.exclude").click().run()
    assert auth.sign_in(db, ann_token) is not None
    assert not db.get_annotator("ann").excluded
    for at in (people, progress):
        assert not at.exception and not at.dataframe  # the page that follows refuses them
