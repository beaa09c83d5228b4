"""Hostile model output in a real browser: whatever a prompt or response holds shows as inert text.

Prompts (JSON lines) and responses (CSV) are imported through :mod:`pairwise.ingest`, as an
admin would, carrying scripts, event-handler attributes, an iframe, a style sheet, a meta refresh,
``javascript:`` and ``data:`` links in every Markdown and HTML spelling, a 1 MB code block,
bidi overrides, zero-width characters and emoji. Each active payload would set
``window.__pwned``, change the title, navigate or open a dialog if it ran; the test records every
dialog, then checks that none of that happened, that the page holds no element or attribute
that could run code, and that the payloads are there as literal text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from databases import Databases

from pairwise import auth
from pairwise.ingest import StudySpec, create_study, import_prompts, import_responses
from pairwise.store import Store

from .driver import FIRST_RUN_MS, eventually, main_text, next_item, screenshot, serve, settle

pytestmark = pytest.mark.browser

TITLE = "pairwise"  # annotate_app.py's page title
ACTIVE = {
    "script": "<script>window.__pwned = 'script'; document.title = 'pwned'</script>",
    "img": "<img src=x onerror=\"window.__pwned = 'img'; alert('img')\">",
    "svg": "<svg onload=\"window.__pwned = 'svg'\"><circle r=9></circle></svg>",
    "iframe": "<iframe srcdoc=\"<script>parent.__pwned = 'iframe'</script>\"></iframe>",
    "style": "<style>body { display: none !important }</style>",
    "meta": '<meta http-equiv="refresh" content="0; url=about:blank">',
    "markdown link": "[click me](javascript:window.__pwned='link')",
    "entity link": "[or me](jav&#x61;script:alert('entity'))",
    "spaced link": "[and me]( JaVaScRiPt:alert('spaced'))",
    "autolink": "<javascript:alert('autolink')>",
    "reference": "[see this][ref]\n\n[ref]: javascript:alert('reference')",
    "anchor": "<a href=\"javascript:alert('anchor')\">raw link</a>",
    "image": "![pic](javascript:alert('image'))",
    "data link": "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "code": "```html\n<script>window.__pwned = 'code'</script>\n```",
}
EMOJI = "👩‍👩‍👧 🏳️‍🌈 🇯🇵 😀"
INVISIBLE = "zero\u200bwidth\u200cnon\u200djoiner\ufeffend"
BIDI = "Total: \u202e0001$\u202c due"
HUGE_END = "END-OF-THE-HUGE-RESPONSE"
#: A host that must never be asked for anything: a tracking pixel would tell it who looked, when.
TRACKER = "http://tracker.invalid"
PIXELS = (
    f"![tracking pixel]({TRACKER}/response.png?who=reader) and"
    f" ![by reference][pixel]\n\n[pixel]: {TRACKER}/reference.png"
)


def _huge_code_block() -> str:
    """About 1.2 MB of code that mentions ``<script>`` on every line."""
    lines = [f"print('line {i:06d}: <script>alert({i})</script>')" for i in range(24_000)]
    return "```python\n" + "\n".join(lines) + "\n```\n" + HUGE_END


HUGE = _huge_code_block()


PROMPTS = [
    {
        "id": "markup",
        "messages": [
            {"role": "system", "content": "System says " + ACTIVE["script"]},
            {"role": "user", "content": "Hello " + ACTIVE["img"] + " " + ACTIVE["markdown link"]},
        ],
    },
    {"id": "huge", "prompt": "Print many lines. " + ACTIVE["anchor"]},
]
RESPONSES = [
    ("markup", "model-one", "\n\n".join(list(ACTIVE.values())[:8])),
    (
        "markup",
        "model-two",
        "\n\n".join([*list(ACTIVE.values())[8:], BIDI, INVISIBLE, EMOJI, PIXELS]),
    ),
    ("huge", "model-one", HUGE),
    (
        "huge",
        "model-two",
        "Short answer with `<script>` in inline code. " + EMOJI + "\n\n" + PIXELS,
    ),
]


@dataclass(frozen=True)
class HostileApp:
    url: str
    db: str
    token: str
    watcher: str
    folder: Path


@pytest.fixture(scope="module")
def hostile_app(
    databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileApp]:
    folder = tmp_path_factory.mktemp("hostile")
    prompts = folder / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS), encoding="utf-8")
    responses = folder / "responses.csv"
    with io.StringIO() as out:
        csv.writer(out).writerows([("prompt_id", "model", "response"), *RESPONSES])
        responses.write_text(out.getvalue(), encoding="utf-8", newline="")
    with databases.scope(folder) as new_db:
        db = new_db("hostile")
        with Store(db) as store:
            import_prompts(store, prompts)
            import_responses(store, responses)
            spec = StudySpec(
                name="hostile",
                models=["model-one", "model-two"],
                overlap=2,
                question=f"Which is better? ![question pixel]({TRACKER}/question.png)",
                guidelines=f"Read carefully.\n\n![guidelines pixel]({TRACKER}/guidelines.png)",
            )
            create_study(store, spec)
            token = auth.invite(store, "reader")[1]
            watcher = auth.invite(store, "watcher")[1]
        with serve(db, folder) as url:
            yield HostileApp(url, db, token, watcher, folder)


# Every attribute that could run code, every link target that is not a web or mail address,
# and every element that runs, frames, restyles or redirects, found anywhere in the document.
_RUNNABLE = """() => {
  const all = [...document.querySelectorAll('*')];
  const handlers = all.flatMap((el) => [...el.attributes]
    .filter((a) => a.name.toLowerCase().startsWith('on'))
    .map((a) => `${el.tagName} ${a.name}`));
  const links = [...document.querySelectorAll('a[href], area[href]')]
    .map((a) => a.protocol).filter((p) => !['http:', 'https:', 'mailto:'].includes(p));
  const sources = [...document.querySelectorAll('[src]')]
    .map((el) => el.getAttribute('src')).filter((s) => /^\\s*(javascript|data|vbscript):/i.test(s));
  const main = document.querySelector('[data-testid="stMain"]');
  const embedded = [...main.querySelectorAll('script, iframe, object, embed, style, meta, form')]
    .map((el) => el.tagName);
  return {handlers, links, sources, embedded};
}"""


def assert_inert(page, app_url: str) -> None:
    """Nothing ran and nothing that could run is on the page, which is still the app's."""
    # a broken image has fired its error handler, if it had one, by the time it is complete
    page.wait_for_function("() => [...document.images].every((image) => image.complete)")
    settle(page)
    assert page.evaluate("() => window.__pwned") is None
    assert page.title() == TITLE
    assert page.url.startswith(app_url + "/")
    assert page.evaluate(_RUNNABLE) == {"handlers": [], "links": [], "sources": [], "embedded": []}
    assert page.get_by_test_id("stMain").is_visible()  # no style sheet hid the page


