"""The app shell and the annotate page, run with Streamlit's AppTest on real SQLite files.

What is checked: rating by button stores one judgment oriented to model A whichever side A was
shown on (the side is read from what the page rendered, not from the code under test), skip,
flag, rationale, time spent, progress, keyboard shortcuts, stale and double presses, blinding
(no model name in any string the browser receives), sign-in by link and by OIDC e-mail, the
sign-in wall for bad and revoked links, the admin gate, and local demo mode.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import ON_POSTGRES
from streamlit.testing.v1 import AppTest

from pairwise import auth
from pairwise.pages.common import ADMINS_ONLY, DEMO_NOTICE, LOCAL_ADMIN, UNREACHABLE
from pairwise.store import Store

APP = str(Path(__file__).resolve().parent.parent / "annotate_app.py")
TIMEOUT = 30
MODEL_A, MODEL_B = "zephyr-omega-7b", "quokka-sigma-13b"
ADMIN_PAGES = ("studies", "progress", "people", "report", "export")
CONVERSATION = [
    {"role": "system", "content": "Answer as a careful maths tutor."},
    {"role": "user", "content": "What is a prime number?"},
    {"role": "assistant", "content": "A whole number with exactly two divisors."},
    {"role": "user", "content": "Is one a prime number?"},
]


class ShownOrder(random.Random):
    """A random source whose side-order draw is fixed, to lease an item in a chosen order."""

    def __init__(self, order: str) -> None:
        super().__init__(0)
        self.order = order

    def choice(self, seq):  # noqa: ANN001 - same signature as random.Random.choice
        return self.order if self.order in seq else super().choice(seq)


@pytest.fixture
def db(new_db, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database with five prompts (one multi-turn with a system prompt) and one study."""
    path = new_db("app")
    monkeypatch.setenv("PAIRWISE_DB", path)
    with Store(path) as s:
        prompts = [{"id": "tutor", "category": "knowledge", "messages": CONVERSATION, "tags": []}]
        prompts += [
            {
                "id": f"q{i}",
                "category": "writing",
                "messages": [{"role": "user", "content": f"Question {i}: name a colour."}],
                "tags": [],
            }
            for i in range(1, 5)
        ]
        for p in prompts:
            p["turns"] = sum(m["role"] == "user" for m in p["messages"])
        s.add_prompts(prompts)
        s.add_responses(
            (p["id"], model, f"Reply {word} to {p['id']}: blue, with reasons.")
            for p in prompts
            for model, word in ((MODEL_A, "north"), (MODEL_B, "south"))
        )
        s.create_study(
            "Colour pilot",
            pairs=[(MODEL_A, MODEL_B)],
            overlap=2,
            guidelines="Prefer **correct** and *kind* answers.",
            seed=3,
        )
    return path


@pytest.fixture
def store(db: str) -> Iterator[Store]:
    s = Store(db)
    yield s
    s.close()


@pytest.fixture
def tokens(store: Store) -> dict[str, str]:
    return {
        "ann": auth.invite(store, "ann", email="ann@example.org")[1],
        "boss": auth.invite(store, "boss", admin=True)[1],
    }


