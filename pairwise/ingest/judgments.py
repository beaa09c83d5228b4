"""Judgment files in: any :class:`~pairwise.ingest.judged.JudgmentFormat`, placed in a study.

Every record is read by the first format in :data:`JUDGMENT_FORMATS` that recognises it; a file
whose first record no format recognises is refused as a whole, naming the formats it could be.
Then, for all formats alike: texts (given, else placeholders), the study (new or existing, its
scale checked against every score), one orientation per model pair, each judge as a person or a
model judge, and the judgments, all written in one transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from .. import progress
from ..scales import Scale
from ..store import (
    PLACEHOLDER_RESPONSE,
    ImportedJudgment,
    Prompt,
    Store,
    StoreError,
    collector_paused,
)
from . import alpaca_eval, arena, mt_bench, own
from .fields import Fields
from .judged import Judged, JudgmentFormat
from .reader import Imported, Problems, Record, read_records
from .texts import Response, new_prompts, new_responses

IMPORTED_QUESTION = "Which response is better?"
JUDGMENT_FORMATS: tuple[JudgmentFormat, ...] = (
    alpaca_eval.ANNOTATIONS,
    mt_bench.PAIR_JUDGMENTS,
    arena.BATTLES,
    own.JUDGMENTS,
)
"""Tried in order for each record: the first that recognises it reads it."""


def read_judged(records: list[Record], problems: Problems) -> tuple[list[Judged], dict[str, int]]:
    """The records' judgments, and how many records were left out, by reason.

    Sets ``problems.read_as`` to the format(s) the records were read in.
    """
    judged: list[Judged] = []
    left_out: dict[str, int] = {}
    used: dict[str, None] = {}
    for record in progress.track(records, "checking records"):
        form = next((f for f in JUDGMENT_FORMATS if f.recognises(record.data)), None)
        if form is None:
            if not used:  # the file's first record: the file is not in a supported format
                problems.add(None, None, _unsupported(record))
                return [], {}
            problems.add(record.line, None, f"is in none of the formats: {_names(used)}")
            continue
        if form.name not in used:
            used[form.name] = None
            problems.read_as = _names(used)
        reason = form.left_out(record)
        if reason is not None:
            left_out[reason] = left_out.get(reason, 0) + 1
            continue
        f = Fields(record, problems)
        j = form.read(f)
        if j is not None and j.model_a == j.model_b:
            f.problem("model_b", "names the same model as model_a")
        if not f.failed:
            judged.append(j)
    if records and used and not judged and not problems.items:
        problems.add(None, None, "holds no judged records")
    return judged, left_out


def _unsupported(record: Record) -> str:
    """Why a file is refused as a whole: its first record is in none of the judgment formats."""
    if alpaca_eval.is_model_outputs([record]):
        return "holds AlpacaEval model outputs, not judgments: import it with `pairwise import responses`"
    fields = ", ".join(sorted(map(str, record.data))[:12]) or "none"
    return (
        f"is in no supported judgment format: its first record (line {record.line}) has the"
        f" fields {fields}; supported: {_names(f.name for f in JUDGMENT_FORMATS)}"
        " (see docs/formats.md)"
    )


def _names(names: Any) -> str:
    return "; ".join(names)


class _Verdict(NamedTuple):
    """What a judgment says, oriented to one model A; turned around by :meth:`flipped`."""

    score: int
    shown_order: str | None  # None: unknown
    p_a: float | None
    score_ab: int | None
    score_ba: int | None

    def flipped(self) -> _Verdict:
        """The same verdict seen from the other model: scores negated, sides swapped."""
        return _Verdict(
            -self.score,
            {"AB": "BA", "BA": "AB"}.get(self.shown_order, self.shown_order),
            None if self.p_a is None else 1 - self.p_a,
            None if self.score_ba is None else -self.score_ba,
            None if self.score_ab is None else -self.score_ab,
        )

    @property
    def stored(self) -> tuple[int, float | None, int | None, int | None]:
        """The parts a repeat must match (the side shown aside)."""
        return self.score, self.p_a, self.score_ab, self.score_ba


def _same_meaning(record_scale: int, study_scale: int) -> bool:
    """Whether a score means the same on both scales: the same scale, or two scales without
    strengths (2- and 3-point: +1 is "A better" on both; a tie is then checked on its own).
    On the 7-point scale +1 means "slightly better", which a 3-point verdict never said."""
    direction_only = Scale(record_scale).max_margin == Scale(study_scale).max_margin == 1
    return record_scale == study_scale or direction_only


def _scale_source(j: Judged) -> str:
    """How a record's scale is known: declared, or implied by its kind of verdict."""
    if j.scale_declared:
        return "its scale field"
    if j.fields[0] == "outcome":
        return "a win / tie / loss outcome is a 3-point verdict"
    if j.fields[0] == "preference":
        return "an AlpacaEval preference is a 3-point verdict"
    return "a winner / tie verdict is a 3-point one"


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
            if j.scale is not None and not _same_meaning(j.scale, points):
                field = "scale" if j.scale_declared else j.fields[0]
                problems.add(
                    j.line,
                    field,
                    f"is on the {j.scale}-point scale ({_scale_source(j)}), but study {name!r} "
                    f"uses the {points}-point scale; import it into a study of its own "
                    "(--study NAME)",
                )
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
        for j in judged:  # verdicts whose kind implies a scale must fit the new study's too
            if j.scale is not None and not j.scale_declared and not _same_meaning(j.scale, points):
                problems.add(
                    j.line,
                    j.fields[0],
                    f"is on the {j.scale}-point scale ({_scale_source(j)}), but line "
                    f"{first.line} gives {points} for the new study {name!r}",
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
        people = raters.setdefault((j.prompt.id, pair), set())
        if j.judge_kind == "human":
            people.add(j.annotator)
    # the overlap asks for people: a study of model verdicts alone wants one person per item
    overlap = max(1, *(len(r) for r in raters.values()))
    return _StudyPlan(name, existing, points, orientation, overlap)


def import_judgments(store: Store, path: str | Path, *, study: str | None = None) -> Imported:
    """Add judgments made elsewhere (Chatbot Arena, MT-Bench, our own frame), all or nothing.

    ``study`` names the study for every record; else each record's ``study``, else the file name.
    """
    with collector_paused():
        return _import_judgments(store, path, study)


def _import_judgments(store: Store, path: str | Path, study: str | None) -> Imported:
    file = str(path)
    problems = Problems(file)
    judged, left_out = read_judged(read_records(path, problems), problems)
    problems.check()
    by_study: dict[str, list[Judged]] = {}
    for j in judged:
        by_study.setdefault(study or j.study or Path(path).stem, []).append(j)
    with store.transaction():
        before = store.counts()
        plans = [_plan_study(store, name, group, problems) for name, group in by_study.items()]
        prompts, responses = _judged_texts(store, judged, problems)
        problems.check()
        prompts_added, prompts_unchanged = store.add_prompts(prompts)
        responses_added, responses_unchanged = store.add_responses(responses)
        rows: list[ImportedJudgment] = []
        duplicates = 0
        for plan in plans:
            new_rows, repeated = _study_judgments(store, plan, by_study[plan.name], file, problems)
            rows.extend(new_rows)
            duplicates += repeated
        problems.check()
        progress.report("writing judgments", 0, 1)  # one bulk write: a single step
        _, judgments_unchanged = store.add_judgments(rows)
        progress.report("writing judgments", 1, 1)
        store.mark_read_only_studies()  # placeholders keep a study from annotation, until filled
        after = store.counts()
    inserted = {t: after[t] - before[t] for t in after if t in before}
    # a text that took the place of a placeholder is stored, though no row was added
    inserted.update(prompts=prompts_added, responses=responses_added)
    unchanged = {
        "prompts": prompts_unchanged,
        "responses": responses_unchanged,
        "judgments": judgments_unchanged + duplicates,
    }
    return Imported(file, inserted, unchanged, problems.read_as, left_out)


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
                responses.append(Response(j.prompt.id, model, PLACEHOLDER_RESPONSE))
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
        verdict = _Verdict(j.score, j.shown_order, j.p_a, j.score_ab, j.score_ba)
        a, b = plan.orientation[frozenset((j.model_a, j.model_b))]
        if (a, b) != (j.model_a, j.model_b):
            verdict = verdict.flipped()
        oriented.append((j, a, b, verdict))
    places = store.add_comparisons(study.id, [(j.prompt.id, a, b) for j, a, b, _ in oriented])
    stored = store.stored_verdicts(study.id)
    judges: dict[str, int | None] = {}
    seen: dict[tuple[int, int], tuple[int, tuple]] = {}
    rows, repeated = [], 0
    for (j, a, b, verdict), (comparison_id, flipped) in zip(oriented, places, strict=True):
        if flipped:
            verdict = verdict.flipped()
        annotator_id = _judge_id(store, j, judges, problems)
        if annotator_id is None:
            continue
        key = (comparison_id, annotator_id)
        says = verdict.stored
        if key in seen or key in stored:
            line, first = seen[key] if key in seen else (None, stored[key])
            if first != says:
                what = f"judgment of {j.annotator!r} on prompt {j.prompt.id!r}, {a!r} vs {b!r}"
                how = (
                    "is stored with another verdict"
                    if line is None
                    else f"differs from line {line}"
                )
                problems.add(j.line, j.fields[0], f"{what} {how}")
            repeated += 1
            continue
        seen[key] = (j.line, says)
        rows.append(
            ImportedJudgment(
                comparison_id=comparison_id,
                annotator_id=annotator_id,
                score=verdict.score,
                shown_order=verdict.shown_order,
                rationale=j.rationale,
                seconds=j.seconds,
                created_at=j.created_at,
                p_a=verdict.p_a,
                score_ab=verdict.score_ab,
                score_ba=verdict.score_ba,
            )
        )
    return rows, repeated


def _judge_id(
    store: Store, j: Judged, judges: dict[str, int | None], problems: Problems
) -> int | None:
    """The stored judge of a record, created with its kind; a clash of kinds is a problem."""
    if j.annotator not in judges:
        try:
            judges[j.annotator] = store.ensure_annotator(j.annotator, judge_kind=j.judge_kind).id
        except StoreError as e:
            problems.add(j.line, None, str(e))
            judges[j.annotator] = None
    return judges[j.annotator]
