"""The formats reports and datasets are written in, by name and with what each one is.

Light to import on purpose: the command line lists these choices in ``--help`` without loading
pandas and pyarrow, which :mod:`pairwise.report` and :mod:`pairwise.export` need to write them.
"""

from __future__ import annotations

REPORT_FORMATS = ("json", "md", "html")

EXPORT_FORMATS: dict[str, str] = {
    "trl-conversational": (
        "TRL conversational preference format (JSON Lines): `prompt` is the conversation up to "
        "its last user turn as a list of `{role, content}` messages; `chosen` and `rejected` are "
        'each one message `[{"role": "assistant", "content": ...}]`.'
    ),
    "trl-standard": (
        "TRL standard preference format (JSON Lines): `prompt`, `chosen` and `rejected` are "
        'strings. The prompt is the conversation rendered as text ("\\n\\nHuman: ...\\n\\n'
        'Assistant: ...", a system message as a preamble) ending with "\\n\\nAssistant:"; '
        "`chosen` and `rejected` are the responses with one leading space, so that "
        "`prompt + chosen` is the full transcript."
    ),
    "hh-rlhf": (
        "Anthropic HH-RLHF style (JSON Lines): `chosen` and `rejected` are full transcripts "
        '"\\n\\nHuman: ...\\n\\nAssistant: ..." that differ only in the last assistant turn; a '
        'system message is a preamble before the first "\\n\\nHuman:".'
    ),
    "parquet": (
        "Apache Parquet with the fixed schema `PARQUET_SCHEMA`: the TRL conversational columns "
        "(`prompt`, `chosen`, `rejected` as lists of `{role, content}`) and every metadata field, "
        "`judgment_id` and `annotator` null unless one record is one judgment."
    ),
    "raw-jsonl": (
        "Raw judgments (JSON Lines): one line per judgment with every column of the judgments "
        "frame plus the prompt `messages` (a JSON string) and both responses' text."
    ),
    "raw-csv": "Raw judgments (CSV): the same columns as raw-jsonl.",
}
EXPORT_AGGREGATIONS: dict[str, str] = {
    "judgment": "one record per judgment",
    "majority": "one record per comparison, by majority vote of its judgments",
    "mean": "one record per comparison, by the sign of its mean score",
}
EXPORT_JUDGES: dict[str, str] = {
    "human": "judgments of people only",
    "model": "judgments of model judges only",
    "all": "judgments of people and model judges",
}
