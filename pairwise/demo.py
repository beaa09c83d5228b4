"""The demo study, seeded on first start so that a fresh install has something to rate.

The demo data lives in ``prompts/`` beside the ``pairwise`` package (a source checkout or an
editable install): ``demo_prompts.jsonl``, ``demo_responses.jsonl``, ``demo_study.json`` (a study
file, see :func:`pairwise.ingest.read_study_spec`) and ``guidelines.md``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .ingest import create_study, import_prompts, import_responses, read_study_spec
from .store import Store, Study

DEMO_FILES = ("demo_prompts.jsonl", "demo_responses.jsonl", "demo_study.json")


def demo_dir() -> Path:
    """The folder with the demo files: ``$PAIRWISE_PROMPTS``, else ``prompts/`` by the package."""
    candidates = [Path(__file__).resolve().parent.parent / "prompts", Path.cwd() / "prompts"]
    if os.environ.get("PAIRWISE_PROMPTS"):
        candidates.insert(0, Path(os.environ["PAIRWISE_PROMPTS"]))
    for folder in candidates:
        if all((folder / name).is_file() for name in DEMO_FILES):
            return folder
    raise FileNotFoundError(
        f"the demo files ({', '.join(DEMO_FILES)}) are not in {candidates[0]};"
        " set PAIRWISE_PROMPTS to their folder"
    )


def ensure_demo(
    store: Store, folder: Path | None = None, *, besides_annotators: Sequence[str] = ()
) -> Study | None:
    """Seed the demo study into a database that holds no data at all; ``None`` when it holds some.

    A store with imported prompts, people or links is somebody's real work: the demo's prompts
    could clash with theirs, and its study would be offered to their annotators. People named in
    ``besides_annotators`` (the local demo admin) do not count as data. Prompts, responses and the
    study go in one write transaction that first checks again, so two processes starting at once
    seed it only once.
    """
    if store.holds_data(besides_annotators=besides_annotators):
        return None
    folder = folder or demo_dir()
    spec = read_study_spec(folder / "demo_study.json")
    with store.transaction():
        if store.holds_data(besides_annotators=besides_annotators):
            return None
        import_prompts(store, folder / "demo_prompts.jsonl")
        import_responses(store, folder / "demo_responses.jsonl")
        return store.mark_demo(create_study(store, spec).id)
