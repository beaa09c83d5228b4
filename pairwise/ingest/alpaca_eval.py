"""AlpacaEval's ``model_outputs.json``: records with ``instruction``, ``output``, ``generator``.

Each instruction becomes a one-turn prompt whose id (:func:`alpaca_eval_prompt_id`) is the same in
every model's file, so the outputs of several models meet on the same prompts.
"""

from __future__ import annotations

import hashlib

from ..store import Prompt
from .fields import Fields
from .reader import Problems, Record
from .texts import Response, ResponseFormat, make_prompt

ALPACA_EVAL_CATEGORY = "alpaca_eval"


def alpaca_eval_prompt_id(instruction: str) -> str:
    """The prompt id of an AlpacaEval instruction: stable across every model's outputs file."""
    return "ae-" + hashlib.sha256(instruction.encode("utf-8")).hexdigest()[:12]


def model_output_from(record: Record, problems: Problems) -> tuple[Prompt, Response] | None:
    f = Fields(record, problems)
    instruction = f.text("instruction")
    output = f.text("output")
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