def open_app(token: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if token is not None:
        at.query_params["token"] = token
    at.run()
    assert not at.exception, at.exception
    return at


def strings(at: AppTest) -> list[str]:
    """Every string field of every element and block the browser receives: text, labels,
    help, widget ids and keys, options, placeholders."""
    found: list[str] = []

    def walk_proto(message) -> None:  # noqa: ANN001 - any protobuf message
        for field, value in message.ListFields():
            values = value if field.is_repeated else [value]
            if field.type == field.TYPE_MESSAGE:
                for v in values:
                    walk_proto(v)
            elif field.type == field.TYPE_STRING:
                found.extend(values)

    def walk(node) -> None:  # noqa: ANN001 - an element or block of the tree
        proto = getattr(node, "proto", None)
        if proto is not None:
            walk_proto(proto)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return found


def button(at: AppTest, label: str):  # noqa: ANN201 - an AppTest Button
    matches = [b for b in at.button if b.label == label]
    assert len(matches) == 1, f"{label!r}: {[b.label for b in at.button]}"
    return matches[0]


def response_columns(at: AppTest) -> tuple[str, str]:
    """The text rendered under "Response 1" and under "Response 2"."""
    texts = {}
    for column in at.columns:
        headers = [h.value for h in column.subheader]
        if headers and headers[0] in ("Response 1", "Response 2"):
            texts[headers[0]] = "\n".join(m.value for m in column.markdown)
    return texts["Response 1"], texts["Response 2"]


def model_of(store: Store, shown_text: str) -> str:
    (row,) = store.query("SELECT model FROM responses WHERE content = ?", [shown_text])
    return row["model"]


def judgments(store: Store) -> list[dict]:
    return store.query(
        "SELECT j.comparison_id, a.name, j.score, j.shown_order, j.rationale, j.seconds"
        " FROM judgments j JOIN annotators a ON a.id = j.annotator_id ORDER BY j.id"
    )


def passes(store: Store) -> list[dict]:
    return store.query("SELECT comparison_id, reason, note FROM passes ORDER BY id")


def held_comparison(at: AppTest) -> int:
    return at.session_state["annotate.item"].assignment.comparison_id


# -- rating ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "label", "score_for_a"),
    [
        # worked out by hand: with "BA" model A is Response 2
        ("AB", "Response 1 much better", 3),
        ("BA", "Response 1 much better", -3),
        ("AB", "Response 2 better", -2),
        ("BA", "Response 2 slightly better", 1),
        ("BA", "Tie", 0),
    ],
)
def test_rating_stores_the_score_oriented_to_model_a(
    store: Store, tokens: dict[str, str], order: str, label: str, score_for_a: int
) -> None:
    ann = store.get_annotator("ann")
    study = store.get_study("Colour pilot")
    leased = store.next_comparison(study, ann.id, rng=ShownOrder(order))
    at = open_app(tokens["ann"])
    left, right = response_columns(at)
    # what the page showed, looked up in the database: model A is on the side the order says
    assert (model_of(store, left), model_of(store, right)) == (
        (MODEL_A, MODEL_B) if order == "AB" else (MODEL_B, MODEL_A)
    )
    button(at, label).click().run()
    (row,) = judgments(store)
    assert row["comparison_id"] == leased.comparison_id and row["name"] == "ann"
    assert (row["score"], row["shown_order"]) == (score_for_a, order)


def test_submit_shows_the_next_item_at_once_with_rationale_and_time(
    store: Store, tokens: dict[str, str]
) -> None:
    at = open_app(tokens["ann"])
    first = held_comparison(at)
    shown_before = response_columns(at)
    assert [p.proto.text for p in at.get("progress")] == [
        "You: 0 of 5 rated",
        "Study: 0 of 10 judgments",
    ]
    at.text_area[0].input("  It names a colour and explains why.  ")
    button(at, "Response 2 slightly better").click().run()
    (row,) = judgments(store)
    assert row["comparison_id"] == first
    assert row["rationale"] == "It names a colour and explains why."
    assert 0 < row["seconds"] < 60
    # the same run already shows another comparison, with an empty note
    assert held_comparison(at) != first and response_columns(at) != shown_before
    assert at.text_area[0].value == ""
    assert [p.proto.text for p in at.get("progress")] == [
        "You: 1 of 5 rated",
        "Study: 1 of 10 judgments",
    ]


