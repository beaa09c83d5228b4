"""Preference datasets out: TRL (standard and conversational), HH-RLHF, Parquet, raw judgments.

An export is three steps, each a function usable on its own:

1. :func:`preference_records` turns the judgments frame into preference records: one per
   judgment, or one per comparison by majority vote or mean score, each with ``tie``,
   ``agreement``, ``score`` and ``margin`` fields. Pure numpy over the frame; no text.
2. :func:`format_records` joins the prompt and the two responses in the shape a trainer reads.
3. :func:`write_export` writes the files atomically (temp file in the same folder, then
   ``os.replace``), split by prompt when asked, with a dataset card next to them.

:func:`build_export` and :func:`export_dataset` run the steps on a store. ``docs/exports.md``
documents every format, field and rule (vote ties, margins, the split).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.frame import credits, describe_row, require_columns

from . import progress
from .escape import csv_text, markdown_text
from .files import replace_all
from .formats import EXPORT_AGGREGATIONS as AGGREGATIONS
from .formats import EXPORT_FORMATS as FORMATS
from .formats import EXPORT_JUDGES as JUDGES
from .store import PASS_REASONS, Store, now_iso

SUFFIXES = {
    "trl-conversational": ".jsonl",
    "trl-standard": ".jsonl",
    "hh-rlhf": ".jsonl",
    "parquet": ".parquet",
    "raw-jsonl": ".jsonl",
    "raw-csv": ".csv",
}
RAW_FORMATS = ("raw-jsonl", "raw-csv")
TEXT_COLUMNS = ("messages", "response_a", "response_b")
"""The text a raw export adds after the judgments frame's columns."""
FLAG_REASONS = tuple(r for r in PASS_REASONS if r != "skip")
SPLITS = ("train", "test")

# Text markers of the HH-RLHF transcripts (Bai et al. 2022), also used by the standard format.
HUMAN = "\n\nHuman: "
ASSISTANT = "\n\nAssistant: "
_ROLES = ("system", "user", "assistant")
_TIE_TOLERANCE = 1e-12

_MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])
_MESSAGES = pa.list_(_MESSAGE)
PARQUET_SCHEMA = pa.schema(
    [
        pa.field("prompt", _MESSAGES, nullable=False),
        pa.field("chosen", _MESSAGES, nullable=False),
        pa.field("rejected", _MESSAGES, nullable=False),
        pa.field("study", pa.string(), nullable=False),
        pa.field("comparison_id", pa.int64(), nullable=False),
        pa.field("prompt_id", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("judgment_id", pa.int64()),
        pa.field("annotator", pa.string()),
        pa.field("chosen_model", pa.string(), nullable=False),
        pa.field("rejected_model", pa.string(), nullable=False),
        pa.field("tie", pa.bool_(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
        pa.field("margin", pa.float64(), nullable=False),
        pa.field("p_chosen", pa.float64(), nullable=False),
        pa.field("n_judgments", pa.int64(), nullable=False),
        pa.field("agreement", pa.float64(), nullable=False),
    ]
)
"""The Parquet export's schema; a file always has exactly these columns, types and nullability."""

# Record fields after the text, in file order; judgment_id and annotator only per judgment.
META_COLUMNS = (
    "study",
    "comparison_id",
    "prompt_id",
    "category",
    "judgment_id",
    "annotator",
    "chosen_model",
    "rejected_model",
    "tie",
    "score",
    "margin",
    "p_chosen",
    "n_judgments",
    "agreement",
)
_PER_JUDGMENT_ONLY = ("judgment_id", "annotator")
_NEEDED = ("judgment_id", "study", "comparison_id", "prompt_id", "model_a", "model_b", "score")


# -- options ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how; every field is checked on construction.

    ``margins`` maps a score's strength ``|score|`` (1 = slightly better ... 3 = much better on
    the 7-point scale) to the ``margin`` value written; ``None`` writes ``|score|`` itself. The
    split is by prompt: ``test_fraction`` of the prompts (drawn by a hash of ``seed`` and the
    prompt id) go to the test file. Aggregation options do not apply to the raw formats.
    ``judges`` keeps the judgments of people (``"human"``), of model judges (``"model"``) or
    of both (``"all"``).
    ``study=None`` exports every study in use: set-apart studies (the demo, once sign-in is on)
    are left out unless named.
    """

    format: str = "trl-conversational"
    aggregation: str = "majority"
    keep_ties: bool = False
    min_agreement: float = 0.0
    margins: Mapping[int, float] | None = None
    study: str | None = None
    exclude_flagged: bool = True
    include_excluded: bool = False
    include_gold: bool = True
    test_fraction: float = 0.0
    seed: int = 0
    judges: str = "human"

    def __post_init__(self) -> None:
        _one_of("format", self.format, FORMATS)
        _one_of("aggregation", self.aggregation, AGGREGATIONS)
        _one_of("judges", self.judges, JUDGES)
        if not 0 <= self.min_agreement <= 1:
            raise ValueError(f"min_agreement must lie between 0 and 1, not {self.min_agreement!r}")
        if not 0 <= self.test_fraction < 1:
            raise ValueError(
                f"test_fraction must be at least 0 and below 1, not {self.test_fraction!r}"
            )
        if self.margins is not None:
            check_margins(self.margins)

    @property
    def is_raw(self) -> bool:
        return self.format in RAW_FORMATS


def _one_of(name: str, value: str, allowed: Collection[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; not {value!r}")


def check_margins(margins: Mapping[int, float]) -> dict[int, float]:
    """Return ``margins`` as a plain dict, or raise ``ValueError`` naming the bad entry."""
    out: dict[int, float] = {}
    for level, value in margins.items():
        if isinstance(level, bool) or not isinstance(level, int | np.integer) or level < 1:
            raise ValueError(f"margins: level {level!r} must be a whole number of at least 1")
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ValueError(f"margins: value for level {level} must be a number, not {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"margins: value for level {level} must be finite and >= 0")
        out[int(level)] = float(value)
    return out


def parse_margins(text: str) -> dict[int, float]:
    """Read ``"1=0.33,2=0.67,3=1"`` (level=margin pairs) as a margins map."""
    margins: dict[int, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        level, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            margins[int(level)] = float(value)
        except ValueError:
            raise ValueError(
                f"margins: {item!r} is not level=value (for example 1=0.5,2=1,3=2)"
            ) from None
    return check_margins(margins)


# -- votes and records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    """Preference records (see :func:`preference_records`) and what the filters dropped."""

    records: pd.DataFrame
    dropped_by_agreement: int
    dropped_ties: int


def comparison_votes(
    judgments: pd.DataFrame, margins: Mapping[int, float] | None = None
) -> pd.DataFrame:
    """One row per comparison: its vote counts, majority outcome, agreement, mean score, margins.

    ``majority`` is the outcome (``win``/``tie``/``loss`` for model A) most judgments gave; a
    vote whose top count is shared (1 win, 1 loss; 1 win, 1 tie, 1 loss) is a ``tie``.
    ``agreement`` is the share of judgments giving the most common outcome, defined even when
    that outcome is shared. ``majority_margin`` is the mean margin value over the judgments on
    the winning side (0 for a tie); ``mean_value`` is the mean signed margin value, which with
    the default margins is the mean score; ``mean_p_a`` the mean probability credited to model A
    (``p_a``, or 1 / 0.5 / 0 per win / tie / loss).
    """
    return _votes(judgments, margins)[0]


def _votes(
    judgments: pd.DataFrame, margins: Mapping[int, float] | None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The comparisons' votes, each judgment's comparison (a code), and each judgment's credit."""
    require_columns(judgments, _NEEDED, needed_by="preference export")
    score = _integral_scores(judgments)
    codes, comparison_ids = pd.factorize(judgments["comparison_id"], sort=True)
    first = _first_rows(codes, len(comparison_ids))
    _check_constant(judgments, codes, first)
    values = _margin_values(judgments, score, margins)
    sign = np.sign(score)
    credit = credits(judgments, sign)
    size = len(comparison_ids)

    def total(weights: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=weights, minlength=size)

    n = np.bincount(codes, minlength=size)
    counts = np.stack([total(sign < 0), total(sign == 0), total(sign > 0)], axis=1).astype(int)
    top = counts.max(axis=1)
    shared = (counts == top[:, None]).sum(axis=1) > 1
    majority = np.where(shared, 1, counts.argmax(axis=1))  # 0 loss, 1 tie, 2 win
    win, loss = majority == 2, majority == 0
    side_value = np.where(win, total(np.where(sign > 0, values, 0.0)), 0.0)
    side_value += np.where(loss, total(np.where(sign < 0, values, 0.0)), 0.0)
    side_count = np.where(win, counts[:, 2], np.where(loss, counts[:, 0], 1))
    at_first = judgments.iloc[first]
    votes = pd.DataFrame(
        {
            "comparison_id": np.asarray(comparison_ids),
            "study": at_first["study"].array,
            "prompt_id": at_first["prompt_id"].array,
            "category": (
                at_first["category"].array
                if "category" in judgments.columns
                else np.full(size, "uncategorized", dtype=object)
            ),
            "model_a": at_first["model_a"].array,
            "model_b": at_first["model_b"].array,
            "n_judgments": n,
            "wins": counts[:, 2],
            "ties": counts[:, 1],
            "losses": counts[:, 0],
            "majority": pd.Categorical.from_codes(majority, categories=["loss", "tie", "win"]),
            "agreement": top / n,
            "mean_score": total(score) / n,
            "majority_margin": side_value / side_count,
            "mean_value": total(sign * values) / n,
            "mean_p_a": total(credit) / n,
        }
    )
    return votes, codes, credit


def _integral_scores(judgments: pd.DataFrame) -> np.ndarray:
    column = judgments["score"]
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise ValueError(f"column 'score' must hold numbers, not {column.dtype}")
    values = column.to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
    if bad.size:
        raise ValueError(
            f"{describe_row(judgments, bad[0])}: score {_scalar(column.iloc[bad[0]])!r} is not a whole number"
        )
    return values.astype(np.int64)


def _scalar(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, for error messages that read naturally."""
    return value.item() if isinstance(value, np.generic) else value


def _check_constant(judgments: pd.DataFrame, codes: np.ndarray, first: np.ndarray) -> None:
    """A comparison is one prompt and one pair of models; rows that say otherwise are an error."""
    for column in ("study", "prompt_id", "model_a", "model_b"):
        value_codes = pd.factorize(judgments[column])[0]
        differ = np.flatnonzero(value_codes != value_codes[first][codes])
        if differ.size:
            at = differ[0]
            earlier = judgments[column].iloc[first[codes[at]]]
            raise ValueError(
                f"{describe_row(judgments, at)}: comparison_id "
                f"{_scalar(judgments['comparison_id'].iloc[at])!r} has {column} "
                f"{_scalar(judgments[column].iloc[at])!r} here and {_scalar(earlier)!r} in an earlier row"
            )


def _margin_values(
    judgments: pd.DataFrame, score: np.ndarray, margins: Mapping[int, float] | None
) -> np.ndarray:
    """The margin value of each judgment: ``margins[|score|]``, or ``|score|`` by default."""
    levels = np.abs(score)
    top = int(levels.max(initial=0))
    if margins is None:
        return levels.astype(float)
    table = np.full(top + 1, np.nan)
    table[0] = 0.0
    for level, value in check_margins(margins).items():
        if level <= top:
            table[level] = value
    values = table[levels]
    missing = np.flatnonzero(np.isnan(values))
    if missing.size:
        at = missing[0]
        raise ValueError(
            f"margins has no value for level {levels[at]} (|score| of "
            f"{describe_row(judgments, at)}); give one for every level 1..{top}"
        )
    return values


def preference_records(
    judgments: pd.DataFrame,
    *,
    aggregation: str = "majority",
    keep_ties: bool = False,
    min_agreement: float = 0.0,
    margins: Mapping[int, float] | None = None,
) -> Preferences:
    """Preference records from a judgments frame, filtered by agreement and ties.

    ``aggregation``: ``"judgment"`` (each judgment a record), ``"majority"`` (the comparison's
    majority vote, see :func:`comparison_votes`) or ``"mean"`` (the sign of the mean signed
    margin value; with default margins, of the mean score). Each record says whether model A is
    the chosen one (``a_chosen``) and carries ``tie`` (no side preferred: ``chosen`` is then model
    A, an arbitrary choice), ``score`` (mean score oriented to the chosen model), ``margin``,
    ``p_chosen`` (the soft label: the probability that ``chosen`` is the better response, from the
    verdicts' ``p_a``), ``n_judgments`` and ``agreement`` of its comparison. Comparisons whose agreement is below
    ``min_agreement`` are dropped first, then ties unless ``keep_ties``.
    """
    _one_of("aggregation", aggregation, AGGREGATIONS)
    if not 0 <= min_agreement <= 1:
        raise ValueError(f"min_agreement must lie between 0 and 1, not {min_agreement!r}")
    votes, codes, credit = _votes(judgments, margins)
    if aggregation == "judgment":
        score = _integral_scores(judgments)
        needed = ["study", "comparison_id", "prompt_id", "category", "model_a", "model_b"]
        base = votes[[*needed, "n_judgments", "agreement"]].iloc[codes].reset_index(drop=True)
        tie = score == 0
        a_chosen = score >= 0
        oriented = np.abs(score).astype(float)
        margin = _margin_values(judgments, score, margins)
        p_a = credit
        judgment_id = pd.array(judgments["judgment_id"].to_numpy(), dtype="Int64")
        annotator = (
            judgments["annotator"].array
            if "annotator" in judgments.columns
            else np.full(len(judgments), None, dtype=object)
        )
    else:
        base = votes
        majority = votes["majority"].to_numpy()
        if aggregation == "majority":
            tie = majority == "tie"
            a_chosen = majority != "loss"
            margin = votes["majority_margin"].to_numpy()
        else:
            value = votes["mean_value"].to_numpy()
            tie = np.abs(value) <= _TIE_TOLERANCE
            a_chosen = tie | (value > 0)
            margin = np.where(tie, 0.0, np.abs(value))
        oriented = votes["mean_score"].to_numpy() * np.where(a_chosen, 1.0, -1.0)
        p_a = votes["mean_p_a"].to_numpy()
        judgment_id = pd.array([pd.NA] * len(votes), dtype="Int64")
        annotator = np.full(len(votes), None, dtype=object)
    chosen_model, rejected_model = _chosen_and_rejected(base, a_chosen)
    records = pd.DataFrame(
        {
            "study": base["study"].array,
            "comparison_id": base["comparison_id"].array,
            "prompt_id": base["prompt_id"].array,
            "category": base["category"].array,
            "judgment_id": judgment_id,
            "annotator": annotator,
            "model_a": base["model_a"].array,
            "model_b": base["model_b"].array,
            "a_chosen": a_chosen,
            "chosen_model": chosen_model,
            "rejected_model": rejected_model,
            "tie": tie,
            "score": oriented,
            "margin": np.asarray(margin, dtype=float),
            "p_chosen": np.where(a_chosen, p_a, 1 - p_a),
            "n_judgments": base["n_judgments"].array,
            "agreement": base["agreement"].array,
        }
    )
    agreed = records["agreement"].to_numpy() >= min_agreement - _TIE_TOLERANCE
    dropped_ties = 0 if keep_ties else int((agreed & tie).sum())
    keep = agreed if keep_ties else agreed & ~tie
    return Preferences(
        records=records[keep].reset_index(drop=True),
        dropped_by_agreement=int((~agreed).sum()),
        dropped_ties=dropped_ties,
    )


def _chosen_and_rejected(
    base: pd.DataFrame, a_chosen: np.ndarray
) -> tuple[pd.Categorical, pd.Categorical]:
    """The chosen and rejected model names, as categoricals over the few models there are."""
    n = len(base)
    codes, names = pd.factorize(pd.concat([base["model_a"], base["model_b"]], ignore_index=True))
    code_a, code_b = codes[:n], codes[n:]
    return (
        pd.Categorical.from_codes(np.where(a_chosen, code_a, code_b), categories=names),
        pd.Categorical.from_codes(np.where(a_chosen, code_b, code_a), categories=names),
    )


def flagged_comparison_ids(passes: pd.DataFrame, *, ignore_annotators: Collection[str] = ()) -> set:
    """Comparisons someone flagged unsafe, broken or unanswerable (a plain skip is no flag).

    Flags by ``ignore_annotators`` (annotators excluded from the export) do not count.
    """
    require_columns(passes, ("comparison_id", "reason"), needed_by="flagged_comparison_ids")
    flagged = passes["reason"].isin(FLAG_REASONS)
    if ignore_annotators and "annotator" in passes.columns:
        flagged &= ~passes["annotator"].isin(list(ignore_annotators))
    return set(passes.loc[flagged, "comparison_id"].tolist())


def split_by_prompt(
    prompt_ids: pd.Series | Sequence[str], test_fraction: float, seed: int = 0
) -> np.ndarray:
    """For each row, whether its prompt belongs to the test split.

    A prompt goes to test when a hash of ``seed`` and its id, read as a number in [0, 1), falls
    below ``test_fraction``. The choice depends on nothing but the seed and the id: every record
    of a prompt lands on the same side, and a prompt keeps its side when the data grows, so a later
    export never moves a test prompt into training.
    """
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be at least 0 and below 1, not {test_fraction!r}")
    return _in_test(coded(pd.Series(prompt_ids, dtype=object)), test_fraction, seed)


def _in_test(prompt_ids: Column, test_fraction: float, seed: int) -> np.ndarray:
    draws = np.array([_unit_hash(seed, str(p)) for p in prompt_ids.values[:-1]] + [1.0])
    return draws[prompt_ids.codes] < test_fraction


def _unit_hash(seed: int, key: str) -> float:
    digest = hashlib.sha256(f"{seed}\x00{key}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


# -- text ----------------------------------------------------------------------------------------


def prompt_messages(messages: Any, *, prompt_id: str = "?") -> list[dict[str, str]]:
    """The conversation up to and including its last user turn, as ``{role, content}`` dicts.

    Raises ``ValueError`` naming the prompt and message for anything a trainer could not read.
    """
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"prompt {prompt_id!r}: messages must be a non-empty list")
    out = []
    for i, message in enumerate(messages, start=1):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if role not in _ROLES:
            raise ValueError(
                f"prompt {prompt_id!r}: message {i} has role {role!r}; exports know "
                f"{', '.join(_ROLES)}"
            )
        if not isinstance(content, str):
            raise ValueError(f"prompt {prompt_id!r}: message {i} has no text content")
        out.append({"role": role, "content": content})
    users = [i for i, m in enumerate(out) if m["role"] == "user"]
    if not users:
        raise ValueError(f"prompt {prompt_id!r}: messages have no user turn")
    return out[: users[-1] + 1]


def render_transcript(messages: Sequence[Mapping[str, str]], *, prompt_id: str = "?") -> str:
    """The conversation as HH-RLHF text: ``"\\n\\nHuman: ...\\n\\nAssistant: ..."``.

    System messages at the start become a preamble before the first ``"\\n\\nHuman:"`` (where
    text-completion chat models took their system prompt); a system message later on has no
    place in this format and raises ``ValueError``.
    """
    preamble: list[str] = []
    turns: list[str] = []
    for i, message in enumerate(messages, start=1):
        if message["role"] == "system":
            if turns:
                raise ValueError(
                    f"prompt {prompt_id!r}: message {i} is a system message after the "
                    "conversation started; text transcripts only take one at the start"
                )
            preamble.append(message["content"])
        else:
            marker = HUMAN if message["role"] == "user" else ASSISTANT
            turns.append(marker + message["content"])
    return "\n\n".join(preamble) + "".join(turns)


def _load_messages(text: Any, prompt_id: str) -> list[dict[str, str]]:
    try:
        messages = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as e:
        raise ValueError(f"prompt {prompt_id!r}: messages is not valid JSON ({e})") from None
    return prompt_messages(messages, prompt_id=prompt_id)


# -- columns -------------------------------------------------------------------------------------


class Column(NamedTuple):
    """A column held as its distinct values and, per row, the position of the row's value.

    ``codes`` are int32; ``values`` ends with ``None``, so that code ``-1`` reads as null. A text repeated across
    records (a prompt in many comparisons, a response judged three times) is held and encoded
    once, which is what keeps a million-record export fast and small.
    """

    codes: np.ndarray
    values: np.ndarray

    def take(self, rows: Any = slice(None)) -> np.ndarray:
        """The values of ``rows`` (all rows by default), nulls as ``None``."""
        return self.values[self.codes[rows]]


def _objects(items: Sequence[Any]) -> np.ndarray:
    """A 1-d object array of ``items`` (``np.asarray`` would turn lists of lists into 2-d)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def coded(column: pd.Series | np.ndarray | pd.api.extensions.ExtensionArray) -> Column:
    """``column`` as a :class:`Column`; missing values (None, NaN, NA) become null."""
    codes, uniques = pd.factorize(column)
    return Column(codes.astype(np.int32), _objects([*uniques.tolist(), None]))


def _first_rows(codes: np.ndarray, size: int) -> np.ndarray:
    """For each code ``0..size-1``, the first row that has it."""
    first = np.empty(size, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return first


def _count_distinct(codes: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(codes[codes >= 0]))) if len(codes) else 0


def _by_identity(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``values`` by object identity, and the row where each object first occurs.

    Texts read from the store are shared objects (one per prompt or response), so identity finds
    the distinct ones without hashing every long string; equal texts that are separate objects
    just stay separate, which is still correct.
    """
    ids = np.fromiter(map(id, values), dtype=np.uint64, count=len(values))
    codes, uniques = pd.factorize(ids)
    return codes, _first_rows(codes, len(uniques))


def _text_positions(records: pd.DataFrame, texts: pd.DataFrame) -> np.ndarray:
    """Row of ``texts`` for each record, by ``comparison_id``."""
    require_columns(
        texts, ("comparison_id", "messages", "response_a", "response_b"), needed_by="export texts"
    )
    index = pd.Index(texts["comparison_id"])
    if not index.is_unique:
        dup = index[index.duplicated()][0]
        raise ValueError(f"texts: comparison_id {_scalar(dup)!r} appears more than once")
    positions = index.get_indexer(records["comparison_id"])
    missing = np.flatnonzero(positions < 0)
    if missing.size:
        raise ValueError(
            f"texts: no prompt and responses for comparison_id "
            f"{_scalar(records['comparison_id'].iloc[missing[0]])!r}"
        )
    return positions


def formatted_columns(records: pd.DataFrame, texts: pd.DataFrame, fmt: str) -> dict[str, Column]:
    """Records joined to their text, as the columns of format ``fmt`` in file order.

    ``texts`` has one row per comparison: ``comparison_id``, ``messages`` (JSON text or a list),
    ``response_a`` and ``response_b`` (:meth:`pairwise.store.Store.comparison_texts`). Each
    prompt is rendered once, and each response once per prompt it answers, however many records
    share it. ``parquet`` gives the conversational columns plus every metadata field.
    """
    _one_of("format", fmt, [f for f in FORMATS if f not in RAW_FORMATS])
    positions = _text_positions(records, texts)
    positions, used = pd.factorize(positions, sort=True)
    sub = texts.iloc[used].reset_index(drop=True)
    names = sub["prompt_id"] if "prompt_id" in sub.columns else sub["comparison_id"]
    messages = sub["messages"].to_numpy(dtype=object)
    message_codes, first = _by_identity(messages)
    message_codes = message_codes.astype(np.int32)
    prompts = [_load_messages(messages[i], str(names.iat[i])) for i in first]
    responses = np.concatenate(
        [sub["response_a"].to_numpy(dtype=object), sub["response_b"].to_numpy(dtype=object)]
    )
    lacking = np.flatnonzero(pd.isna(responses))
    if lacking.size:
        at = int(lacking[0]) % len(sub)
        raise ValueError(
            f"texts: comparison_id {_scalar(sub['comparison_id'].iat[at])!r} lacks a response"
        )
    prompt_of = np.concatenate([message_codes, message_codes]).astype(np.int64)
    text_codes, _ = _by_identity(responses)
    response_codes, uniques = pd.factorize(prompt_of * (text_codes.max(initial=0) + 1) + text_codes)
    response_first = _first_rows(response_codes, len(uniques))
    response_codes = response_codes.astype(np.int32)
    answer = responses[response_first]
    answered = prompt_of[response_first]
    if fmt in ("trl-conversational", "parquet"):
        prompt_values = prompts
        response_values = [[{"role": "assistant", "content": t}] for t in answer]
    else:
        rendered = [
            render_transcript(p, prompt_id=str(names.iat[i]))
            for p, i in zip(prompts, first, strict=True)
        ]
        if fmt == "trl-standard":
            prompt_values = [r + ASSISTANT.rstrip(" ") for r in rendered]
            response_values = [" " + t for t in answer]
        else:
            prompt_values = None
            response_values = [
                rendered[p] + ASSISTANT + t for p, t in zip(answered, answer, strict=True)
            ]
    m = len(sub)
    a_chosen = records["a_chosen"].to_numpy(dtype=bool)
    columns: dict[str, Column] = {}
    if prompt_values is not None:
        columns["prompt"] = Column(message_codes[positions], _objects([*prompt_values, None]))
    responses_column = _objects([*response_values, None])
    a_rows, b_rows = positions, positions + m
    columns["chosen"] = Column(response_codes[np.where(a_chosen, a_rows, b_rows)], responses_column)
    columns["rejected"] = Column(
        response_codes[np.where(a_chosen, b_rows, a_rows)], responses_column
    )
    keep_ids = fmt == "parquet" or bool(records["judgment_id"].notna().any())
    for name in META_COLUMNS:
        if keep_ids or name not in _PER_JUDGMENT_ONLY:
            columns[name] = coded(records[name])
    return columns


def raw_columns(judgments: pd.DataFrame, texts: pd.DataFrame) -> dict[str, Column]:
    """Every column of the judgments frame, then each judgment's ``messages`` and responses."""
    positions = _text_positions(judgments, texts)
    columns = {str(name): coded(judgments[name]) for name in judgments.columns}
    for name in TEXT_COLUMNS:
        text = coded(texts[name])
        columns[name] = Column(text.codes[positions], text.values)
    return columns


def columns_frame(columns: Mapping[str, Column], rows: Any = slice(None)) -> pd.DataFrame:
    """Columns (or some ``rows`` of them) as a DataFrame of plain Python values."""
    return pd.DataFrame(
        {name: pd.Series(c.take(rows), dtype=object) for name, c in columns.items()}
    )


def format_records(records: pd.DataFrame, texts: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """:func:`formatted_columns` as a DataFrame: what each line or row of the file holds."""
    return columns_frame(formatted_columns(records, texts, fmt))


# -- building and writing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    """An export ready to write: its columns, which rows are test rows, and its counts."""

    options: ExportOptions
    columns: dict[str, Column]
    is_test: np.ndarray
    counts: dict[str, int]
    models: pd.DataFrame
    created_at: str = field(default_factory=now_iso)

    def __len__(self) -> int:
        return len(self.is_test)

    def parts(self) -> dict[str, np.ndarray]:
        """Rows of each file: ``{"all": ...}``, or ``{"train": ..., "test": ...}`` when split."""
        if self.options.test_fraction == 0:
            return {"all": np.arange(len(self))}
        return {"train": np.flatnonzero(~self.is_test), "test": np.flatnonzero(self.is_test)}

    def frame(self, rows: Any = slice(None)) -> pd.DataFrame:
        """The records (or some ``rows``) as they will be written, for previews and checks."""
        return columns_frame(self.columns, rows)


def prepare_export(
    judgments: pd.DataFrame,
    texts: pd.DataFrame,
    options: ExportOptions,
    *,
    flagged: Collection[int] = (),
) -> Export:
    """Everything :func:`write_export` needs, from frames alone (no store, no files).

    ``judgments`` is already restricted to the study, annotators and gold setting wanted;
    ``flagged`` comparisons are dropped when ``options.exclude_flagged``.
    """
    require_columns(judgments, _NEEDED, needed_by="prepare_export")
    other_judges = 0
    if options.judges != "all" and "judge_kind" in judgments.columns:
        kept = (judgments["judge_kind"] == options.judges).to_numpy()
        other_judges = int((~kept).sum())
        judgments = judgments[kept].reset_index(drop=True)
    counts = {
        "other_judges": other_judges,
        "judgments": len(judgments),
        "comparisons": int(judgments["comparison_id"].nunique()),
        "prompts": int(judgments["prompt_id"].nunique()),
        "flagged_comparisons": 0,
        "flagged_judgments": 0,
    }
    if options.exclude_flagged and flagged:
        drop = judgments["comparison_id"].isin(list(flagged)).to_numpy()
        counts["flagged_comparisons"] = int(judgments.loc[drop, "comparison_id"].nunique())
        counts["flagged_judgments"] = int(drop.sum())
        judgments = judgments[~drop].reset_index(drop=True)
    if options.is_raw:
        columns = raw_columns(judgments, texts)
        models = _model_counts(
            {"as_model_a": judgments["model_a"], "as_model_b": judgments["model_b"]}
        )
    else:
        prefs = preference_records(
            judgments,
            aggregation=options.aggregation,
            keep_ties=options.keep_ties,
            min_agreement=options.min_agreement,
            margins=options.margins,
        )
        records = prefs.records
        counts["dropped_by_agreement"] = prefs.dropped_by_agreement
        counts["dropped_ties"] = prefs.dropped_ties
        counts["kept_ties"] = int(records["tie"].sum())
        columns = formatted_columns(records, texts, options.format)
        tied = records[records["tie"]]
        decided = records[~records["tie"]]
        models = _model_counts(
            {
                "chosen": decided["chosen_model"],
                "rejected": decided["rejected_model"],
                "tie": pd.concat([tied["model_a"], tied["model_b"]]),
            }
        )
    prompt = columns["prompt_id"]
    is_test = _in_test(prompt, options.test_fraction, options.seed)
    counts["records"] = len(is_test)
    counts["record_comparisons"] = _count_distinct(columns["comparison_id"].codes)
    counts["record_prompts"] = _count_distinct(prompt.codes)
    if options.test_fraction:
        for name, rows in (("train", ~is_test), ("test", is_test)):
            counts[f"{name}_records"] = int(rows.sum())
            counts[f"{name}_prompts"] = _count_distinct(prompt.codes[rows])
    return Export(options=options, columns=columns, is_test=is_test, counts=counts, models=models)


def _model_counts(columns: Mapping[str, pd.Series]) -> pd.DataFrame:
    table = pd.DataFrame(
        {name: pd.Series(values).value_counts() for name, values in columns.items()}
    )
    table = table.fillna(0).astype(int)
    return table[(table > 0).any(axis=1)].rename_axis("model").sort_index().reset_index()


def build_export(store: Store, options: ExportOptions) -> Export:
    """Read the judgments, flags and texts an export needs from ``store`` and prepare it.

    Preference formats read only the columns they use (:meth:`Store.judgment_scores` joined to
    :meth:`Store.comparison_texts`); the raw formats read the whole judgments frame.
    """
    stage = "reading judgments"
    progress.report(stage, 0, 3)
    texts = store.comparison_texts(options.study)
    progress.report(stage, 1, 3)
    rows = dict(include_excluded=options.include_excluded, include_gold=options.include_gold)
    if options.is_raw:
        judgments = store.judgments_frame(options.study, **rows)
    else:
        judgments = store.judgment_scores(options.study, **rows)
        at = _text_positions(judgments, texts)
        for name in ("study", "prompt_id", "category", "model_a", "model_b"):
            codes, names = pd.factorize(texts[name])
            judgments[name] = pd.Categorical.from_codes(codes[at], categories=names)
    if options.study is None:
        judgments = store.drop_set_apart(judgments)
    progress.report(stage, 2, 3)
    flagged: set = set()
    if options.exclude_flagged:
        excluded = set()
        if not options.include_excluded:
            excluded = {a.name for a in store.annotators() if a.excluded}
        flagged = flagged_comparison_ids(
            store.passes_frame(options.study), ignore_annotators=excluded
        )
    progress.report(stage, 3, 3)
    return prepare_export(judgments, texts, options, flagged=flagged)


@dataclass(frozen=True)
class Written:
    """The files an export wrote: data files by split (``all``, ``train``, ``test``) and the card."""

    export: Export
    files: dict[str, Path]
    card: Path


def output_paths(path: str | Path, options: ExportOptions) -> tuple[dict[str, Path], Path]:
    """Where an export goes: ``name.jsonl``, or ``name.train.jsonl`` and ``name.test.jsonl``,
    and the card ``name.md``. A known suffix on ``path`` is dropped to find ``name``."""
    path = Path(path)
    if path.suffix in {*SUFFIXES.values(), ".json", ".md"}:
        path = path.with_suffix("")
    suffix = SUFFIXES[options.format]
    splits = ("all",) if options.test_fraction == 0 else SPLITS
    files = {
        s: path.with_name(path.name + ("" if s == "all" else f".{s}") + suffix) for s in splits
    }
    return files, path.with_name(path.name + ".md")


def write_export(export: Export, path: str | Path) -> Written:
    """Write the export's data files and its dataset card, each all-or-nothing.

    Every file is first written to a temporary file in the target folder and flushed to disk;
    only when all of them are complete are they moved into place with ``os.replace``, so a crash
    leaves the previous export (or nothing), never a half-written file.
    """
    files, card = output_paths(path, export.options)
    card.parent.mkdir(parents=True, exist_ok=True)
    writer = _WRITERS[export.options.format]
    parts = export.parts()
    jobs: list[tuple[Path, Callable[[Path], None]]] = [
        (files[s], functools.partial(writer, export.columns, parts[s])) for s in files
    ]
    text = dataset_card(export, files, name=card.stem)
    jobs.append((card, functools.partial(Path.write_text, data=text, encoding="utf-8")))
    replace_all(jobs)
    return Written(export=export, files=files, card=card)


def check_file_name(name: str) -> str:
    """``name`` as the base name of an export's files inside a chosen folder, or a ``ValueError``.

    One plain file name: not empty, not ``.`` or ``..`` nor any name starting with a dot, no
    folder separators (``/``, ``\\``) and no control characters, so that the files can only land
    in the folder they are meant for.
    """
    name = name.strip()
    if not name:
        raise ValueError("the file name is empty; give a name such as preferences")
    if name.startswith("."):
        raise ValueError(f"the file name {name!r} starts with a dot; give a plain name")
    if any(c in "/\\" or ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(
            f"the file name {name!r} holds a folder separator or a control character; "
            "give a plain name"
        )
    return name


def write_export_into(export: Export, folder: str | Path, name: str) -> Written:
    """Write the export into ``folder`` under the file name ``name`` (see :func:`check_file_name`).

    Every file it would write is checked to lie directly in ``folder`` before anything is written.
    """
    folder = Path(folder).resolve()
    files, card = output_paths(folder / check_file_name(name), export.options)
    for path in [*files.values(), card]:
        if path.resolve().parent != folder:
            raise ValueError(f"the file name {name!r} would write outside {folder}")
    return write_export(export, folder / name.strip())


def export_dataset(store: Store, path: str | Path, options: ExportOptions) -> Written:
    """Build an export from ``store`` and write it next to ``path`` (see :func:`output_paths`)."""
    return write_export(build_export(store, options), path)


_CHUNK = 50_000


def _chunks(rows: np.ndarray) -> Iterator[np.ndarray]:
    """The rows in slices of ``_CHUNK``, reported as progress of the file being written."""
    chunks = [rows[i : i + _CHUNK] for i in range(0, len(rows), _CHUNK)] or [rows]
    return progress.track(chunks, "writing records")


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _whole_numbers(column: Column) -> bool:
    return bool((column.codes >= 0).all()) and (
        pd.api.types.infer_dtype(column.values[:-1], skipna=False) == "integer"
    )


def _json_texts(values: np.ndarray) -> np.ndarray:
    """The JSON text of each distinct value of a column (its trailing ``None`` is null)."""
    texts = [
        "null" if isinstance(v, float) and not math.isfinite(v) else _JSON.encode(v)
        for v in values[:-1]
    ]
    return _objects([*texts, "null"])


def _write_jsonl(columns: Mapping[str, Column], rows: np.ndarray, path: Path) -> None:
    """One JSON object per line; each distinct value is encoded once, lines are stitched."""
    keys = [
        json.dumps(name, ensure_ascii=False).replace("{", "{{").replace("}", "}}")
        for name in columns
    ]
    line = "{{" + ",".join(f"{key}:{{}}" for key in keys) + "}}\n"
    # whole numbers without nulls format as JSON by themselves; the rest is encoded once per value
    encoded = [c.values if _whole_numbers(c) else _json_texts(c.values) for c in columns.values()]
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for chunk in _chunks(rows):
            cells = [
                text[c.codes[chunk]] for text, c in zip(encoded, columns.values(), strict=True)
            ]
            out.writelines(map(line.format, *cells))


def _write_csv(columns: Mapping[str, Column], rows: np.ndarray, path: Path) -> None:
    """CSV (RFC 4180: CRLF line ends, so that a carriage return inside a cell is quoted too) with
    every text cell that a spreadsheet would run as a formula neutralised
    (:func:`pairwise.escape.csv_text`); each distinct value is checked once."""
    safe = {
        name: Column(c.codes, _objects([*map(csv_text, c.values[:-1]), None]))
        for name, c in columns.items()
    }
    with open(path, "w", encoding="utf-8", newline="") as out:
        for i, chunk in enumerate(_chunks(rows)):
            columns_frame(safe, chunk).to_csv(
                out, index=False, header=i == 0, lineterminator="\r\n"
            )


def _write_parquet(columns: Mapping[str, Column], rows: np.ndarray, path: Path) -> None:
    """Row groups of :data:`PARQUET_SCHEMA`, each taken from arrays of the distinct values."""
    distinct = {
        f.name: pa.array(columns[f.name].values[:-1].tolist(), type=f.type) for f in PARQUET_SCHEMA
    }
    with pq.ParquetWriter(path, PARQUET_SCHEMA) as writer:
        for chunk in _chunks(rows):
            arrays = []
            for f in PARQUET_SCHEMA:
                codes = columns[f.name].codes[chunk]
                arrays.append(distinct[f.name].take(pa.array(codes, mask=codes < 0)))
            writer.write_table(pa.Table.from_arrays(arrays, schema=PARQUET_SCHEMA))


_WRITERS: dict[str, Callable[[Mapping[str, Column], np.ndarray, Path], None]] = {
    "trl-conversational": _write_jsonl,
    "trl-standard": _write_jsonl,
    "hh-rlhf": _write_jsonl,
    "parquet": _write_parquet,
    "raw-jsonl": _write_jsonl,
    "raw-csv": _write_csv,
}


# -- the dataset card ----------------------------------------------------------------------------

_FIELDS = {
    "prompt": "the prompt (see the format above)",
    "chosen": "the preferred response (for a tie: model A's, an arbitrary pick)",
    "rejected": "the other response",
    "study": "study the judgments come from",
    "comparison_id": "the comparison (one prompt, two responses, one study)",
    "prompt_id": "the prompt; train and test never share one",
    "category": "the prompt's category",
    "judgment_id": "the judgment (one record per judgment only)",
    "annotator": "who judged (one record per judgment only)",
    "chosen_model": "model that wrote `chosen`",
    "rejected_model": "model that wrote `rejected`",
    "tie": "true when no side was preferred; `chosen`/`rejected` are then arbitrary",
    "score": "mean score of the comparison's judgments (the judgment's score, per judgment), oriented so that positive favours `chosen`",
    "margin": "strength of the preference from the graded scores (the margin map below); 0 for a tie",
    "p_chosen": "soft label: the probability that `chosen` is the better response (a judgment's `p_a` seen from `chosen`: 1 for a hard preference, 0.5 for a tie, a weighted judge's fraction otherwise; the mean over the comparison's judgments for one record per comparison)",
    "n_judgments": "judgments of the comparison that were exported",
    "agreement": "share of the comparison's judgments giving its most common outcome",
}


def dataset_card(export: Export, files: Mapping[str, Path], *, name: str = "export") -> str:
    """The Markdown card written next to an export: what is in it and how it was made."""
    o, c = export.options, export.counts
    data_files = "\n".join(
        f"    - split: {'train' if s == 'all' else s}\n      path: {p.name}"
        for s, p in files.items()
    )
    lines = [
        "---",
        "configs:",
        "  - config_name: default",
        "    data_files:",
        data_files,
        "---",
        "",
        f"# {'Judgments' if o.is_raw else 'Preference dataset'}: {markdown_text(name)}",
        "",
        f"Exported by pairwise on {export.created_at} (UTC), format `{o.format}`.",
        "",
        "## Files",
        "",
        "| file | split | records | prompts |",
        "| --- | --- | ---: | ---: |",
    ]
    for split, path in files.items():
        if split == "all":
            lines.append(f"| {_code(path.name)} | all | {c['records']} | {c['record_prompts']} |")
        else:
            lines.append(
                f"| {_code(path.name)} | {split} | {c[f'{split}_records']} | {c[f'{split}_prompts']} |"
            )
    lines += ["", "## Counts", "", "| | count |", "| --- | ---: |"]
    labels = {
        "other_judges": "judgments of the other kind of judge left out",
        "judgments": "judgments read",
        "comparisons": "comparisons read",
        "prompts": "prompts read",
        "flagged_comparisons": "flagged comparisons dropped",
        "flagged_judgments": "judgments in flagged comparisons dropped",
        "dropped_by_agreement": "records dropped by the agreement filter",
        "dropped_ties": "tied records dropped",
        "kept_ties": "tied records kept (flag `tie`)",
        "records": "records written",
        "record_comparisons": "comparisons written",
        "record_prompts": "prompts written",
    }
    lines += [f"| {label} | {c[key]} |" for key, label in labels.items() if key in c]
    lines += ["", "## How it was made", ""]
    lines += [f"- {item}" for item in _method(o)]
    lines += ["", "## Models", "", _markdown_table(export.models), "", "## Format", ""]
    lines += [FORMATS[o.format], ""]
    if not o.is_raw:
        lines += ["| field | meaning |", "| --- | --- |"]
        lines += [f"| `{name}` | {_FIELDS[name]} |" for name in export.columns]
        lines.append("")
    lines += ["## Loading", "", "```python", _loader(o, files), "```", ""]
    return "\n".join(lines)


def _method(o: ExportOptions) -> list[str]:
    items = [
        f"studies: {markdown_text(o.study) if o.study is not None else 'all'}",
        f"judges: {o.judges} ({JUDGES[o.judges]}; model judges are automatic judges whose"
        " verdicts were imported)",
        "annotators marked excluded: " + ("included" if o.include_excluded else "left out"),
        "gold check items: " + ("included" if o.include_gold else "left out"),
        "comparisons flagged unsafe, broken or unanswerable: "
        + ("dropped" if o.exclude_flagged else "kept"),
    ]
    if not o.is_raw:
        margin_map = (
            "|score| (1 slightly better ... 3 much better on the 7-point scale)"
            if o.margins is None
            else ", ".join(f"level {k} -> {v:g}" for k, v in sorted(o.margins.items()))
        )
        items += [
            f"aggregation: {o.aggregation} ({AGGREGATIONS[o.aggregation]}); a majority vote "
            "whose top count is shared is a tie",
            "ties: " + ("kept, flagged `tie`, model A as `chosen`" if o.keep_ties else "dropped"),
            f"minimum agreement: {o.min_agreement:g}",
            f"margin map: {margin_map}",
        ]
    if o.test_fraction:
        items.append(
            f"split by prompt: a prompt is in test when sha256(seed, prompt_id) < "
            f"{o.test_fraction:g} (seed {o.seed}); no prompt is in both files"
        )
    return items


def _markdown_table(frame: pd.DataFrame) -> str:
    """A table of names and counts; every cell is escaped (model names are untrusted)."""
    if frame.empty:
        return "(none)"
    head = "| " + " | ".join(map(markdown_text, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = [
        "| " + " | ".join(map(markdown_text, row)) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join([head, rule, *rows])


def _code(text: str) -> str:
    """``text`` as inline code, or as escaped text when a backtick would end the code span."""
    return markdown_text(text) if "`" in text else f"`{text}`"


def _loader(o: ExportOptions, files: Mapping[str, Path]) -> str:
    names = {("train" if s == "all" else s): p.name for s, p in files.items()}
    if o.format == "raw-csv":
        first = next(iter(names.values()))
        return (
            "import pandas as pd\n"
            f'frame = pd.read_csv("{first}", keep_default_na=False,\n'
            '                    na_values={c: [""] for c in ("seconds", "gold_score",'
            ' "score_ab", "score_ba", "shown_order")})\n'
            "# text cells a spreadsheet would run as formulas were written with a leading '\n"
            'frame = frame.replace(r"^\'(?=[\'=+\\-@\\t\\r])", "", regex=True)'
        )
    if o.format == "raw-jsonl":
        first = next(iter(names.values()))
        return (
            "import pandas as pd\n"
            f'frame = pd.read_json("{first}", lines=True, dtype=False, precise_float=True)'
        )
    kind = "parquet" if o.format == "parquet" else "json"
    return (
        f'from datasets import load_dataset\ndataset = load_dataset("{kind}", data_files={names!r})'
    )
