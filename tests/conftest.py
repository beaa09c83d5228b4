"""Shared fixtures: real stores on the backend the run is for, and the seeded demo study.

The backend is SQLite files in temporary folders, or a PostgreSQL server when
``PAIRWISE_TEST_DATABASE_URL`` names one (see ``databases.py``). Tests marked
``sqlite_only("why")`` are about SQLite itself and are skipped on PostgreSQL, with that reason.

- ``new_db``: ``new_db(name, copy_of=None, bare=False)`` gives the location (a path or a URL) of
  a fresh store for this test, or of a copy of the closed store at ``copy_of``; the same name
  twice is the same store. Use it for every ``Store(...)``, ``--db`` and ``PAIRWISE_DB``.
- ``databases``: the session's :class:`databases.Databases`, for fixtures wider than a test.
- ``store``: an empty store at a fresh location.
- ``demo_db``: the location of a closed store holding the demo study from ``prompts/``, made
  once per session; ``demo_store``: a copy of it per test, so tests may write to it freely.
- ``judged``: the demo study judged to the end by three scripted annotators who favour the
  stronger model (432 judgments), for reports and exports.
- ``write_file``: writes text or bytes to a file in the test's folder and returns its path.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from databases import BACKEND, ON_POSTGRES, SERVER, Databases, NewDatabase

from pairwise.demo import ensure_demo
from pairwise.scales import orient
from pairwise.store import Store

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


def pytest_report_header() -> str:
    where = urlsplit(SERVER).netloc.rpartition("@")[2] if SERVER else "temporary folders"
    return f"stores: {BACKEND} ({where})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is None:
            continue
        reason = marker.args[0] if marker.args else marker.kwargs.get("reason")
        if not reason:
            raise pytest.UsageError(f"{item.nodeid}: sqlite_only needs a reason")
        if ON_POSTGRES:
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    found = Databases()
    yield found
    found.close()


@pytest.fixture
def new_db(databases: Databases, tmp_path: Path) -> Iterator[NewDatabase]:
    with databases.scope(tmp_path) as new:
        yield new


@pytest.fixture
def store(new_db: NewDatabase) -> Iterator[Store]:
    s = Store(new_db("pairwise"))
    yield s
    s.close()


def _seed_demo(location: str) -> None:
    with Store(location) as s:  # closed: its WAL is checkpointed into the file
        assert ensure_demo(s, PROMPTS_DIR) is not None


@pytest.fixture(scope="session")
def demo_db(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The location of a closed store with the demo study seeded: copy it, do not open it."""
    return databases.template("demo", _seed_demo, tmp_path_factory.mktemp("demo"))


@pytest.fixture
def demo_store(demo_db: str, new_db: NewDatabase) -> Iterator[Store]:
    s = Store(new_db("demo", copy_of=demo_db))
    yield s
    s.close()


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return path

    return write


DEMO_STRENGTH = {"cirrus-70b-chat": 1.0, "borealis-13b-instruct": 0.3, "atlas-7b-chat": -0.8}


@pytest.fixture
def judged(demo_store: Store) -> Store:
    """The demo study judged to the end: each annotator presses the button that favours the
    stronger model (with noise), as a person would, until nothing is left for them."""
    study = demo_store.get_study("demo")
    rng = random.Random(0)
    stored = 0
    for i in range(3):
        who = demo_store.ensure_annotator(f"rater-{i}")
        while (got := demo_store.next_comparison(study, who.id, rng=rng)) is not None:
            lean = DEMO_STRENGTH[got.model_a] - DEMO_STRENGTH[got.model_b] + rng.gauss(0, 0.8)
            button = orient(max(-3, min(3, round(lean * 1.5))), got.shown_order)
            result = demo_store.record_judgment(
                got.comparison_id,
                who.id,
                score=orient(button, got.shown_order),
                shown_order=got.shown_order,
                seconds=rng.uniform(5, 60),
            )
            stored += result.stored
    assert stored == 432  # 144 comparisons x overlap 3
    return demo_store