def test_skip_and_flag_record_passes_and_move_on(store: Store, tokens: dict[str, str]) -> None:
    at = open_app(tokens["ann"])
    skipped = held_comparison(at)
    button(at, "Skip").click().run()
    flagged = held_comparison(at)
    assert flagged != skipped
    assert not [b for b in at.button if b.label == "Broken"]  # the reasons open on "Flag"
    button(at, "Flag").click().run()
    assert held_comparison(at) == flagged
    button(at, "Cancel").click().run()
    assert not [b for b in at.button if b.label == "Broken"]
    button(at, "Flag").click().run()
    at.text_area[0].input("Both replies are cut off.")
    button(at, "Broken").click().run()
    assert passes(store) == [
        {"comparison_id": skipped, "reason": "skip", "note": ""},
        {"comparison_id": flagged, "reason": "broken", "note": "Both replies are cut off."},
    ]
    assert judgments(store) == []
    assert held_comparison(at) not in (skipped, flagged)
    assert at.get("progress")[0].proto.text == "You: 0 of 3 rated"


def test_buttons_carry_keyboard_shortcuts(tokens: dict[str, str]) -> None:
    at = open_app(tokens["ann"])
    shortcuts = {b.label: b.proto.shortcut for b in at.button}
    assert shortcuts == {
        "Response 1 much better": "1",
        "Response 1 better": "2",
        "Response 1 slightly better": "3",
        "Tie": "4",
        "Response 2 slightly better": "5",
        "Response 2 better": "6",
        "Response 2 much better": "7",
        "Skip": "s",
        "Flag": "f",
        "Sign out": "",
    }
    at.button(key=next(b.key for b in at.button if b.label == "Flag")).click().run()
    reasons = {
        b.label: b.proto.shortcut
        for b in at.button
        if b.label in {"Unsafe", "Broken", "Unanswerable"}
    }
    assert reasons == {"Unsafe": "u", "Broken": "b", "Unanswerable": "n"}


def test_double_and_stale_presses_store_one_judgment(store: Store, tokens: dict[str, str]) -> None:
    at = open_app(tokens["ann"])
    first = held_comparison(at)
    stale, stale_note = button(at, "Response 1 better"), at.text_area[0]
    stale.click().run()
    second = held_comparison(at)
    assert second != first
    # the same button pressed again from the page that showed the first item (the note is
    # given a value so that the old page does not look its widget up in the new session state)
    for _ in range(2):
        stale_note.set_value("")
        stale.click().run()
    assert [r["comparison_id"] for r in judgments(store)] == [first]
    assert held_comparison(at) == second  # the new item was not judged by the stale press


def test_rating_an_item_rated_in_another_tab_keeps_the_first(
    store: Store, tokens: dict[str, str]
) -> None:
    first_tab, second_tab = open_app(tokens["ann"]), open_app(tokens["ann"])
    item = held_comparison(first_tab)
    assert held_comparison(second_tab) == item  # the lease is handed back to the same person
    button(first_tab, "Response 1 much better").click().run()
    button(second_tab, "Response 2 much better").click().run()
    assert [r["comparison_id"] for r in judgments(store)] == [item]
    assert abs(judgments(store)[0]["score"]) == 3
    assert "your earlier answer stands" in second_tab.warning[0].value
    assert held_comparison(second_tab) != item


def test_rating_an_item_completed_meanwhile_is_not_stored(
    store: Store, tokens: dict[str, str]
) -> None:
    at = open_app(tokens["ann"])
    item = held_comparison(at)
    study = store.update_study("Colour pilot", overlap=1)
    boss = store.get_annotator("boss")
    store.record_judgment(item, boss.id, score=0, shown_order="AB")
    assert store.get_study(study.id).overlap == 1
    button(at, "Tie").click().run()
    assert [r["name"] for r in judgments(store)] == ["boss"]
    assert "completed by others" in at.warning[0].value


def test_all_done_when_nothing_is_left(store: Store, tokens: dict[str, str]) -> None:
    at = open_app(tokens["ann"])
    for _ in range(5):
        button(at, "Tie").click().run()
    assert len(judgments(store)) == 5
    assert not at.button or {b.label for b in at.button} == {"Sign out"}
    assert "All done" in at.success[0].value
    assert [p.proto.text for p in at.get("progress")] == [
        "You: 5 of 5 rated",
        "Study: 5 of 10 judgments",
    ]


