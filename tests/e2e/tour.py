"""A tour of the app as people see it: the annotate page, the report and the progress page.

The demo study is judged by scripted annotators (who favour the bigger model, with noise, over a
few hours), an admin opens each page at 1440 px, and each page is measured (nothing sticks out
past the main area's right edge) and photographed once every table and chart is drawn. The browser
suite runs the tour into ``test-artifacts/`` (``test_tour.py``); the README's screenshots come from
the same tour::

    python -m tests.e2e.tour docs/screenshots

so they show the app as it is.
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pairwise import auth
from pairwise.demo import ensure_demo
from pairwise.store import Store

from .driver import _DRAWN, CHROMIUM, CHROMIUM_ARGS, REPO, next_item, serve, settle

WIDTH = 1440
#: Page (its address), who opens it, the window height to photograph, a text that says it is drawn.
PAGES = (
    ("annotate", "annotator", 1000, "Which response is more helpful?"),
    ("report", "admin", 1700, "At a glance"),
    ("progress", "admin", 1250, "Annotators"),
)
STRENGTH = {"cirrus-70b-chat": 1.0, "borealis-13b-instruct": 0.3, "atlas-7b-chat": -0.8}

# Elements of the main area whose right edge passes the main area's (a table cut off, a chart or
# a text too wide), and scrolling areas that scroll sideways.
_OVERFLOW = """() => {
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  const edge = main.getBoundingClientRect().right + 1;
  const out = [...main.querySelectorAll('*')]
    .filter((el) => el.getBoundingClientRect().width > 0 && el.getBoundingClientRect().right > edge)
    .map((el) => `${el.tagName} ${el.getAttribute('data-testid') || ''} past the edge`);
  const sideways = [...main.querySelectorAll('*')]
    .filter((el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX)
      && el.scrollWidth > el.clientWidth + 1)
    .map((el) => `${el.tagName} ${el.className.toString().slice(0, 40)} scrolls sideways`);
  return [...out, ...sideways];
}"""


def judged_demo(db: str, prompts: Path = REPO / "prompts") -> dict[str, str]:
    """Seed the demo study into ``db``, have it mostly judged, and invite an admin and an
    annotator; their tokens by role.

    Two raters judge every comparison and a third a part, so that work is left; judgments are
    dated over the last six hours, as a study in progress would have them.
    """
    with Store(db) as store:
        ensure_demo(store, prompts)
        study = store.get_study("demo")
        rng = random.Random(0)
        for i, share in enumerate((144, 144, 60)):
            who = store.ensure_annotator(f"rater-{i}").id
            for _ in range(share):
                item = store.next_comparison(study, who, rng=rng)
                lean = STRENGTH[item.model_a] - STRENGTH[item.model_b] + rng.gauss(0, 0.8)
                score = max(-3, min(3, round(lean * 1.5)))
                store.record_judgment(
                    item.comparison_id, who, score=score, shown_order=item.shown_order
                )
        ids = [r["id"] for r in store.query("SELECT id FROM judgments ORDER BY id")]
        start = datetime.now(timezone.utc) - timedelta(hours=6)
        step = timedelta(hours=6) / max(1, len(ids))
        with store.transaction() as conn:
            conn.executemany(
                "UPDATE judgments SET created_at = ? WHERE id = ?",
                [
                    ((start + step * n).isoformat(timespec="milliseconds"), i)
                    for n, i in enumerate(ids)
                ],
            )
        tokens = {
            "admin": auth.invite(store, "ada", admin=True)[1],
            "annotator": auth.invite(store, "ann")[1],
        }
        store.set_apart("demo", apart=False)  # invitations set the demo apart; it is the tour's
        return tokens


def visit(page: Any, url: str, token: str, path: str, ready: str) -> list[str]:
    """Open ``path`` signed in, wait until it is drawn; what sticks out sideways (none, ideally)."""
    page.goto(f"{url}/{path}?token={token}")
    if not path:
        next_item(page, None)
    page.get_by_text(ready).first.wait_for(timeout=120_000)
    settle(page)
    page.wait_for_function(_DRAWN, timeout=120_000)
    settle(page)
    return page.evaluate(_OVERFLOW)


def photograph(page: Any, path: Path, height: int) -> Path:
    """The window at ``WIDTH`` x ``height``, once every table and chart is drawn again."""
    page.set_viewport_size({"width": WIDTH, "height": height})
    settle(page)
    page.wait_for_function(_DRAWN, timeout=120_000)
    page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 0)")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return path


def tour(browser: Any, url: str, tokens: dict[str, str], out: Path) -> dict[str, list[str]]:
    """Visit every page of :data:`PAGES` and photograph it into ``out``; what stuck out, by page."""
    found = {}
    context = browser.new_context(viewport={"width": WIDTH, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        for name, role, height, ready in PAGES:
            address = "" if name == "annotate" else name  # the first page lives at the root
            found[name] = visit(page, url, tokens[role], address, ready)
            photograph(page, out / f"{name}.png", height)
    finally:
        context.close()
    return found


def main(out: str) -> None:
    import tempfile

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "tour.db")
        tokens = judged_demo(db)
        with serve(db, Path(folder)) as url, sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                found = tour(browser, url, tokens, Path(out))
            finally:
                browser.close()
    for name, problems in found.items():
        print(f"{name}: {'fits' if not problems else '; '.join(problems)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
