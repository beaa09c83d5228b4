"""Browser fixtures: Debian's Chromium through Playwright, never a downloaded browser.

- ``browser`` (one per module): headless Chromium. Without ``/usr/bin/chromium`` the tests are
  skipped on a developer's machine but fail under CI (``$CI`` set), which installs it.
- ``demo_copy`` (one per module): a copy of the demo store for a module's app, and a folder for
  the app's files.
- ``tab``: a fresh browser context and page that records every dialog (and dismisses it) and
  every websocket frame the page receives, with :meth:`Tab.press` for keyboard shortcuts;
  ``tabs()`` opens more of them, for several people at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from databases import Databases
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from .driver import CHROMIUM, CHROMIUM_ARGS, COUNT_RUNS, VIEWPORT


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI installs it; the browser tests must run there)")
        pytest.skip(reason)
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def demo_copy(
    databases: Databases, demo_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("app")
    with databases.scope(folder) as new_db:
        yield new_db("app", copy_of=demo_db), folder


@dataclass
class Tab:
    """A page with what it saw: the dialogs it was shown and the websocket frames it received."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)
    socket: Any = None

    def press(self, key: str, attempts: int = 3) -> None:
        """Press a shortcut key and make sure the app heard it.

        Right after a page's first draw Streamlit can still be binding its shortcuts, and a key
        pressed in that instant is lost without a trace: no message leaves the browser. Such a
        press is repeated; a press that sent its message never is, so nothing is rated twice.
        """
        for _ in range(attempts):
            try:
                with self.socket.expect_event("framesent", timeout=2_000):
                    self.page.keyboard.press(key)
                return
            except PlaywrightTimeout:
                continue
        raise AssertionError(f"pressing {key!r} sent nothing to the app")


@pytest.fixture
def tabs(browser: Any) -> Iterator[Callable[[], Tab]]:
    """``tabs()`` opens one more tab, in a browser context of its own (its own cookies: another
    person); all are closed after the test."""
    contexts: list[Any] = []

    def new() -> Tab:
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        context.add_init_script(COUNT_RUNS)
        page = context.new_page()
        page.set_default_timeout(30_000)
        seen = Tab(page)

        def on_dialog(dialog: Any) -> None:
            seen.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def on_websocket(ws: Any) -> None:
            seen.socket = ws
            ws.on("framereceived", lambda payload: seen.frames.append(_as_bytes(payload)))

        page.on("dialog", on_dialog)
        page.on("websocket", on_websocket)
        return seen

    yield new
    for context in contexts:
        context.close()


@pytest.fixture
def tab(tabs: Callable[[], Tab]) -> Tab:
    return tabs()


def _as_bytes(payload: str | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else payload.encode("utf-8")
