"""What an annotator sees, measured in the browser: where a new item starts, where keys go, how
code, line breaks and the scale's buttons are laid out at a desktop, a small-window and a phone
width.

One server runs for the module on the demo study plus a later "code" study whose responses hold a
long code line and single line breaks. Each test signs in as its own annotator. Layout is checked
by measuring boxes (getBoundingClientRect, getClientRects of each word), not by pixels.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from pairwise import auth
from pairwise.store import Store

from .driver import ARTIFACTS, next_item, settle

pytestmark = pytest.mark.browser

PEOPLE = ("top", "study-box", "coder", "w1440", "w760", "w390", "t1440", "t760", "t390")
LONG_LINE = (
    "total = add_up_everything(first_argument_with_a_long_name, second_argument_with_a_long_name,"
    " third=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])  # END-OF-LINE"
)
CODE_RESPONSES = {
    "atlas-7b-chat": "Subtract first:\n2x = 3.30 - 3.00\n2x = 0.30\n\n```python\n"
    + LONG_LINE
    + "\n```",
    "cirrus-70b-chat": "A short one:\n\n```python\nx = 1\n```",
}
# A table that fits once its cells wrap, and one too wide to fit at any width (twelve columns of
# long words), which must scroll inside its own box
NARROW_TABLE = "| Assumption | Low | Medium | High | Notes |\n|---|---|---|---|---|\n" + (
    "| % in the office on a given day | 65% | 70% | 75% | Based on 30% remote, ± 5% |\n" * 3
)
WIDE_HEADER = [f"Measurement{i:02d}" for i in range(12)]
WIDE_TABLE = (
    "| "
    + " | ".join(WIDE_HEADER)
    + " |\n|"
    + "---|" * 12
    + "\n"
    + ("| " + " | ".join(["Uncharacteristically"] * 11 + ["LAST-CELL"]) + " |\n") * 3
)
TABLE_RESPONSES = {"atlas-7b-chat": WIDE_TABLE, "cirrus-70b-chat": NARROW_TABLE}


@dataclass(frozen=True)
class LayoutApp:
    url: str
    db: str
    tokens: dict[str, str]

    def link(self, who: str) -> str:
        return f"{self.url}/?token={self.tokens[who]}"


@pytest.fixture(scope="module")
def app(demo_copy: tuple[str, Path]) -> Iterator[LayoutApp]:
    from .driver import serve

    db, folder = demo_copy
    with Store(db) as store:
        _add_study(store, "code", CODE_RESPONSES)
        _add_study(store, "tables", TABLE_RESPONSES)
        tokens = {name: auth.invite(store, name)[1] for name in PEOPLE}
        store.set_apart("demo", apart=False)  # invitations set it apart; here it is a study
    with serve(db, folder) as url:
        yield LayoutApp(url, db, tokens)


def _add_study(store: Store, name: str, responses: dict[str, str]) -> None:
    """A study of three one-turn prompts, each answered by two models with ``responses``."""
    prompts = [
        {
            "id": f"{name}-{i}",
            "category": "coding",
            "messages": [{"role": "user", "content": f"Solve 2x + 3.00 = 3.30, case {i}."}],
            "tags": [],
            "turns": 1,
        }
        for i in range(3)
    ]
    store.add_prompts(prompts)
    store.add_responses(
        (p["id"], model, text) for p in prompts for model, text in responses.items()
    )
    store.create_study(
        name,
        pairs=[tuple(responses)],
        prompt_ids=[p["id"] for p in prompts],
        overlap=len(PEOPLE),
        seed=1,
    )


def judgments_in(db: str, annotator: str, study: str) -> int:
    with Store(db) as store:
        return store.query(
            "SELECT count(*) AS n FROM judgments j JOIN comparisons c ON c.id = j.comparison_id"
            " JOIN studies s ON s.id = c.study_id JOIN annotators a ON a.id = j.annotator_id"
            " WHERE a.name = ? AND s.name = ?",
            [annotator, study],
        )[0]["n"]


def open_as(tab, app: LayoutApp, who: str, width: int, height: int = 900) -> str:
    tab.page.set_viewport_size({"width": width, "height": height})
    tab.page.goto(app.link(who))
    return next_item(tab.page, None)


def choose_study(tab, name: str, previous: str) -> str:
    """Pick a study in the sidebar's select box with the mouse; the nonce of its first item."""
    page = tab.page
    page.get_by_test_id("stSidebar").get_by_role("combobox").click()
    page.get_by_role("option", name=name, exact=True).click()
    return next_item(page, previous)


