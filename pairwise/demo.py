"""The demo study, seeded on first start so that a fresh install has something to rate.

The demo data lives in ``prompts/`` beside the ``pairwise`` package (a source checkout or an
editable install): ``demo_prompts.jsonl``, ``demo_responses.jsonl``, ``demo_study.json`` (a study
file, see :func:`pairwise.ingest.read_study_spec`) and ``guidelines.md``.
"""

from __future__ import annotations

import os
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


def ensure_demo(store: Store, folder: Path | None = None) -> Study | None:
    """Seed the demo study if the database has no study yet; ``None`` when it had one.

    Prompts, responses and the study go in one write transaction that first checks for studies
    again, so two processes starting at once seed it only once.
    """
    if store.studies():
        return None
    folder = folder or demo_dir()
    spec = read_study_spec(folder / "demo_study.json")
    with store.transaction():
        if store.studies():
            return None
        import_prompts(store, folder / "demo_prompts.jsonl")
        import_responses(store, folder / "demo_responses.jsonl")
        return create_study(store, spec)