def test_conversation_shows_every_turn_with_roles(store: Store, tokens: dict[str, str]) -> None:
    ann = store.get_annotator("ann")
    study = store.get_study("Colour pilot")
    frame = store.comparisons_frame(study.id)
    tutor = int(frame.loc[frame.prompt_id == "tutor", "comparison_id"].iloc[0])
    for _ in range(5):  # lease items until the multi-turn one is on top
        got = store.next_comparison(study, ann.id)
        if got.comparison_id == tutor:
            break
        store.record_pass(got.comparison_id, ann.id)
    at = open_app(tokens["ann"])
    shown = [[m.value for m in chat.markdown] for chat in at.chat_message]
    assert shown == [
        ["**System prompt**", CONVERSATION[0]["content"]],
        ["**User**", CONVERSATION[1]["content"]],
        ["**Assistant**", CONVERSATION[2]["content"]],
        ["**User**", CONVERSATION[3]["content"]],
    ]
    assert at.markdown[0].value == "### Which response is more helpful?"
    assert at.expander[0].label == "Guidelines"
    assert at.expander[0].markdown[0].value == "Prefer **correct** and *kind* answers."


def test_huge_response_renders_as_plain_text(new_db, monkeypatch) -> None:
    path = new_db("huge")
    monkeypatch.setenv("PAIRWISE_DB", path)
    huge = "All work and no play. " * 50_000  # 1.1 MB
    with Store(path) as s:
        s.add_prompts(
            [{"id": "p", "category": "c", "messages": CONVERSATION[1:2], "tags": [], "turns": 1}]
        )
        s.add_responses([("p", MODEL_A, huge), ("p", MODEL_B, "Short and sweet.")])
        s.create_study("Huge", pairs=[(MODEL_A, MODEL_B)], overlap=1)
    at = open_app()
    assert [c.value for c in at.code] == [huge]
    assert any("Very long: 1,100,000 characters" in c.value for c in at.caption)
    assert "Short and sweet." in response_columns(at)


def test_empty_response_is_shown_as_such(new_db, monkeypatch) -> None:
    path = new_db("empty")
    monkeypatch.setenv("PAIRWISE_DB", path)
    with Store(path) as s:
        s.add_prompts(
            [{"id": "p", "category": "c", "messages": CONVERSATION[1:2], "tags": [], "turns": 1}]
        )
        s.add_responses([("p", MODEL_A, ""), ("p", MODEL_B, "A prime has two divisors.")])
        s.create_study("Silent", pairs=[(MODEL_A, MODEL_B)], overlap=1)
    at = open_app()
    columns = {}
    for column in at.columns:
        headers = [h.value for h in column.subheader]
        if headers and headers[0] in ("Response 1", "Response 2"):
            columns[headers[0]] = [c.value for c in column.caption] + [
                m.value for m in column.markdown
            ]
    assert sorted(columns.values()) == [["(empty response)"], ["A prime has two divisors."]]


# -- blinding ---------------------------------------------------------------------------------------


def test_no_model_name_reaches_the_browser(store: Store, tokens: dict[str, str]) -> None:
    at = open_app(tokens["ann"])
    seen: list[str] = []
    for step in range(5):
        if step == 2:
            button(at, "Flag").click().run()  # the flag reasons are on screen too
        seen += strings(at)
        left, right = response_columns(at)
        assert left in seen and right in seen  # the walk does see the page's content
        button(at, "Response 1 slightly better").click().run()
    seen += strings(at)
    seen += [f"{k}={v}" for k, v in at.query_params.items()]
    text = "\n".join(seen).lower()
    for secret in (MODEL_A, MODEL_B, "zephyr", "quokka", "model_a", "model_b", "shown_order"):
        assert secret.lower() not in text
    assert len(judgments(store)) == 5


