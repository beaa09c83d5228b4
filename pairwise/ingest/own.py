"""Our own formats: prompts, responses, and judgments as rows of the judgments frame.

Prompts: ``id``, ``prompt`` or ``messages``, optional ``category`` and ``tags``. Responses:
``prompt_id``, ``model``, ``response``. Judgments: the columns of ``docs/judgments-frame.md``
with ``score`` (oriented to ``model_a``) or ``outcome`` (``win`` / ``tie`` / ``loss``).
"""

from __future__ import annotations

from datetime import datetime

from ..scales import SCALE_POINTS, SHOWN_ORDERS
from ..store import JUDGE_KINDS, Prompt
from .fields import Fields
from .judged import (
    UNKNOWN_ORDER,
    Judged,
    JudgmentFormat,
    judged,
    prompt_or_placeholder,
    soft_score,
)
from .reader import Problems, Record
from .texts import DEFAULT_CATEGORY, Response, ResponseFormat, make_prompt, prompt_messages

OUTCOME_SCORES = {"win": 1, "tie": 0, "loss": -1}


def prompt_from(record: Record, problems: Problems) -> Prompt | None:
    f = Fields(record, problems)
    prompt_id = f.name("id")
    category = f.name("category", required=False) or DEFAULT_CATEGORY
    messages = prompt_messages(f, required=True)
    tags = f.tags("tags")
    if f.failed:
        return None
    return make_prompt(prompt_id, category, messages, tags)


def response_from(record: Record, problems: Problems) -> tuple[None, Response] | None:
    f = Fields(record, problems)
    response = Response(f.name("prompt_id"), f.name("model"), f.output("response"))
    return None if f.failed else (None, response)


RESPONSES = ResponseFormat(
    "pairwise responses",
    recognises=lambda records: True,
    read=response_from,
    response_field="response",
)


def frame_row_from(f: Fields) -> Judged | None:
    """A row of our own judgments frame (``docs/judgments-frame.md``)."""
    study = f.name("study", required=False)
    prompt_id = f.name("prompt_id")
    model_a, model_b = f.name("model_a"), f.name("model_b")
    annotator = f.name("annotator")
    score = None
    if f.present("score"):
        score_field = "score"
        score = f.integer("score")
    elif f.present("outcome"):
        score_field = "outcome"
        outcome = f.choice("outcome", OUTCOME_SCORES)
        score = None if outcome is None else OUTCOME_SCORES[outcome]
    else:
        score_field = "score"
        f.problem("score", 'is missing: give "score" or "outcome"')
    scale = f.integer("scale", required=False)
    if scale is not None and scale not in SCALE_POINTS:
        f.problem("scale", f"must be one of {', '.join(map(str, SCALE_POINTS))}, not {scale}")
    shown_order = f.choice("shown_order", SHOWN_ORDERS, required=False) or UNKNOWN_ORDER
    rationale = f.text("rationale", required=False, blank_ok=True) or ""
    seconds = f.number("seconds")
    created_at = f.name("created_at", required=False)
    if created_at is not None and not _is_iso_time(created_at):
        f.problem("created_at", f"must be an ISO 8601 time, not {created_at!r}")
    category = f.name("category", required=False) or DEFAULT_CATEGORY
    turns = f.integer("turns", required=False, low=1)
    messages = prompt_messages(f, required=False)
    text_a, text_b = (f.output(n, required=False) for n in ("response_a", "response_b"))
    judge_kind = f.choice("judge_kind", JUDGE_KINDS, required=False) or "human"
    p_a = f.probability("p_a")
    score_ab, score_ba = (f.integer(n, required=False) for n in ("score_ab", "score_ba"))
    if f.failed:
        return None
    if p_a is not None:
        side, p_a = soft_score(p_a)
        if side != (score > 0) - (score < 0):
            f.problem("p_a", f"{f.record.data['p_a']!r} disagrees with {score_field} {score!r}")
            return None
    if turns is not None and turns > 100:
        turns = 1
    return judged(
        f,
        prompt_or_placeholder(prompt_id, messages, prompt_id, category, turns or 1),
        study=study,
        model_a=model_a,
        model_b=model_b,
        text_a=text_a,
        text_b=text_b,
        annotator=annotator,
        score=score,
        scale=scale or (3 if score_field == "outcome" else None),
        scale_declared=scale is not None,
        shown_order=shown_order,
        fields=(
            score_field,
            "messages" if f.present("messages") else "prompt",
            "response_a",
            "response_b",
        ),
        rationale=rationale,
        seconds=seconds,
        created_at=created_at,
        judge_kind=judge_kind,
        p_a=p_a,
        score_ab=score_ab,
        score_ba=score_ba,
    )


def _is_iso_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


JUDGMENTS = JudgmentFormat(
    "pairwise judgments",
    recognises=lambda data: "score" in data or "outcome" in data or "prompt_id" in data,
    read=frame_row_from,
)