_SCROLL_TOP = "() => document.querySelector('[data-testid=\"stMain\"]').scrollTop"
_IN_VIEW = """(el) => { const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight; }"""


# -- a new item starts at its top -----------------------------------------------------------------


def test_each_new_item_starts_at_its_top(app: LayoutApp, tab) -> None:
    page = tab.page
    nonce = open_as(tab, app, "top", 1440, height=640)
    for key in "4sf":
        # scrolled to the buttons (once the item is drawn tall enough to scroll)
        page.wait_for_function(
            "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
            " m.scrollTop = m.scrollHeight; return m.scrollTop > 200; }"
        )
        down = page.evaluate(_SCROLL_TOP)
        tab.press(key)
        if key == "f":
            # the same item drawn again (the flag choice opens) stays where the person is
            button = page.get_by_role("button", name=re.compile("^Unanswerable"))
            button.wait_for()
            settle(page)
            assert page.evaluate(_SCROLL_TOP) >= down - 5
            tab.press("n")
        nonce = next_item(page, nonce)
        page.wait_for_function(f"() => ({_SCROLL_TOP})() === 0")
        settle(page)
        question = page.get_by_role("heading", name="Which response is more helpful?")
        prompt = page.get_by_test_id("stChatMessage").first
        assert question.evaluate(_IN_VIEW)
        assert prompt.evaluate("(el) => el.getBoundingClientRect().top") < 640


# -- keys rate once a study is chosen --------------------------------------------------------------


def test_keys_rate_after_choosing_a_study_in_the_sidebar(app: LayoutApp, tab) -> None:
    page = tab.page
    nonce = open_as(tab, app, "study-box", 1440)
    nonce = choose_study(tab, "code", nonce)
    page.get_by_text("A short one:").wait_for()
    tab.press("4")
    next_item(page, nonce)
    assert judgments_in(app.db, "study-box", "code") == 1
    combobox = page.get_by_test_id("stSidebar").get_by_role("combobox")
    assert combobox.input_value() == "code"  # the choice stands; nothing was typed into it
    assert page.get_by_text("No results").count() == 0


# -- code and line breaks in responses -------------------------------------------------------------


