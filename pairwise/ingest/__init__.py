"""Files in: prompts, model responses, and judgments made elsewhere, validated and written atomically.

Every importer reads and checks the whole file before it writes, reports up to 20 problems at
once (each with file, line and field), and writes the file in one transaction: a file with any
problem writes nothing. Re-importing a file is idempotent: rows already stored with the same
content count as ``unchanged``.

Files
-----
The extension picks the reader: ``.jsonl`` / ``.ndjson`` (one JSON object per line; blank lines
are skipped), ``.json`` (a JSON array of objects, or JSON lines), ``.csv`` (a header row, then
one record per row; an empty cell is a missing value). Files are UTF-8, with or without a byte
order mark; any other encoding is refused. Unknown fields are ignored. Identifiers (ids, model
and annotator names, categories) are stripped of surrounding whitespace; text is stored verbatim
(HTML and scripts are just text: the app escapes them). One text field holds at most 2,000,000
characters.

Prompts (``pairwise import prompts FILE``)
    ``id``: string, required, unique. ``category``: optional, default ``"uncategorized"``.
    Either ``prompt`` (a string: one user turn) or ``messages`` (a conversation in the OpenAI chat
    format: a list of ``{"role", "content"}`` with roles ``system``, ``user``, ``assistant``,
    ending with a user turn; in CSV, or anywhere, the list may be given as a JSON string).
    ``tags``: optional list of strings (in CSV separated by ``;``). The prompt's ``turns`` is its
    number of user turns.

Responses (``pairwise import responses FILE``)
    ``prompt_id`` (a stored prompt, or one in the same file), ``model``, ``response`` (non-empty).

AlpacaEval ``model_outputs.json`` (``pairwise import responses FILE``)
    Recognised by content: records with ``instruction``, ``output``, ``generator`` (optional
    ``dataset``). Each instruction becomes a one-turn prompt with id ``"ae-"`` + the first 12 hex
    digits of the SHA-256 of its UTF-8 text (the same across models' files), category ``dataset``
    (default ``"alpaca_eval"``); each output becomes the ``generator``'s response.

Judgments made elsewhere (``pairwise import judgments FILE [--study NAME]``)
    Chatbot Arena battles and MT-Bench human judgments, recognised by a ``winner`` field:
    ``model_a``, ``model_b``, ``winner`` (``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``),
    ``judge`` (a string, or a list of strings joined with ``/``), optional ``question_id``
    (string or integer), ``turn``, ``conversation_a`` / ``conversation_b`` (lists of
    ``{"role", "content"}``), ``category``, ``tstamp`` (Unix time). They map to a study on the
    3-point scale (``model_a`` +1, ``model_b`` -1, either tie 0) in which:

    - the prompt id is ``question_id``, with ``-turn<N>`` appended when ``turn`` is 2 or more
      (MT-Bench judges each turn of a question separately); without ``question_id``, ``"q-"`` + 12
      hex digits of the SHA-256 of the prompt messages. The prompt is ``conversation_a``'s (else
      ``conversation_b``'s) system and user turns up to user turn ``turn`` (all when absent; the
      models' earlier answers differ, so they are left out); without a conversation, ``turn``
      placeholder user turns ``"(question <id> — text not provided)"``;
    - each response is the assistant's reply to that user turn in its conversation; without a
      conversation, the placeholder ``"(response of <model> — text not provided)"``. A placeholder
      never replaces a stored text;
    - the record's ``model_a`` is taken as the left side: Chatbot Arena and the MT-Bench judging
      page show Model A on the left, so ``shown_order`` is ``"AB"`` relative to the record (and
      ``"BA"`` when the pair is stored the other way round);
    - ``judge`` becomes an annotator; ``tstamp`` the judgment's ``created_at``.

    Our own judgments (the columns of the judgments frame, ``docs/judgments-frame.md``), recognised
    by a ``score`` or ``outcome`` field: ``prompt_id``, ``model_a``, ``model_b``, ``annotator``,
    ``score`` (oriented to ``model_a``) or else ``outcome`` (``win`` / ``tie`` / ``loss``: +1 / 0 /
    -1 on the 3-point scale); optional ``study``, ``scale`` (needed with ``score`` to create a
    study), ``shown_order`` (default ``"AB"``), ``rationale``, ``seconds``, ``created_at``,
    ``category``, and texts ``messages`` or ``prompt``, ``response_a``, ``response_b`` (else
    placeholders, as above).

    The study is ``--study`` if given, else the record's ``study``, else the file name without its
    extension. A new study gets the records' scale, an overlap equal to the most annotators of one
    comparison, and its judged pairs as a ``list`` plan; an existing study keeps its settings and
    its scale must fit the scores. Each model pair keeps one orientation in a study (the study's,
    else the first the file names): the same pair on the same prompt in either order is one
    comparison, with the score negated and the shown order swapped. An annotator judges a
    comparison once: a repeat with the same score is kept once, with another score it is an error.

Study files (``prompts/demo_study.json``; see :func:`read_study_spec`)
    A JSON object: ``name``, ``models``, optional ``pairs``, ``overlap``, ``scale``, ``question``,
    ``gold_rate``, ``prompts`` (ids), ``seed``, ``guidelines`` (a Markdown file beside it) and
    ``gold`` (gold items); ``pairwise study create`` takes the same settings as options.

Layout
------
:mod:`.reader` turns a file into records with their lines and collects problems;
:mod:`.fields` checks one record's fields; :mod:`.texts` keeps prompts and responses once per
id and checks them against the store. Each outside format is one module that only reads
records: :mod:`.own` (our prompts, responses and judgments), :mod:`.alpaca_eval`,
:mod:`.arena` (Chatbot Arena battles, MT-Bench human judgments). :mod:`.text_files` and
:mod:`.judgments` write what the formats read; :mod:`.study_files` sets up studies. A new
format is a module with a :class:`~.texts.ResponseFormat` or :class:`~.judged.JudgmentFormat`,
listed in ``RESPONSE_FORMATS`` or ``JUDGMENT_FORMATS``.
"""

from __future__ import annotations

from .alpaca_eval import ALPACA_EVAL_CATEGORY, alpaca_eval_prompt_id
from .arena import WINNER_SCORES
from .fields import ROLES
from .judgments import IMPORTED_QUESTION, JUDGMENT_FORMATS, import_judgments
from .own import OUTCOME_SCORES
from .reader import MAX_FIELD_CHARS, MAX_PROBLEMS, Imported, IngestError, Problem
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
    "parse_pairs",
    "read_prompt_ids",
    "read_prompts",
    "read_study_spec",
]
