"""Files in: prompts, model responses, and judgments made elsewhere, validated and written atomically.

Every importer reads and checks the whole file before it writes, reports up to 20 problems at
once (each with file, line and field), and writes the file in one transaction: a file with any
problem writes nothing. Re-importing a file is idempotent: rows already stored with the same
content count as ``unchanged``.

Every format, with an example, and the rules common to all are in ``docs/formats.md``: our own
prompts, responses and judgments; AlpacaEval ``model_outputs.json`` and ``annotations.json``;
Chatbot Arena battles, MT-Bench human judgments and FastChat's pair judgments; scores of
responses (a reward model's, say); study files.

Layout
------
:mod:`.reader` turns a file into records with their lines and collects problems;
:mod:`.fields` checks one record's fields; :mod:`.texts` keeps prompts and responses once per
id and checks them against the store. Each outside format is one module that only reads
records: :mod:`.own` (our prompts, responses and judgments), :mod:`.alpaca_eval`,
:mod:`.arena` (Chatbot Arena battles, MT-Bench human judgments), :mod:`.mt_bench` (FastChat's
pair judgments), :mod:`.scores` (scores of responses). :mod:`.text_files` and :mod:`.judgments`
write what the formats read; :mod:`.study_files` sets up studies. A new format is a module with a
:class:`~.texts.ResponseFormat` or :class:`~.judged.JudgmentFormat`,
listed in ``RESPONSE_FORMATS`` or ``JUDGMENT_FORMATS``.
"""

from __future__ import annotations

from .alpaca_eval import ALPACA_EVAL_CATEGORY, alpaca_eval_prompt_id
from .arena import WINNER_SCORES
from .fields import ROLES
from .judgments import IMPORTED_QUESTION, JUDGMENT_FORMATS, import_judgments
from .own import OUTCOME_SCORES
from .reader import MAX_FIELD_CHARS, MAX_PROBLEMS, Imported, IngestError, Problem
from .scores import import_scores
from .study_files import (
    StudySpec,
    create_study,
    parse_pairs,
    read_prompt_ids,
    read_study_spec,
)
from .text_files import RESPONSE_FORMATS, import_prompts, import_responses, read_prompts
from .texts import DEFAULT_CATEGORY

__all__ = [
    "ALPACA_EVAL_CATEGORY",
    "DEFAULT_CATEGORY",
    "IMPORTED_QUESTION",
    "JUDGMENT_FORMATS",
    "MAX_FIELD_CHARS",
    "MAX_PROBLEMS",
    "OUTCOME_SCORES",
    "RESPONSE_FORMATS",
    "ROLES",
    "WINNER_SCORES",
    "Imported",
    "IngestError",
    "Problem",
    "StudySpec",
    "alpaca_eval_prompt_id",
    "create_study",
    "import_judgments",
    "import_prompts",
    "import_responses",
    "import_scores",
    "parse_pairs",
    "read_prompt_ids",
    "read_prompts",
    "read_study_spec",
]