def shown_prompt(db: str, who: str = "reader") -> str:
    with Store(db) as store:
        rows = store.query(
            "SELECT c.prompt_id FROM leases l JOIN comparisons c ON c.id = l.comparison_id"
            " JOIN annotators a ON a.id = l.annotator_id WHERE a.name = ?",
            [who],
        )
    assert len(rows) == 1
    return rows[0]["prompt_id"]


def test_hostile_prompts_and_responses_show_as_inert_text(hostile_app: HostileApp, tab) -> None:
    page = tab.page
    page.goto(f"{hostile_app.url}/?token={hostile_app.token}")
    nonce = next_item(page, None)
    seen = []
    for _ in PROMPTS:
        prompt = shown_prompt(hostile_app.db)
        seen.append(prompt)
        assert_inert(page, hostile_app.url)
        text = main_text(page)
        assert "<script>" in text
        assert EMOJI in text
        assert "\u202e" not in text
        if prompt == "markup":
            # links that are not web addresses are broken by a zero-width space
            visible = text.replace("\u200b", "")
            for literal in (ACTIVE["script"], ACTIVE["img"], "[click me](javascript:"):
                assert literal in visible
            assert "Total: \u27e8U+202E\u27e90001$\u27e8U+202C\u27e9 due" in text
            assert INVISIBLE in text
            page.get_by_text("click me").first.click()  # a link shown as text does nothing
            assert_inert(page, hostile_app.url)
        else:
            assert f"Very long: {len(HUGE):,} characters, shown as plain text." in text
            # a megabyte of text takes the browser a moment to lay out in full
            eventually(page, lambda: HUGE_END in main_text(page), "the end of the huge response")
            text = main_text(page)
            assert text.count("<script>alert(") == 24_000
            assert "print('line 023999: <script>alert(23999)</script>')" in text
        screenshot(page, f"hostile-{prompt}")
        tab.press("s")
        if len(seen) < len(PROMPTS):
            nonce = next_item(page, nonce)
    page.get_by_text("All done").wait_for()
    assert sorted(seen) == sorted(p["id"] for p in PROMPTS)
    assert tab.dialogs == []

    # the recorder is not deaf: a dialog that does open is caught
    page.evaluate("() => alert('control')")
    assert tab.dialogs == ["alert: control"]


