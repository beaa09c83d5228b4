"""How fast a prompts file and a responses file go into a new store through ``pairwise.ingest``.

The baseline, timed in the same run on the same files, reads the JSON lines and writes the same
rows with a plain ``sqlite_utils`` ``insert_all`` (no validation, no duplicate checks, no indexes
beyond the primary key): the floor that any importer writing to SQLite from Python sits on. A
second import of the same files (every row unchanged) is timed too.

    python benchmarks/bench_import.py            # 100,000 responses (10 models x 10,000 prompts)
    python benchmarks/bench_import.py --quick    # 2,000 responses
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import sqlite_utils
from _common import TIMED_HEADER, against_first, print_table, temp_dir, timed_methods

from pairwise.ingest import import_prompts, import_responses
from pairwise.store import Store

_WORDS = [
    "the",
    "answer",
    "explains",
    "each",
    "step",
    "and",
    "gives",
    "a",
    "short",
    "example",
    "before",
    "a",
    "summary",
]


def write_files(folder: Path, n_prompts: int, n_models: int, chars: int) -> tuple[Path, Path]:
    """A prompts file and a responses file (every model answers every prompt), JSON lines."""
    rng = random.Random(0)
    prompts, responses = folder / "prompts.jsonl", folder / "responses.jsonl"
    with prompts.open("w", encoding="utf-8") as out:
        for p in range(n_prompts):
            record = {
                "id": f"p{p:06d}",
                "category": f"category-{p % 12}",
                "prompt": f"Question {p}: " + " ".join(rng.choices(_WORDS, k=25)),
            }
            out.write(json.dumps(record) + "\n")
    words_per_response = max(1, chars // 6)
    with responses.open("w", encoding="utf-8") as out:
        for m in range(n_models):
            for p in range(n_prompts):
                text = " ".join(rng.choices(_WORDS, k=words_per_response))
                record = {"prompt_id": f"p{p:06d}", "model": f"model-{m:02d}", "response": text}
                out.write(json.dumps(record) + "\n")
    return prompts, responses


def with_ingest(path: Path, prompts: Path, responses: Path) -> int:
    with Store(path) as store:
        a = import_prompts(store, prompts)
        b = import_responses(store, responses)
    return sum(a.inserted.values()) + sum(b.inserted.values())


def reimport(path: Path, prompts: Path, responses: Path) -> int:
    with Store(path) as store:
        a = import_prompts(store, prompts)
        b = import_responses(store, responses)
    return sum(a.unchanged.values()) + sum(b.unchanged.values())


def with_insert_all(path: Path, prompts: Path, responses: Path) -> int:
    db = sqlite_utils.Database(path)
    rows = 0
    for name, file, pk in (
        ("prompts", prompts, "id"),
        ("responses", responses, None),
    ):
        with file.open(encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines]
        db[name].insert_all(records, pk=pk, batch_size=1000)
        rows += len(records)
    db.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--prompts", type=int, default=None)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--chars", type=int, default=1000, help="characters per response")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    n_prompts = args.prompts or (200 if args.quick else 10_000)
    runs = args.runs or (1 if args.quick else 3)

    with temp_dir() as folder:
        prompts, responses = write_files(folder, n_prompts, args.models, args.chars)
        size_mb = (prompts.stat().st_size + responses.stat().st_size) / 1e6
        seconds, rows = timed_methods(
            [
                ("insert_all", "insert_all", lambda db: with_insert_all(db, prompts, responses)),
                ("ingest", "ingest", lambda db: with_ingest(db, prompts, responses)),
                ("re-import", "ingest", lambda db: reimport(db, prompts, responses)),
            ],
            folder,
            runs,
        )
    expected = n_prompts * (args.models + 1)
    assert rows == {"ingest": expected, "insert_all": expected, "re-import": expected}, rows
    print_table(
        f"Import: {n_prompts:,} prompts + {n_prompts * args.models:,} responses"
        f" ({args.chars:,} characters each, {size_mb:.0f} MB of JSON lines), median of {runs} runs",
        ["method", "rows", *TIMED_HEADER],
        against_first(seconds, expected),
    )


if __name__ == "__main__":
    main()
