"""Progress of long library calls (imports, exports, reports), for a caller that shows it.

The library marks its long loops with :func:`track` (and single slow steps with :func:`report`);
nothing happens unless the caller asked for the news with :func:`reporting`, as ``pairwise`` does
to draw a progress bar on a terminal. A context variable carries the reporter, so the library's
functions keep their signatures, and a call made with no reporter pays one look-up per step.

    with progress.reporting(lambda stage, done, total: print(stage, done, total)):
        import_prompts(store, "prompts.jsonl")
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import TypeVar

Reporter = Callable[[str, int, int], None]
"""Called with ``(stage, done, total)``: ``done`` of the ``total`` steps of ``stage`` are finished."""

T = TypeVar("T")
UPDATES = 200  # reports per stage at most, so that drawing never costs more than the work

_reporter: ContextVar[Reporter | None] = ContextVar("pairwise.progress", default=None)


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    """Send the progress of library calls made inside the block to ``reporter``."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


def report(stage: str, done: int, total: int) -> None:
    """Tell the reporter, if there is one, that ``done`` of ``total`` steps of ``stage`` are done."""
    reporter = _reporter.get()
    if reporter is not None:
        reporter(stage, done, total)


def track(items: Sequence[T], stage: str) -> Iterator[T]:
    """The items, one by one, reporting the share handed out (at most ``UPDATES`` times)."""
    reporter = _reporter.get()
    if reporter is None:
        yield from items
        return
    total = len(items)
    every = max(1, total // UPDATES)
    reporter(stage, 0, total)
    for done, item in enumerate(items, start=1):
        yield item
        if done % every == 0 or done == total:
            reporter(stage, done, total)
