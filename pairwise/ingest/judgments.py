"""Judgment files in: any :class:`~pairwise.ingest.judged.JudgmentFormat`, placed in a study.

Every record is read by the first format in :data:`JUDGMENT_FORMATS` that recognises it. Then,
for all formats alike: texts (given, else placeholders), the study (new or existing, its scale
checked against every score), one orientation per model pair, and the judgments, all written in
one transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from ..scales import Scale
from ..store import ImportedJudgment, Prompt, Store, StoreError
from . import arena, own
from .fields import Fields
from .judged import Judged, JudgmentFormat, placeholder_response
from .reader import Imported, Problems, Record, read_records
from .texts import Response, new_prompts, new_responses, parsed

IMPORTED_QUESTION = "Which response is better?"
JUDGMENT_FORMATS: tuple[JudgmentFormat, ...] = (arena.BATTLES, own.JUDGMENTS)
"""Tried in order for each record; our own format, last, takes any record."""


def judged_from(record: Record, problems: Problems) -> Judged | None:
    f = Fields(record, problems)
    form = next(form for form in JUDGMENT_FORMATS if form.recognises(record.data))
    judged = form.read(f)
    if judged is not None and judged.model_a == judged.model_b:
        f.problem("model_b", "names the same model as model_a")
    return None if f.failed else judged


def _flip(score: int, shown_order: str) -> tuple[int, str]:
    """The same judgment seen from the other model: score negated, sides swapped."""
    return -score, "BA" if shown_order == "AB" else "AB"


class _StudyPlan(NamedTuple):
    name: str
    existing: Any  # the stored Study, or None for a new one
    points: int
    orientation: dict[frozenset[str], tuple[str, str]]
    overlap: int


def _plan_study(
    store: Store, name: str, judged: list[Judged], problems: Problems
) -> _StudyPlan | None:
    """The study the records go to: its scale (checked against every score) and pair orientation."""
    try:
        existing = store.get_study(name)
    except StoreError:
        existing = None
    orientation: dict[frozenset[str], tuple[str, str]] = {}
    if existing is not None:
        points = existing.scale.points
        frame = store.comparisons_frame(existing.id)
        for a, b in zip(frame["model_a"], frame["model_b"], strict=True):
            orientation.setdefault(frozenset((a, b)), (a, b))
        for j in judged:
            if j.scale_declared and j.scale != points:
                problems.add(j.line, "scale", f"study {name!r} uses the {points}-point scale")
    else:
        declared = [j for j in judged if j.scale_declared]
        known = declared or [j for j in judged if j.scale is not None]
        if not known:
            for j in judged:
                problems.add(j.line, "scale", f"is missing: needed to create the study {name!r}")
            return None
        first = known[0]
        points = first.scale
        for j in declared:
            if j.scale != points:
                problems.add(
                    j.line, "scale", f"line {first.line} gives {points} for the new study {name!r}"
                )
    scale = Scale(points)
    for j in judged:
        try:
            scale.check(j.score)
        except ValueError as e:
            problems.add(j.line, j.fields[0], f"{e} of study {name!r}")
    raters: dict[tuple[str, frozenset[str]], set[str]] = {}
    for j in judged:
        pair = frozenset((j.model_a, j.model_b))
        orientation.setdefault(pair, (j.model_a, j.model_b))
        raters.setdefault((j.prompt.id, pair), set()).add(j.annotator)
    overlap = max(len(r) for r in raters.values())
    return _StudyPlan(name, existing, points, orientation, overlap)


def import_judgments(store: Store, path: str | Path, *, study: str | None = None) -> Imported:
    """Add judgments made elsewhere (Chatbot Arena, MT-Bench, our own frame), all or nothing.

    ``study`` names the study for every record; else each record's ``study``, else the file name.
    """
    file = str(path)
    problems = Problems(file)
    judged = [j for _, j in parsed(read_records(path, problems), judged_from, problems)]
    problems.check()
    by_study: dict[str, list[Judged]] = {}
    for j in judged:
        by_study.setdefault(study or j.study or Path(path).stem, []).append(j)
    with store.transaction():
        before = store.counts()
        plans = [_plan_study(store, name, group, problems) for name, group in by_study.items()]
        prompts, responses = _judged_texts(store, judged, problems)
        problems.check()
        _, prompts_unchanged = store.add_prompts(prompts)
        _, responses_unchanged = store.add_responses(responses)
        rows: list[ImportedJudgment] = []
        duplicates = 0
        for plan in plans:
            new_rows, repeated = _study_judgments(store, plan, by_study[plan.name], file, problems)
            rows.extend(new_rows)
            duplicates += repeated
        problems.check()
        _, judgments_unchanged = store.add_judgments(rows)
        after = store.counts()
    inserted = {t: after[t] - before[t] for t in after if t in before}
    unchanged = {
        "prompts": prompts_unchanged,
        "responses": responses_unchanged,
        "judgments": judgments_unchanged + duplicates,
    }
    return Imported(file, inserted, unchanged)


def _judged_texts(
    store: Store, judged: list[Judged], problems: Problems
) -> tuple[list[Prompt], list[Response]]:
    """The prompts and responses the records need: their texts, else placeholders."""
    prompts = new_prompts(
        ((j.line, j.fields[1], j.prompt) for j in judged if j.prompt_given), problems, store
    )
    given = [
        (j.line, name, Response(j.prompt.id, model, text))
        for j in judged
        for name, model, text in (
            (j.fields[2], j.model_a, j.text_a),
            (j.fields[3], j.model_b, j.text_b),
        )
        if text is not None
    ]
    responses = new_responses(given, problems, store)
    have_prompts = store.prompt_ids() | {p.id for p in prompts}
    have_responses = set(store.response_hashes()) | {(r.prompt_id, r.model) for r in responses}
    for j in judged:
        if j.prompt.id not in have_prompts:
            prompts.append(j.prompt)
            have_prompts.add(j.prompt.id)
        for model in (j.model_a, j.model_b):
            if (j.prompt.id, model) not in have_responses:
                responses.append(Response(j.prompt.id, model, placeholder_response(model)))
                have_responses.add((j.prompt.id, model))
    return prompts, responses


def _study_judgments(
    store: Store, plan: _StudyPlan, judged: list[Judged], file: str, problems: Problems
) -> tuple[list[ImportedJudgment], int]:
    """Create the study and its comparisons as needed; the new judgments, oriented to model A.

    Returns the judgments to insert and how many records repeat a judgment (same comparison,
    annotator and score) of the file or the store; a repeat with another score is a problem.
    """
    if plan.existing is None:
        study = store.add_study(
            plan.name,
            scale=plan.points,
            overlap=plan.overlap,
            models=[m for pair in plan.orientation for m in pair],
            pair_plan={
                "kind": "list",
                "pairs": [list(p) for p in plan.orientation.values()],
                "imported_from": Path(file).name,
            },
            question=IMPORTED_QUESTION,
        )
    else:
        study = plan.existing
    oriented = []
    for j in judged:
        score, order = j.score, j.shown_order
        a, b = plan.orientation[frozenset((j.model_a, j.model_b))]
        if (a, b) != (j.model_a, j.model_b):
            score, order = _flip(score, order)
        oriented.append((j, a, b, score, order))
    places = store.add_comparisons(study.id, [(j.prompt.id, a, b) for j, a, b, _, _ in oriented])
    stored = store.stored_scores(study.id)
    seen: dict[tuple[int, int], tuple[int, int]] = {}
    rows, repeated = [], 0
    for (j, a, b, score, order), (comparison_id, flipped) in zip(oriented, places, strict=True):
        if flipped:
            score, order = _flip(score, order)
        annotator_id = store.ensure_annotator(j.annotator).id
        key = (comparison_id, annotator_id)
        what = f"{j.annotator!r} on prompt {j.prompt.id!r}, {a!r} vs {b!r}"
        if key in seen:
            line, first = seen[key]
            if first != score:
                problems.add(j.line, j.fields[0], f"judgment of {what} differs from line {line}")
            repeated += 1
            continue
        seen[key] = (j.line, score)
        if key in stored:
            if stored[key][0] != score:
                problems.add(
                    j.line, j.fields[0], f"judgment of {what} is stored with another score"
                )
            repeated += 1
            continue
        rows.append(
            ImportedJudgment(
                comparison_id=comparison_id,
                annotator_id=annotator_id,
                score=score,
                shown_order=order,
                rationale=j.rationale,
                seconds=j.seconds,
                created_at=j.created_at,
            )
        )
    return rows, repeated
