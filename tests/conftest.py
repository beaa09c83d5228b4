"""Shared fixtures: real SQLite files in temporary folders, and the seeded demo study.

- ``store``: an empty store on a fresh file.
- ``demo_store``: a store holding the demo study from ``prompts/`` (seeded once per session and
  copied per test, so tests may write to it freely).
- ``judged``: the demo study judged to the end by three scripted annotators who favour the
  stronger model (432 judgments), for reports and exports.
- ``write_file``: writes text or bytes to a file in the test's folder and returns its path.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pairwise.demo import ensure_demo
from pairwise.scales import orient
from pairwise.store import Store

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "pairwise.db")
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file with the demo study seeded, closed (so its WAL is checkpointed)."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    with Store(path) as s:
        assert ensure_demo(s, PROMPTS_DIR) is not None
    return path


@pytest.fixture
def demo_store(demo_db: Path, tmp_path: Path) -> Iterator[Store]:
    copy = tmp_path / "demo.db"
    shutil.copyfile(demo_db, copy)
    s = Store(copy)
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