def test_gold_items_are_served_without_a_tell(store: Store, tokens: dict[str, str]) -> None:
    study = store.get_study("Colour pilot")
    frame = store.comparisons_frame(study.id)
    gold = int(frame.comparison_id.iloc[-1])
    store.set_gold(gold, 2)
    store.update_study(study.id, gold_rate=1.0)
    at = open_app(tokens["ann"])
    assert held_comparison(at) == gold
    assert "gold" not in "\n".join(strings(at)).lower()
    # rating it moves the annotator's bar as a regular item does
    assert at.get("progress")[0].proto.text == "You: 0 of 5 rated"
    button(at, "Tie").click().run()
    assert held_comparison(at) != gold
    assert at.get("progress")[0].proto.text == "You: 1 of 5 rated"
    button(at, "Tie").click().run()
    assert at.get("progress")[0].proto.text == "You: 2 of 5 rated"


def test_study_picker_starts_where_work_is_left(store: Store, tokens: dict[str, str]) -> None:
    store.create_study(
        "Short scale",
        pairs=[(MODEL_B, MODEL_A)],
        scale=3,
        overlap=1,
        question="Which reply is clearer?",
    )
    at = open_app(tokens["ann"])
    assert at.selectbox[0].label == "Study"
    # a new study does not take over someone still working through an older one
    assert at.markdown[0].value == "### Which response is more helpful?"
    at.selectbox[0].select_index(1).run()
    assert at.markdown[0].value == "### Which reply is clearer?"
    assert [(b.label, b.proto.shortcut) for b in at.button][:3] == [
        ("Response 1 better", "1"),
        ("Tie", "2"),
        ("Response 2 better", "3"),
    ]
    button(at, "Response 1 better").click().run()
    at.selectbox[0].select_index(0).run()
    assert at.markdown[0].value == "### Which response is more helpful?"
    button(at, "Response 1 better").click().run()
    assert {r["score"] for r in judgments(store)} <= {1, -1, 2, -2}
    assert len(judgments(store)) == 2
    # the lease of the study left behind was given back
    assert store.query("SELECT count(*) AS n FROM leases")[0]["n"] == 1
    for _ in range(4):
        button(at, "Tie").click().run()
    assert "All done" in at.success[0].value
    # with the first study done, the next visit starts on the one with work left
    again = open_app(tokens["ann"])
    assert again.markdown[0].value == "### Which reply is clearer?"


def test_a_finished_study_says_so_plainly(store: Store, tokens: dict[str, str]) -> None:
    study = store.get_study("Colour pilot")
    for name in ("r1", "r2"):
        who = store.add_annotator(name).id
        while (item := store.next_comparison(study, who)) is not None:
            store.record_judgment(item.comparison_id, who, score=0, shown_order=item.shown_order)
    at = open_app(tokens["boss"])  # an admin who rated nothing opens the finished study
    assert [s.value for s in at.success] == [
        "This study is finished: all 10 judgments it needs are in. Thank you!"
    ]
    assert at.get("progress") == []  # no "You: 0 of 0 rated" with a full bar
    assert "Tie" not in {b.label for b in at.button}  # nothing left to rate


# -- access --------------------------------------------------------------------------------------


def test_link_signs_in_leaves_the_address_and_sets_a_session_cookie(
    store: Store, tokens: dict[str, str]
) -> None:
    at = open_app(tokens["ann"])
    assert "token" not in at.query_params  # the link leaves the address bar
    assert any("**ann** (annotator)" in c.value for c in at.sidebar.caption)
    [script] = [h.proto.body for h in at.get("html") if "document.cookie" in h.proto.body]
    secret = re.search(r"pairwise_session=([\w-]+);", script).group(1)
    assert "SameSite=Strict" in script and f"Max-Age={auth.SESSION_DAYS * 86400}" in script
    assert auth.resume_session(store, secret).name == "ann"
    assert tokens["ann"] not in script
    at.run()  # the session remembers who it is without the token
    assert response_columns(at)
    assert not [h for h in at.get("html") if "document.cookie" in h.proto.body]  # set once


