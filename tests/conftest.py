"""Shared fixtures: real SQLite files in temporary folders, and the seeded demo study.

- ``store``: an empty store on a fresh file.
- ``demo_store``: a store holding the demo study from ``prompts/`` (seeded once per session and
  copied per test, so tests may write to it freely).
- ``write_file``: writes text or bytes to a file in the test's folder and returns its path.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pairwise.demo import ensure_demo
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
