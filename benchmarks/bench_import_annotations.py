"""How fast AlpacaEval annotations go into a new store through ``pairwise import judgments``.

The data has AlpacaEval's shape: 805 instructions, a reference model (``generator_1``) against
``models`` others (``generator_2``), outputs of about ``--chars`` characters, a weighted judge's
fractional preferences with some draws, and one record in 200 not judged (``null``), all in one
``annotations.json`` (a JSON array, as AlpacaEval writes it). The goal: 20,000 records in under 5 s.

The baseline, timed in the same run on the same file, parses the JSON and writes the records as
they are with ``sqlite_utils`` ``insert_all`` (no validation, no prompts, responses, comparisons or
study): the floor of any importer writing them to SQLite from Python. A second import of the same
file (every row unchanged) is timed too.

    python benchmarks/bench_import_annotations.py            # 20,000 records, median of 3 runs
    python benchmarks/bench_import_annotations.py --quick    # 1,000 records
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import sqlite_utils
from _common import TIMED_HEADER, against_first, print_table, temp_dir, timed_methods

from pairwise.ingest import import_judgments
from pairwise.store import Store

INSTRUCTIONS = 805
REFERENCE = "gpt4_1106_preview"
_WORDS = ["the", "answer", "explains", "each", "step", "and", "gives", "a", "short", "example"]


def write_annotations(path: Path, records: int, chars: int) -> None:
    """An AlpacaEval annotations file of ``records`` records (805 instructions per model)."""
    rng = random.Random(0)
    words = max(1, chars // 6)
    instructions = [f"Instruction {i}: " + " ".join(rng.choices(_WORDS, k=20)) for i in range(805)]
    reference = [" ".join(rng.choices(_WORDS, k=words)) for _ in instructions]
    out = []
    for r in range(records):
        i, model = r % INSTRUCTIONS, f"model-{r // INSTRUCTIONS:02d}"
        preference = None if r % 200 == 199 else rng.choice([1.0, 2.0, 1.5, rng.uniform(1, 2)])
        out.append(
            {
                "instruction": instructions[i],
                "output_1": reference[i],
                "generator_1": REFERENCE,
                "dataset": f"dataset-{i % 5}",
                "output_2": " ".join(rng.choices(_WORDS, k=words)),
                "generator_2": model,
                "annotator": "weighted_alpaca_eval_gpt4_turbo",
                "preference": preference,
                "price_per_example": 0.0152,
                "time_per_example": 1.28,
                "raw_completion": "m" if preference is None or preference < 1.5 else "M",
            }
        )
    path.write_text(json.dumps(out, indent=4), encoding="utf-8")


def with_import(store_path: Path, annotations: Path) -> int:
    with Store(store_path) as store:
        result = import_judgments(store, annotations, study="ae")
    return result.inserted["judgments"]


def reimport(store_path: Path, annotations: Path) -> int:
    with Store(store_path) as store:
        result = import_judgments(store, annotations, study="ae")
    return result.unchanged["judgments"]


def with_insert_all(store_path: Path, annotations: Path) -> int:
    records = json.loads(annotations.read_text(encoding="utf-8"))
    judged = [r for r in records if r["preference"] is not None]
    db = sqlite_utils.Database(store_path)
    db["annotations"].insert_all(judged, batch_size=1000)
    db.close()
    return len(judged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--chars", type=int, default=1500, help="characters per output")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    records = args.records or (1_000 if args.quick else 20_000)
    runs = args.runs or (1 if args.quick else 3)

    with temp_dir() as folder:
        annotations = folder / "annotations.json"
        write_annotations(annotations, records, args.chars)
        size_mb = annotations.stat().st_size / 1e6
        seconds, rows = timed_methods(
            [
                ("insert_all", "insert_all", lambda db: with_insert_all(db, annotations)),
                ("import", "import", lambda db: with_import(db, annotations)),
                ("re-import", "import", lambda db: reimport(db, annotations)),
            ],
            folder,
            runs,
        )
    judged = records - records // 200
    assert rows == {"insert_all": judged, "import": judged, "re-import": judged}, rows
    print_table(
        f"AlpacaEval annotations: {records:,} records ({judged:,} judged; outputs of"
        f" {args.chars:,} characters, {size_mb:.0f} MB of JSON), median of {runs} runs",
        ["method", "records", *TIMED_HEADER],
        against_first(seconds, records),
    )


if __name__ == "__main__":
    main()