@pytest.mark.parametrize("kind", ["mistyped", "revoked", "missing"])
def test_without_a_valid_link_only_the_sign_in_message_shows(
    store: Store, tokens: dict[str, str], kind: str
) -> None:
    token = {"mistyped": tokens["ann"][:-2], "revoked": tokens["ann"], "missing": None}[kind]
    if kind == "revoked":
        auth.revoke(store, "ann")
    at = open_app(token)
    assert [b.label for b in at.button] == []
    assert at.info[0].value.startswith("Please sign in with the personal link")
    assert bool(at.error) == (kind != "missing")
    everything = "\n".join(strings(at))
    assert "Reply north" not in everything and "Question" not in everything
    assert "Colour pilot" not in everything


def test_revoking_signs_out_an_open_session(store: Store, tokens: dict[str, str]) -> None:
    at = open_app(tokens["ann"])
    assert response_columns(at)
    auth.revoke(store, "ann")
    button(at, "Tie").click().run()
    assert judgments(store) == []  # the press after revocation is not stored
    assert at.error[0].value == "Your sign-in link has been revoked."
    assert not at.button


def test_annotators_get_no_admin_pages(tokens: dict[str, str]) -> None:
    annotator = open_app(tokens["ann"])
    admin = open_app(tokens["boss"])
    # the pages each session's navigation registered (what a typed URL can reach)
    pages = {
        at: {p["url_pathname"] for p in at._registered_pages.values()} for at in (annotator, admin)
    }
    assert pages[annotator] == {""}
    assert pages[admin] == {"", *ADMIN_PAGES}


def _admin_page_script(name: str) -> None:
    import importlib

    import streamlit as st

    importlib.import_module(f"pairwise.pages.{name}").page()
    st.markdown("PAGE RAN TO THE END")


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_every_admin_page_checks_the_role_itself(tokens: dict[str, str], name: str) -> None:
    for who, allowed in (("ann", False), ("boss", True)):
        at = AppTest.from_function(_admin_page_script, args=(name,), default_timeout=TIMEOUT)
        at.query_params["token"] = tokens[who]
        at.run()
        assert not at.exception, at.exception
        refused = [e.value for e in at.error if e.value == ADMINS_ONLY]
        if allowed:
            assert not refused
        else:
            assert refused and len(at.main.children) == 1  # the message and nothing else
            assert "PAGE RAN TO THE END" not in "\n".join(strings(at))


def test_demo_mode_until_the_first_invite(store: Store) -> None:
    at = open_app()
    assert at.info[0].value == DEMO_NOTICE
    assert store.get_annotator(LOCAL_ADMIN).is_admin
    assert response_columns(at)
    auth.invite(store, "ann")
    at.run()  # demo mode ended: the open demo session is signed out too
    assert at.info[0].value.startswith("Please sign in with the personal link")
    assert not at.button
    assert not open_app().button


OIDC = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret",
        "client_id": "pairwise",
        "client_secret": "not-a-real-secret",
        "server_metadata_url": "https://login.example.org/.well-known/openid-configuration",
    }
}


@pytest.mark.parametrize(
    ("user", "signed_in"),
    [
        ({"is_logged_in": False}, False),
        ({"is_logged_in": True, "email": "ANN@example.org", "email_verified": True}, True),
        ({"is_logged_in": True, "email": "someone@example.org", "email_verified": True}, False),
    ],
)
def test_oidc_login_maps_the_email_to_an_annotator(
    store: Store, user: dict, signed_in: bool
) -> None:
    store.add_annotator("ann", email="ann@example.org")  # no token issued: demo mode would apply
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets.update(OIDC)
    at.user = user
    at.run()
    assert not at.exception, at.exception
    assert DEMO_NOTICE not in "\n".join(strings(at))
    labels = [b.label for b in at.button]
    if signed_in:
        assert response_columns(at) and "Log out" in labels
    elif user["is_logged_in"]:
        assert labels == ["Log out"]
        assert (
            "No annotator is registered with the e-mail someone@example.org" in at.warning[0].value
        )
    else:
        assert labels == ["Log in"]


