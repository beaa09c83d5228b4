"""The tour of the app (``tour.py``) as a test: the annotate page, the report and the progress
page each fit the window at 1440 px (nothing past the main area's right edge, nothing scrolling
sideways) and are photographed into ``test-artifacts/``, the way the README's screenshots are made.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .driver import ARTIFACTS, serve
from .tour import PAGES, judged_demo, tour

pytestmark = pytest.mark.browser


def test_the_pages_fit_and_are_photographed(tmp_path: Path, new_db, browser) -> None:
    db = new_db("tour")
    tokens = judged_demo(db)
    with serve(db, tmp_path) as url:
        found = tour(browser, url, tokens, ARTIFACTS / "tour")
    assert found == {name: [] for name, *_ in PAGES}
    for name, *_ in PAGES:
        image = ARTIFACTS / "tour" / f"{name}.png"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