def test_long_code_lines_wrap_and_line_breaks_stay(app: LayoutApp, tab) -> None:
    page = tab.page
    nonce = open_as(tab, app, "coder", 1440)
    choose_study(tab, "code", nonce)
    # code blocks load their highlighter lazily
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stColumn\"] pre').length === 2"
    )
    page.get_by_text("# END-OF-LINE").wait_for()
    settle(page)
    blocks = page.get_by_test_id("stColumn").locator("pre")
    assert blocks.count() == 2
    for i in range(blocks.count()):
        width, visible = blocks.nth(i).evaluate("(el) => [el.scrollWidth, el.clientWidth]")
        assert width <= visible + 1, "code scrolls sideways"
    # the end of the long line is inside its response's box, with no sideways scrolling
    end = page.get_by_text("# END-OF-LINE")
    column = page.get_by_test_id("stColumn").filter(has=end)
    box, inside = end.bounding_box(), column.bounding_box()
    assert inside["x"] <= box["x"] and box["x"] + box["width"] <= inside["x"] + inside["width"]
    # "2x = 3.30 - 3.00" and "2x = 0.30" on lines of their own
    tops = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stColumn"] p')]
          .filter((p) => p.innerText.includes('2x = 0.30'))
          .map((p) => [...p.childNodes].filter((n) => n.nodeType === 3 && n.textContent.trim())
            .map((n) => { const r = document.createRange(); r.selectNodeContents(n);
                          return [n.textContent.trim(), Math.round(r.getBoundingClientRect().top)]; }))"""
    )
    assert len(tops) == 1
    lines = dict(tops[0])
    assert lines["Subtract first:"] < lines["2x = 3.30 - 3.00"] < lines["2x = 0.30"]
    _shot(page, "annotate-code-1440")


# -- tables in responses -------------------------------------------------------------------------

# For each table in a response: how far it reaches past its column, whether it scrolls inside its
# own box, and where its last header cell's right edge is once the table is scrolled to its end.
_TABLES = """() => [...document.querySelectorAll('[data-testid="stColumn"] table')].map((t) => {
  const column = t.closest('[data-testid="stColumn"]').getBoundingClientRect();
  const box = t.getBoundingClientRect();
  t.scrollLeft = t.scrollWidth;
  const cells = t.querySelectorAll('th');
  const last = cells[cells.length - 1].getBoundingClientRect();
  const seen = t.getBoundingClientRect();
  return {past: Math.round(box.right - column.right), scrolls: t.scrollWidth > t.clientWidth + 1,
          lastInside: last.right <= seen.right + 1 && last.left >= seen.left - 1,
          columns: cells.length, widths: [t.scrollWidth, t.clientWidth],
          bar: getComputedStyle(t).scrollbarColor,
          font: parseFloat(getComputedStyle(t.querySelector('td')).fontSize)};
})"""


@pytest.mark.parametrize(("who", "width"), [("t1440", 1440), ("t760", 760), ("t390", 390)])
def test_tables_fit_their_response_or_scroll_inside_it(
    app: LayoutApp, tab, who: str, width: int
) -> None:
    page = tab.page
    # the study is chosen in the sidebar, which a narrow window hides; then the window narrows
    nonce = open_as(tab, app, who, 1440)
    choose_study(tab, "tables", nonce)
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stColumn\"] table').length === 2"
    )
    settle(page)
    tables = {t["columns"]: t for t in page.evaluate(_TABLES)}
    assert set(tables) == {5, 12}
    # neither table reaches past its response, and every cell of either can be reached
    assert all(t["past"] <= 0 for t in tables.values()), tables
    assert all(t["lastInside"] for t in tables.values()), tables
    # the twelve long columns cannot fit: that table scrolls in its own box, with a scroll bar
    # whose thumb shows without the pointer over it (a browser that hides its scroll bars, as
    # this headless one does, is told their colour all the same)
    assert tables[12]["scrolls"]
    thumb = tables[12]["bar"].split(")")[0]
    assert thumb.startswith("rgba(") and not thumb.endswith(" 0"), tables[12]["bar"]
    # five columns fit once their cells wrap (in a smaller type below a desktop's width, still
    # at least 12 px): no scrolling needed
    assert not tables[5]["scrolls"], str(tables[5])
    assert min(t["font"] for t in tables.values()) >= 12
    if width >= 1440:
        _shot(page, "annotate-tables-1440")  # narrower, the sidebar left open covers the page
    main = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return [m.scrollWidth, m.clientWidth]; }"
    )
    assert main[0] <= main[1], f"the page sticks out sideways: {_wider(page)}"


# -- the scale's buttons at three widths ------------------------------------------------------------

# For each button of the scale: its label, whether a word of it is split over two lines (a word
# whose text has more than one line box), and whether the label fits inside its button.
_LABELS = """() => [...document.querySelectorAll('.st-key-annotate-scale button')].map((b) => {
  const p = b.querySelector('p');
  const text = p.firstChild;
  const split = [];
  for (const m of text.textContent.matchAll(/\\S+/g)) {
    const r = document.createRange();
    r.setStart(text, m.index);
    r.setEnd(text, m.index + m[0].length);
    const lines = new Set([...r.getClientRects()].map((x) => Math.round(x.top)));
    if (lines.size > 1) split.push(m[0]);
  }
  const pr = p.getBoundingClientRect(), br = b.getBoundingClientRect();
  return {label: text.textContent, split, fits: p.scrollWidth <= p.clientWidth + 1
    && pr.left >= br.left - 1 && pr.right <= br.right + 1,
    width: br.width, font: parseFloat(getComputedStyle(p).fontSize),
    box: [br.left, br.top, br.width, br.height]};
})"""


def _buttons(page) -> list[dict]:
    # the item is drawn to its end (the page's script comes last) with its style applied
    page.wait_for_function(
        "() => document.querySelectorAll('.st-key-annotate-scale button p').length === 7"
        " && !!document.querySelector('.st-key-annotate-script')"
        " && [...document.querySelectorAll('style')].some((s) => s.textContent.includes("
        "'st-key-annotate-scale'))"
    )
    settle(page)
    found = page.evaluate(_LABELS)
    assert len(found) == 7
    return found


@pytest.mark.parametrize(("who", "width"), [("w1440", 1440), ("w760", 760), ("w390", 390)])
def test_the_scale_is_legible_at_every_width(app: LayoutApp, tab, who: str, width: int) -> None:
    page = tab.page
    open_as(tab, app, who, width)
    buttons = _buttons(page)
    assert [b["label"] for b in buttons if b["split"]] == []
    assert [b["label"] for b in buttons if not b["fits"]] == []
    assert min(b["font"] for b in buttons) >= 12
    # nothing sticks out sideways, once the page has settled (an element that is still being
    # laid out may stick out for a moment)
    try:
        page.wait_for_function(
            "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
            " return m.scrollWidth <= m.clientWidth; }",
            timeout=15_000,
        )
    except PlaywrightTimeout:
        raise AssertionError(f"the page sticks out sideways: {_wider(page)}") from None
    # both columns read at one moment: the page may still scroll between two separate reads
    first, second = page.evaluate(_COLUMNS)
    if width <= 640:
        # a phone: responses one above the other, buttons one per row, full width
        assert first["y"] + first["height"] <= second["y"]
        assert len({round(b["box"][1]) for b in buttons}) == 7
        assert min(b["width"] for b in buttons) >= 0.8 * (width - 40)
    else:
        # side by side, the seven buttons on one row
        assert first["x"] + first["width"] <= second["x"] and abs(first["y"] - second["y"]) < 2
        assert len({round(b["box"][1]) for b in buttons}) == 1
    _shot(page, f"annotate-{width}")


# The boxes of the columns headed "Response 1" and "Response 2", in that order.
_COLUMNS = """() => ['Response 1', 'Response 2'].map((label) => {
  const column = [...document.querySelectorAll('[data-testid="stColumn"]')].find((c) =>
    [...c.querySelectorAll('h1, h2, h3, h4, h5, h6')].some((h) => h.innerText.trim() === label));
  const r = column.getBoundingClientRect();
  return {x: r.left, y: r.top, width: r.width, height: r.height};
})"""


def _wider(page) -> list[str]:
    """The elements that reach past the right edge of the main area, for a failure message."""
    return page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            const edge = main.getBoundingClientRect().right;
            return [...main.querySelectorAll('*')]
                .filter(e => e.getBoundingClientRect().right > edge + 1)
                .slice(0, 8)
                .map(e => `${e.tagName.toLowerCase()}[${e.getAttribute('data-testid') || ''}]`
                    + ` right=${Math.round(e.getBoundingClientRect().right)} edge=${Math.round(edge)}`
                    + ` "${(e.textContent || '').slice(0, 40)}"`);
        }"""
    )


def _shot(page, name: str) -> None:
    """A screenshot of the window as it is, for a person to look at (``test-artifacts/``)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
