"""AlpacaEval files: ``model_outputs.json`` (responses) and ``annotations.json`` (judgments).

Each instruction becomes a one-turn prompt whose id (:func:`alpaca_eval_prompt_id`) is the same in
every file, so the outputs of several models, and the judgments of them, meet on the same prompts.

An annotation judges ``output_1`` (of ``generator_1``, model A) against ``output_2`` (of
``generator_2``, model B): ``preference`` 1 prefers output 1, 2 output 2, 1.5 (or 0) is a draw,
anything between is a weighted judge's soft verdict (the probability that output 2 is better is
``preference - 1``), and null means not judged: left out and counted. The judge is ``annotator``
(default ``"alpaca_eval"``), a model judge.
"""

from __future__ import annotations

import hashlib
import json
import math

from ..store import Prompt
from .fields import Fields
from .judged import UNKNOWN_ORDER, Judged, JudgmentFormat, judged, soft_score
from .reader import Problems, Record, kind
from .texts import Response, ResponseFormat, make_prompt

ALPACA_EVAL_CATEGORY = "alpaca_eval"
ALPACA_EVAL_JUDGE = "alpaca_eval"
_ANNOTATION_FIELDS = ("preference", "instruction", "output_1", "output_2")


def alpaca_eval_prompt_id(instruction: str) -> str:
    """The prompt id of an AlpacaEval instruction: stable across every model's outputs file."""
    return "ae-" + hashlib.sha256(instruction.encode("utf-8")).hexdigest()[:12]


def model_output_from(record: Record, problems: Problems) -> tuple[Prompt, Response] | None:
    f = Fields(record, problems)
    instruction = f.text("instruction")
    output = f.output("output")
    generator = f.name("generator")
    category = f.name("dataset", required=False) or ALPACA_EVAL_CATEGORY
    if f.failed:
        return None
    prompt_id = alpaca_eval_prompt_id(instruction)
    prompt = make_prompt(prompt_id, category, [{"role": "user", "content": instruction}])
    return prompt, Response(prompt_id, generator, output)


def is_model_outputs(records: list[Record]) -> bool:
    return bool(records) and "instruction" in records[0].data and "prompt_id" not in records[0].data


MODEL_OUTPUTS = ResponseFormat(
    "AlpacaEval model outputs",
    recognises=is_model_outputs,
    read=model_output_from,
    response_field="output",
    prompt_field="instruction",
)


def annotation_from(f: Fields) -> Judged | None:
    """One AlpacaEval annotation: ``generator_1`` is model A, ``generator_2`` model B."""
    instruction = f.text("instruction")
    output_1, output_2 = f.output("output_1"), f.output("output_2")
    generator_1, generator_2 = f.name("generator_1"), f.name("generator_2")
    preference = f.number("preference", high=3.0)
    judge = f.name("annotator", required=False) or ALPACA_EVAL_JUDGE
    category = f.name("dataset", required=False) or ALPACA_EVAL_CATEGORY
    seconds = f.number("time_per_example")
    rationale = _raw_completion(f)
    if preference is not None and preference != 0 and not 1 <= preference <= 2:
        f.problem(
            "preference",
            f"must be from 1 (output_1 better) to 2 (output_2 better), 1.5 or 0 for a draw,"
            f" or null (not judged); not {preference!r}",
        )
    if f.failed:
        return None
    score, p_a = soft_score(0.5 if preference == 0 else 2 - preference)
    prompt_id = alpaca_eval_prompt_id(instruction)
    prompt = make_prompt(prompt_id, category, [{"role": "user", "content": instruction}])
    return judged(
        f,
        (prompt, True),
        study=None,
        model_a=generator_1,
        model_b=generator_2,
        text_a=output_1,
        text_b=output_2,
        annotator=judge,
        score=score,
        scale=3,
        scale_declared=False,
        shown_order=UNKNOWN_ORDER,  # AlpacaEval shuffles the sides and does not record them
        fields=_ANNOTATION_FIELDS,
        rationale=rationale,
        seconds=seconds,
        judge_kind="model",
        p_a=p_a,
    )


def _raw_completion(f: Fields) -> str:
    """The judge's raw answer, kept as the rationale: text as it is, an object as JSON."""
    value = f.record.data.get("raw_completion")
    if value is None or isinstance(value, str):
        return f.text("raw_completion", required=False, blank_ok=True) or ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    f.problem("raw_completion", f"must be a string or an object, not {kind(value)}")
    return ""


def _not_judged(record: Record) -> str | None:
    value = record.data.get("preference")
    missing = value is None or (record.from_csv and value == "")
    if missing or (isinstance(value, float) and math.isnan(value)):
        return "not judged (preference null)"
    return None


ANNOTATIONS = JudgmentFormat(
    "AlpacaEval annotations",
    recognises=lambda data: "preference" in data and "output_1" in data,
    read=annotation_from,
    left_out=_not_judged,
)
