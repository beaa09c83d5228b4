"""Driving the real app: start it on a database, and wait for its pages to settle.

``serve(db, folder)`` runs ``streamlit run annotate_app.py`` in ``folder`` on a free port with
``PAIRWISE_DB=db`` (a SQLite path or a PostgreSQL URL) and yields the base URL once
``/_stcore/health`` answers. The waiting helpers wait for the page to
reach a new state (a new comparison on screen, no element left over from an earlier run) rather
than sleeping. Screenshots go to ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "annotate_app.py"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_SECONDS = 60
#: A fresh server's first run imports the whole app; on a busy machine that takes a while.
FIRST_RUN_MS = 120_000
VIEWPORT = {"width": 1400, "height": 1000}
#: The demo study's models: none of them may ever reach an annotator's browser.
DEMO_MODELS = ("atlas-7b-chat", "borealis-13b-instruct", "cirrus-70b-chat")
SIGN_IN = "Please sign in with the personal link that the study admin sent you."

# The page has settled when the app says its script is not running (``data-test-script-state``
# on the app's root: "rerunRequested" from the moment the browser asks for a run, "running",
# then "notRunning"), no element is left over from an earlier run (Streamlit marks those
# data-stale while a run is under way) and the running indicator is gone.
_SETTLED = (
    "document.querySelector('[data-testid=\"stApp\"]')"
    "?.getAttribute('data-test-script-state') === 'notRunning'"
    " && !document.querySelector('[data-stale=\"true\"]')"
    " && !document.querySelector('[data-testid=\"stStatusWidget\"]')"
    " && !!document.querySelector('[data-testid=\"stMain\"]')"
)
#: Installed in every page before the app loads: counts the script runs that have finished, so
#: that a test can wait for the run its own action started, however late the machine starts it.
COUNT_RUNS = """(() => {
  window.__pairwiseRuns = 0;
  let last = null;
  new MutationObserver(() => {
    const state = document.querySelector('[data-testid="stApp"]')
      ?.getAttribute('data-test-script-state');
    if (state === 'notRunning' && last !== 'notRunning') window.__pairwiseRuns += 1;
    if (state) last = state;
  }).observe(document, {subtree: true, childList: true, attributes: true,
                        attributeFilter: ['data-test-script-state']});
})();"""
# Tables and charts load their code lazily, showing a skeleton meanwhile, then draw on a canvas.
_DRAWN = """() => !document.querySelector('[data-testid="stSkeleton"]') && [...document.querySelectorAll(
  '[data-testid="stDataFrame"], [data-testid="stVegaLiteChart"]'
)].every((el) => el.querySelector('canvas, svg'))"""
# The annotate page keys an item's widgets by a random nonce; the Skip button's container
# carries it as the class ``st-key-skip-<nonce>``.
_NONCE = """() => {
  const found = [...document.querySelectorAll('[class*="st-key-skip-"]')];
  if (found.length !== 1) return null;
  const name = [...found[0].classList].find((c) => c.startsWith('st-key-skip-'));
  return name.slice('st-key-skip-'.length);
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    """A running app: its base URL and the server process (for its CPU accounting)."""

    url: str
    process: subprocess.Popen


@contextlib.contextmanager
def serve(db: str, folder: Path, *flags: str) -> Iterator[str]:
    """Run the app on the store at ``db`` and yield its base URL; the server's log (kept in
    ``folder``) is shown if it fails.

    ``flags`` are added to ``streamlit run`` (they override ``.streamlit/config.toml``)."""
    with serving(db, folder, *flags) as server:
        yield server.url


@contextlib.contextmanager
def serving(
    db: str, folder: Path, *flags: str, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """:func:`serve`, yielding the process too; ``env`` adds to the server's environment."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        # a source file saved meanwhile must not offer a rerun in the middle of a test
        "--server.fileWatcherType",
        "none",
        *flags,
    ]
    env = {**os.environ, "PAIRWISE_DB": db, **(env or {})}
    log_path = folder / f"server-{port}.log"
    # run in the test's folder: no secrets.toml of the working copy turns on OIDC sign-in
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, log_path)
        yield Server(url, server)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)  # time for a profiled server to write its profile
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_healthy(url: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    log = log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"the app did not start (exit code {server.poll()}):\n{log}")


# -- waiting for the app ----------------------------------------------------------------------


def settle(page: Any) -> None:
    """Wait until the script run that the last action started has finished drawing."""
    page.wait_for_function(f"() => {_SETTLED}")


def finished_runs(page: Any) -> int:
    """How many script runs this page has seen finish (see :data:`COUNT_RUNS`)."""
    return page.evaluate("() => window.__pairwiseRuns")


def after_run(page: Any, action: Callable[[], object], timeout: float | None = None) -> None:
    """Do ``action``, which makes the app run its script, and wait until that run has finished
    and the page has settled: a check made before the run even started would pass or fail by
    luck. ``timeout`` in milliseconds (the page's default if ``None``)."""
    before = finished_runs(page)
    action()
    page.wait_for_function(
        f"(before) => window.__pairwiseRuns > before && {_SETTLED}", arg=before, timeout=timeout
    )


def item_nonce(page: Any) -> str | None:
    """The nonce of the comparison on screen (``None``: no comparison shown)."""
    return page.evaluate(_NONCE)


def next_item(page: Any, previous: str | None) -> str:
    """Wait for a comparison other than ``previous`` to be on screen, settled; its nonce.

    ``previous=None`` is a page just opened, perhaps the first on a fresh server: it gets the
    time a first run may take."""
    page.wait_for_function(
        f"(previous) => {{ const now = ({_NONCE})(); return now !== null && now !== previous"
        f" && {_SETTLED}; }}",
        arg=previous,
        timeout=FIRST_RUN_MS if previous is None else None,
    )
    return item_nonce(page)


def item_after(page: Any, previous: str) -> str | None:
    """Wait for the comparison ``previous`` to leave the screen and the page to settle; the
    nonce of the comparison shown instead, or ``None`` when none is."""
    page.wait_for_function(f"(previous) => ({_NONCE})() !== previous && {_SETTLED}", arg=previous)
    return item_nonce(page)


def progress(page: Any) -> tuple[int, int]:
    """``(done, total)`` from the "You: N of M rated" progress text."""
    text = page.get_by_text(re.compile(r"^You: [\d,]+ of [\d,]+ rated$")).inner_text()
    done, total = re.findall(r"[\d,]+", text)
    return int(done.replace(",", "")), int(total.replace(",", ""))


def main_text(page: Any) -> str:
    return page.get_by_test_id("stMain").inner_text()


def wait_until(condition: Callable[[], object], what: str, timeout: float = 20.0) -> object:
    """Poll ``condition`` until it returns something true; fail naming ``what`` at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def eventually(page: Any, check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Check again until ``check()`` holds, letting the page work in between."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(100)


def screenshot(page: Any, name: str, height: int = 2400) -> Path:
    """A tall screenshot into ``test-artifacts/``, once every table and chart is drawn (the app
    scrolls inside its own container, so a full-page shot would only hold the viewport)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    settle(page)
    page.wait_for_function(_DRAWN)
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)
    return path
