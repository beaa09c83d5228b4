"""Scores of responses (``pairwise import scores FILE``): one scalar per response and scorer.

Records: ``prompt_id`` (string or integer), ``model``, ``scorer`` (say, a reward model's name) and
``score`` (any finite number; higher is better). Each must name a stored response. The same score
again is unchanged; another score for a response its scorer already scored is an error, in the file
or against the store. JSON lines, a JSON array or CSV, checked whole and written in one transaction.
"""

from __future__ import annotations

from pathlib import Path

from ..store import Store
from .fields import Fields
from .reader import Imported, Problems, Record, read_records

ScoreRow = tuple[str, str, str, float]
SCORE_LIMIT = 1e300  # any finite score; infinities are refused


def import_scores(store: Store, path: str | Path) -> Imported:
    """Add a scores file to the store, all or nothing."""
    problems = Problems(str(path))
    items = [
        (record.line, row)
        for record in read_records(path, problems)
        if (row := score_from(record, problems)) is not None
    ]
    problems.check()
    with store.transaction():
        responses = store.response_ids()
        stored = {
            (r.prompt_id, r.model, r.scorer): r.score for r in store.scores_frame().itertuples()
        }
        seen: dict[tuple[str, str, str], tuple[int, float]] = {}
        for line, (prompt_id, model, scorer, score) in items:
            if (prompt_id, model) not in responses:
                problems.add(
                    line,
                    "model",
                    f"no response of {model!r} to prompt {prompt_id!r}; import it first",
                )
                continue
            key = (prompt_id, model, scorer)
            earlier = seen.setdefault(key, (line, score))
            if earlier[1] != score:
                problems.add(
                    line, "score", f"{score!r} differs from {earlier[1]!r} on line {earlier[0]}"
                )
            elif key in stored and stored[key] != score:
                problems.add(line, "score", f"{score!r} differs from the stored {stored[key]!r}")
        problems.check()
        unique = {key: score for key, (_, score) in seen.items()}
        inserted, unchanged = store.add_scores((*key, score) for key, score in unique.items())
    return Imported(str(path), {"scores": inserted}, {"scores": unchanged})


def score_from(record: Record, problems: Problems) -> ScoreRow | None:
    f = Fields(record, problems)
    prompt_id = f.name("prompt_id", numbers=True)
    model = f.name("model")
    scorer = f.name("scorer")
    score = f.number("score", required=True, low=-SCORE_LIMIT, high=SCORE_LIMIT)
    if f.failed or score is None:
        return None
    return prompt_id, model, scorer, score