def test_nothing_is_loaded_from_another_host(hostile_app: HostileApp, tab) -> None:
    """Images in responses, the question and the guidelines show as text: the browser asks
    nothing of any host but the app's, on either item, with the guidelines open."""
    page = tab.page
    elsewhere: list[str] = []

    def refuse(route) -> None:  # noqa: ANN001 - a Playwright route
        elsewhere.append(route.request.url)
        route.abort()

    page.context.route(lambda url: not url.startswith(hostile_app.url + "/"), refuse)
    page.goto(f"{hostile_app.url}/?token={hostile_app.watcher}")
    nonce = next_item(page, None)
    for step in range(len(PROMPTS)):
        if not page.get_by_text("Read carefully.").is_visible():
            page.get_by_text("Guidelines", exact=True).click()
        page.get_by_text("Read carefully.").wait_for()
        page.wait_for_function("() => [...document.images].every((image) => image.complete)")
        settle(page)
        text = main_text(page).replace("\u200b", "")
        assert f"[image: tracking pixel] {TRACKER}/response.png?who=reader" in text
        assert f"[image: guidelines pixel] {TRACKER}/guidelines.png" in text
        assert f"![question pixel]({TRACKER}/question.png)" in text  # the question is plain text
        foreign = "() => [...document.images].filter((i) => !i.src.startsWith(location.origin))"
        assert page.evaluate(foreign) == []
        assert elsewhere == []
        tab.press("s")
        if step + 1 < len(PROMPTS):
            nonce = next_item(page, nonce)
    page.get_by_text("All done").wait_for()
    assert elsewhere == []
    # the watch is not blind: an image that does load from elsewhere is caught
    page.evaluate(f"() => {{ const i = new Image(); i.src = '{TRACKER}/control.png'; }}")
    eventually(page, lambda: elsewhere == [f"{TRACKER}/control.png"], "the control request")


def _developer_tools(page, url: str) -> list[str]:
    page.goto(url)
    page.get_by_text("Which is better?").wait_for(timeout=FIRST_RUN_MS)
    settle(page)
    assert page.get_by_test_id("stHeader").count() == 1  # the bar that would hold them
    found = [tid for tid in ("stMainMenu", "stAppDeployButton") if page.get_by_test_id(tid).count()]
    return found + (["Deploy"] if page.get_by_role("button", name="Deploy").count() else [])


def test_a_deployed_page_shows_no_developer_tools(hostile_app: HostileApp, tab) -> None:
    """The shipped .streamlit/config.toml is in force: a minimal toolbar, no Deploy button,
    although the browser is on the server's own machine, where Streamlit shows them by default
    (as the same app started with the default toolbar mode shows)."""
    link = f"/?token={hostile_app.watcher}"
    assert _developer_tools(tab.page, hostile_app.url + link) == []
    with serve(hostile_app.db, hostile_app.folder, "--client.toolbarMode", "auto") as url:
        assert _developer_tools(tab.page, url + link) != []