@pytest.mark.parametrize(
    ("verified", "optional", "signed_in"),
    [
        (False, False, False),
        ("false", False, False),
        (False, True, False),  # the setting never lets an unverified address in
        (None, False, False),  # no claim at all: refused unless the setting says otherwise
        (None, True, True),
        (True, False, True),
        ("true", False, True),
    ],
)
def test_oidc_login_needs_a_verified_email(
    store: Store, verified: object, optional: bool, signed_in: bool
) -> None:
    boss = store.add_annotator("boss", role="admin", email="boss@example.org")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets.update(OIDC)
    if optional:
        at.secrets["pairwise"] = {"email_verified_optional": True}
    user = {"is_logged_in": True, "email": "boss@example.org"}
    if verified is not None:
        user["email_verified"] = verified
    at.user = user
    at.run()
    assert not at.exception, at.exception
    assert bool(at.sidebar.caption) == signed_in
    if signed_in:
        assert any(f"**{boss.name}** (admin)" in c.value for c in at.sidebar.caption)
    else:
        assert not [b for b in at.button if b.label.startswith("Response")]
        assert "has not verified the e-mail boss@example.org" in at.warning[0].value


# -- one answer per item, notes, gold, study texts -------------------------------------------------


@pytest.mark.parametrize(("first", "then"), [("Tie", "Skip"), ("Skip", "Tie")])
def test_a_stale_tab_cannot_add_a_second_answer(
    store: Store, tokens: dict[str, str], first: str, then: str
) -> None:
    first_tab, second_tab = open_app(tokens["ann"]), open_app(tokens["ann"])
    item = held_comparison(first_tab)
    assert held_comparison(second_tab) == item
    button(first_tab, first).click().run()
    button(second_tab, then).click().run()
    answers = [r["comparison_id"] for r in judgments(store)] + [
        p["comparison_id"] for p in passes(store)
    ]
    assert answers == [item]
    assert "your earlier answer stands" in second_tab.warning[0].value
    assert held_comparison(second_tab) != item


def test_a_flag_after_a_rating_in_another_tab_is_refused(
    store: Store, tokens: dict[str, str]
) -> None:
    first_tab, second_tab = open_app(tokens["ann"]), open_app(tokens["ann"])
    item = held_comparison(first_tab)
    button(first_tab, "Response 1 better").click().run()
    button(second_tab, "Flag").click().run()
    button(second_tab, "Unsafe").click().run()
    assert passes(store) == [] and [r["comparison_id"] for r in judgments(store)] == [item]
    assert "your earlier answer stands" in second_tab.warning[0].value


def test_the_note_has_a_length_limit(store: Store, tokens: dict[str, str]) -> None:
    at = open_app(tokens["ann"])
    assert at.text_area[0].max_chars == 5_000
    at.text_area[0].input("x" * 5_000)
    button(at, "Tie").click().run()
    assert [len(r["rationale"]) for r in judgments(store)] == [5_000]


def test_a_note_the_store_refuses_keeps_the_item_with_the_reason(
    store: Store, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A note past the store's limit (a client that ignores the widget's) is not stored; the
    item stays on screen with the reason."""
    monkeypatch.setattr("pairwise.store.records.MAX_NOTE_CHARS", 10)
    at = open_app(tokens["ann"])
    item = held_comparison(at)
    at.text_area[0].input("x" * 11)
    button(at, "Tie").click().run()
    assert judgments(store) == []
    assert held_comparison(at) == item
    assert "at most 10 characters; this one has 11" in at.warning[0].value
    at.text_area[0].input("x" * 10)
    button(at, "Tie").click().run()
    assert [r["rationale"] for r in judgments(store)] == ["x" * 10]


def _rendered(markdown: str) -> str:
    """HTML as a CommonMark renderer makes it from ``markdown`` (raw HTML off, as Streamlit)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).render(markdown)


