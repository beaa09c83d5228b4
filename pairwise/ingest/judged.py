"""What every judgment format reads a record into: :class:`Judged`, before it is placed in a study.

A judgment format is a :class:`JudgmentFormat`: a test that recognises its records and a reader
that turns one record's :class:`~pairwise.ingest.fields.Fields` into a :class:`Judged`. The shared
importer (:mod:`pairwise.ingest.judgments`) does the rest: texts, the study, its comparisons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..store import Prompt
from .fields import Fields
from .reader import Record
from .texts import make_prompt


@dataclass(frozen=True)
class Judged:
    """One judgment record, read but not yet placed in a study."""

    line: int
    study: str | None
    prompt: Prompt
    prompt_given: bool  # false: a placeholder text
    model_a: str
    model_b: str
    text_a: str | None  # None: a placeholder text
    text_b: str | None
    annotator: str
    score: int
    scale: int | None  # the scale a new study gets (None: the record cannot say)
    scale_declared: bool  # the record names its scale, which the study must have
    shown_order: str | None  # None: the record does not say which side was shown left
    fields: tuple[str, str, str, str]  # the fields of the score, the prompt, the two responses
    rationale: str = ""
    seconds: float | None = None
    created_at: str | None = None
    judge_kind: str = "human"  # "model": an automatic judge, named by ``annotator``
    p_a: float | None = None  # a soft verdict: the probability that A is better
    score_ab: int | None = None  # a judge shown both orders: its score with A shown first
    score_ba: int | None = None  # ... and with B shown first (``score``: their consensus)


@dataclass(frozen=True)
class JudgmentFormat:
    """An outside judgment format: ``recognises`` a record's data, ``read`` turns it into a judgment.

    ``read`` returns ``None`` after adding its problems to the record's fields. ``left_out``
    gives the reason a record holds no verdict to import (counted, not an error), else ``None``.
    """

    name: str
    recognises: Callable[[dict[str, Any]], bool]
    read: Callable[[Fields], Judged | None]
    left_out: Callable[[Record], str | None] = lambda record: None


UNKNOWN_ORDER = None
"""The shown order of a judgment whose file does not say which side was shown first: unknown,
stored as NULL, and left out of position checks (never a guess)."""


def soft_score(p_a: float) -> tuple[int, float | None]:
    """The 3-point score of a probability that A is better, and the probability to keep.

    The side with the higher probability wins (AlpacaEval counts a preference as a win the
    same way); a hard verdict (1, 0.5, 0) needs no probability beside its score.
    """
    score = 1 if p_a > 0.5 else -1 if p_a < 0.5 else 0
    return score, None if p_a in (0.0, 0.5, 1.0) else p_a


def judged(f: Fields, prompt: tuple[Prompt, bool], **fields: Any) -> Judged:
    return Judged(line=f.record.line, prompt=prompt[0], prompt_given=prompt[1], **fields)


def prompt_or_placeholder(
    prompt_id: str, messages: list[dict[str, str]] | None, label: str, category: str, turns: int
) -> tuple[Prompt, bool]:
    """The record's prompt, or placeholder turns; and whether the record gave the text."""
    if messages:
        return make_prompt(prompt_id, category, messages), True
    return _placeholder_prompt(prompt_id, label, category, turns), False


def _placeholder_prompt(prompt_id: str, label: str, category: str, turns: int) -> Prompt:
    if turns == 1:
        texts = [f"(question {label} — text not provided)"]
    else:
        texts = [f"(question {label}, turn {t} — text not provided)" for t in range(1, turns + 1)]
    return make_prompt(prompt_id, category, [{"role": "user", "content": t} for t in texts])