def test_study_texts_cannot_add_links_or_images(store: Store, tokens: dict[str, str]) -> None:
    store.create_study(
        "Pilot [Session expired: sign in again](https://evil.example/login)",
        pairs=[(MODEL_A, MODEL_B)],
        overlap=1,
        question="Which is better? ![pixel](https://tracker.example/q.png) [help](https://x.example)",
        guidelines="Read this. ![pixel](https://tracker.example/g.png)",
    )
    at = open_app(tokens["ann"])
    at.selectbox[0].select_index(1).run()  # the new study (the older one is the default)
    shown = [m.value for m in at.markdown] + [c.value for c in at.caption]
    shown += [m.value for e in at.expander for m in e.markdown]
    html = "".join(_rendered(text) for text in shown)
    assert "Session expired: sign in again" in html and "https://evil.example/login" in html
    assert "<a " not in html and "<img" not in html
    assert "[image: pixel]" in html and "https://tracker.example/g.png" in html


# -- the demo study and visitors who are not signed in ------------------------------------------


def test_a_visitor_who_is_not_signed_in_writes_nothing(
    new_db, databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store with imported prompts and an invitation but no study yet: the sign-in page shows,
    and the database is exactly as it was (no demo study, no person, nothing)."""
    path = new_db("production")
    monkeypatch.setenv("PAIRWISE_DB", path)
    with Store(path) as s:
        s.add_prompts(
            [{"id": "p1", "category": "c", "messages": CONVERSATION[1:2], "tags": [], "turns": 1}]
        )
        s.add_responses([("p1", MODEL_A, "a"), ("p1", MODEL_B, "b")])
        auth.invite(s, "boss", admin=True)
    before = databases.snapshot(path)
    assert any("boss" in line for line in before)
    at = open_app()
    assert at.info[0].value.startswith("Please sign in with the personal link")
    at = open_app("not-a-valid-link")
    assert at.error
    assert databases.snapshot(path) == before


def test_the_demo_is_seeded_only_into_an_empty_database(
    tmp_path: Path, new_db, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = new_db("empty", bare=True)
    monkeypatch.setenv("PAIRWISE_DB", empty)
    at = open_app()
    assert at.info[0].value == DEMO_NOTICE
    with Store(empty) as s:
        assert [study.name for study in s.studies()] == ["demo"]
    # a store holding a prompt whose id the demo also uses (with other content): no demo, no
    # crash, and no server path on the page
    used = new_db("used")
    monkeypatch.setenv("PAIRWISE_DB", used)
    with Store(used) as s:
        s.add_prompts(
            [
                {
                    "id": "coding-001",
                    "category": "c",
                    "messages": CONVERSATION[1:2],
                    "tags": [],
                    "turns": 1,
                }
            ]
        )
    at = open_app()
    assert at.info[0].value == DEMO_NOTICE
    assert any("no study to annotate" in i.value for i in at.info)
    with Store(used) as s:
        assert s.studies() == [] and s.counts()["prompts"] == 1
    assert str(tmp_path) not in "\n".join(strings(at)) and used not in "\n".join(strings(at))


def test_a_failing_page_shows_a_friendly_message_without_details(
    tmp_path: Path, databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    if ON_POSTGRES:  # a database the server does not have
        broken = databases.missing(tmp_path)
    else:
        garbage = tmp_path / "not-a-database.db"
        garbage.write_bytes(
            b"this is not an SQLite file, but a page must not show a traceback" * 100
        )
        broken = str(garbage)
    monkeypatch.setenv("PAIRWISE_DB", broken)
    at = open_app()  # asserts that no exception reached the page
    # a database that cannot be opened says so, with a reference, and names no place
    assert at.error[0].value.startswith(UNREACHABLE.split(",")[0])
    shown = "\n".join(strings(at))
    hidden = (str(tmp_path), broken, "Traceback", "DatabaseError", "not a database", ".py")
    for detail in hidden:
        assert detail not in shown
