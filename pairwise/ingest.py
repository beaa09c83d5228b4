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
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from .plans import describe_plan, plan_pairs
from .scales import SCALE_POINTS, SHOWN_ORDERS, Scale
from .store import ImportedJudgment, Prompt, Store, StoreError, Study, content_hash

MAX_FIELD_CHARS = 2_000_000
MAX_PROBLEMS = 20
DEFAULT_CATEGORY = "uncategorized"
ALPACA_EVAL_CATEGORY = "alpaca_eval"
ROLES = ("system", "user", "assistant")
WINNER_SCORES = {"model_a": 1, "model_b": -1, "tie": 0, "tie (bothbad)": 0}
OUTCOME_SCORES = {"win": 1, "tie": 0, "loss": -1}
IMPORTED_QUESTION = "Which response is better?"
_ARENA_FIELDS = ("winner", "conversation_a", "conversation_a", "conversation_b")
_YEAR_10000 = 253_402_300_800  # Unix time: the first instant Python's datetime cannot hold
_READERS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


# -- errors and results -----------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file; ``line`` and ``field`` are ``None`` for the whole file."""

    line: int | None
    field: str | None
    message: str

    def describe(self, file: str) -> str:
        where = file + (f", line {self.line}" if self.line is not None else "")
        where += f', field "{self.field}"' if self.field is not None else ""
        return f"{where}: {self.message}"


class IngestError(Exception):
    """A file that cannot be imported; nothing of it was written.

    ``problems`` lists up to 20 of them in file order; ``file``, ``line``, ``field`` and
    ``message`` are those of the first.
    """

    def __init__(self, file: str, problems: list[Problem], more: int = 0) -> None:
        self.file = file
        self.problems = problems
        self.more = more
        first = problems[0]
        self.line, self.field, self.message = first.line, first.field, first.message
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [p.describe(self.file) for p in self.problems]
        if self.more:
            lines.append(f"... and {self.more} more problem{'s' if self.more > 1 else ''}")
        return "\n".join(lines)


class _Problems:
    """Collects a file's problems so that one run reports many of them."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Problem] = []
        self.more = 0

    def add(self, line: int | None, field: str | None, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(line, field, message))
        else:
            self.more += 1

    def check(self) -> None:
        if self.items:
            ordered = sorted(self.items, key=lambda p: -1 if p.line is None else p.line)
            raise IngestError(self.file, ordered, self.more)


@dataclass(frozen=True)
class Imported:
    """What one import wrote: rows inserted, and rows found already stored, per table."""

    file: str
    inserted: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [
            f"{table}: {n} inserted, {self.unchanged.get(table, 0)} unchanged"
            for table, n in self.inserted.items()
        ]
        return f"{self.file}: " + "; ".join(parts)


# -- reading records ----------------------------------------------------------------------------


class _Record(NamedTuple):
    line: int
    data: dict[str, Any]
    from_csv: bool


def _read_records(path: str | Path, problems: _Problems) -> list[_Record]:
    """The file's records, or ``[]`` with the reason added to ``problems``."""
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        problems.add(None, None, f'unknown file type "{path.suffix}"; use .jsonl, .json or .csv')
        return []
    text = _read_text(path, problems)
    if text is None:
        return []
    if reader == "csv":
        records = _csv_records(text, problems)
    elif reader == "json" and text.lstrip(" \t\r\n").startswith("["):
        records = _json_array_records(text, problems)
    else:
        records = _jsonl_records(text, problems)
    if not records and not problems.items:
        problems.add(None, None, "holds no records")
    return records


def _read_text(path: Path, problems: _Problems) -> str | None:
    """The file as text: UTF-8, a byte order mark dropped; anything else is a problem."""
    try:
        data = path.read_bytes()
    except OSError as e:
        problems.add(None, None, f"cannot be read ({e.strerror or e})")
        return None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        problems.add(None, None, "is UTF-16 or UTF-32 encoded; save it as UTF-8")
        return None
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        problems.add(line, None, "holds NUL bytes (a UTF-16 or binary file?); save it as UTF-8")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        problems.add(line, None, f"is not UTF-8 (byte 0x{data[e.start]:02x}); save it as UTF-8")
        return None
    if not text.strip():
        problems.add(None, None, "is empty")
        return None
    return text


def _parse_json(text: str) -> Any:
    """``json.loads`` with every failure as ``ValueError`` (deep nesting raises RecursionError)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _json_error(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"not valid JSON: {e.msg} (column {e.colno})"
    return f"not valid JSON: {e}"


def _jsonl_records(text: str, problems: _Problems) -> list[_Record]:
    records = []
    # Split on newlines only: JSON strings may hold U+2028 and other separators verbatim.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = _parse_json(line)
        except ValueError as e:
            problems.add(number, None, _json_error(e))
            continue
        if isinstance(value, dict):
            records.append(_Record(number, value, False))
        else:
            problems.add(number, None, f"expected a JSON object, found {_kind(value)}")
    return records


def _json_array_records(text: str, problems: _Problems) -> list[_Record]:
    """Records of a JSON array, each with the line it starts on."""
    decoder = json.JSONDecoder()
    records: list[_Record] = []
    pos = _JSON_SPACE.match(text, 0).end() + 1  # past "["
    line, counted = 1, 0
    first = True
    while True:
        pos = _JSON_SPACE.match(text, pos).end()
        if first and text.startswith("]", pos):
            pos += 1
            break
        first = False
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            problems.add(e.lineno, None, _json_error(e))
            return records
        except (ValueError, RecursionError) as e:
            problems.add(line, None, _json_error(ValueError(str(e) or "nested too deeply")))
            return records
        if isinstance(value, dict):
            records.append(_Record(line, value, False))
        else:
            problems.add(line, None, f"expected a JSON object, found {_kind(value)}")
        pos = _JSON_SPACE.match(text, pos).end()
        if text.startswith(",", pos):
            pos += 1
        elif text.startswith("]", pos):
            pos += 1
            break
        else:
            where = text.count("\n", 0, pos) + 1
            problems.add(where, None, "not valid JSON: expected ',' or ']' after an array item")
            return records
    pos = _JSON_SPACE.match(text, pos).end()
    if pos < len(text):
        where = text.count("\n", 0, pos) + 1
        problems.add(where, None, "not valid JSON: extra content after the array")
    return records


def _csv_records(text: str, problems: _Problems) -> list[_Record]:
    """Rows as records keyed by the header; ``line`` is the physical line a row starts on."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, MAX_FIELD_CHARS + 1))
    records: list[_Record] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    header_line = end = 0
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header, header_line = [cell.strip() for cell in row], start
                if not _csv_header_ok(header, start, problems):
                    return []
                continue
            if len(row) != len(header):
                problems.add(
                    start,
                    None,
                    f"has {len(row)} fields; the header (line {header_line}) has {len(header)}",
                )
                continue
            records.append(_Record(start, dict(zip(header, row, strict=True)), True))
    except csv.Error as e:
        problems.add(reader.line_num or 1, None, f"not valid CSV: {e}")
    finally:
        csv.field_size_limit(limit)
    return records


def _csv_header_ok(header: list[str], line: int, problems: _Problems) -> bool:
    ok = True
    for number, name in enumerate(header, start=1):
        if not name:
            problems.add(line, None, f"the header's column {number} has no name")
            ok = False
        elif header.index(name) != number - 1:
            problems.add(line, name, "the header names this column twice")
            ok = False
    return ok


def _kind(value: Any) -> str:
    """How a JSON value reads in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


# -- checking fields --------------------------------------------------------------------------


class _Fields:
    """Typed access to one record's fields that records problems instead of raising.

    Each getter returns the value, or ``None`` after adding a problem (``failed`` turns true).
    A field is missing when absent, ``null``, or (in CSV) an empty cell; a required field given
    as an empty string is "empty", an optional one missing.
    """

    def __init__(self, record: _Record, problems: _Problems) -> None:
        self.record = record
        self.problems = problems
        self.failed = False

    def problem(self, name: str | None, message: str) -> None:
        self.failed = True
        self.problems.add(self.record.line, name, message)

    def present(self, name: str) -> bool:
        value = self.record.data.get(name)
        return value is not None and not (self.record.from_csv and value == "")

    def _get(self, name: str, required: bool) -> Any:
        """The value; an optional field given as ``""`` counts as missing, in any format."""
        if self.present(name) and (required or self.record.data[name] != ""):
            return self.record.data[name]
        if required:
            self.problem(name, "is missing")
        return None

    def text(self, name: str, *, required: bool = True, blank_ok: bool = False) -> str | None:
        """Free text, stored verbatim."""
        value = self._get(name, required)
        if value is None:
            return None
        return self._check_text(name, value, blank_ok=blank_ok)

    def _check_text(self, name: str, value: Any, *, blank_ok: bool = False) -> str | None:
        if not isinstance(value, str):
            self.problem(name, f"must be a string, not {_kind(value)}")
            return None
        if not blank_ok and not value.strip():
            self.problem(name, "is empty")
            return None
        if len(value) > MAX_FIELD_CHARS:
            self.problem(
                name, f"is {len(value):,} characters long; the limit is {MAX_FIELD_CHARS:,}"
            )
            return None
        if "\x00" in value:
            self.problem(name, "holds a NUL character")
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.problem(name, "holds an unpaired surrogate escape (not valid Unicode text)")
            return None
        return value

    def name(self, name: str, *, required: bool = True, numbers: bool = False) -> str | None:
        """An identifier: stripped text; with ``numbers``, an integer reads as its digits."""
        value = self._get(name, required)
        if value is None:
            return None
        # 81, or 81.0 from a float column
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if numbers and whole and not isinstance(value, bool):
            return str(int(value))
        text = self._check_text(name, value)
        return None if text is None else text.strip()

    def integer(self, name: str, *, required: bool = True, low: int = -(2**31)) -> int | None:
        value = self._get(name, required)
        if value is None:
            return None
        if self.record.from_csv and isinstance(value, str):
            try:
                value = float(value) if "." in value or "e" in value.lower() else int(value)
            except ValueError:
                self.problem(name, f"must be a whole number, not {value!r}")
                return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(name, f"must be a whole number, not {_kind(value)}")
            return None
        if not low <= value < 2**31:
            self.problem(name, f"{value} is out of range")
            return None
        return value

    def number(self, name: str, *, high: float = 1e12) -> float | None:
        """An optional number from 0 up to ``high``; ``NaN`` reads as missing."""
        value = self._get(name, False)
        if self.record.from_csv and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                self.problem(name, f"must be a number, not {value!r}")
                return None
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(name, f"must be a number, not {_kind(value)}")
            return None
        if not 0 <= value < high:  # also refuses infinities, and big integers as they are
            self.problem(name, f"{value!r} is out of range")
            return None
        return float(value)

    def choice(self, name: str, allowed: Iterable[str], *, required: bool = True) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        allowed = tuple(allowed)
        if value not in allowed:
            listed = ", ".join(repr(a) for a in allowed)
            shown = repr(value) if isinstance(value, str) else _kind(value)
            self.problem(name, f"must be one of {listed}, not {shown}")
            return None
        return value

    def messages(self, name: str, *, required: bool = True) -> list[dict[str, str]] | None:
        """A conversation in the OpenAI chat format that ends with a user turn."""
        conversation = self.conversation(name, required=required)
        if conversation is None:
            return None
        if not any(m["role"] == "user" for m in conversation):
            self.problem(name, "has no user turn")
            return None
        if conversation[-1]["role"] != "user":
            self.problem(name, f"must end with a user turn, not a {conversation[-1]['role']} turn")
            return None
        return conversation

    def conversation(self, name: str, *, required: bool = True) -> list[dict[str, str]] | None:
        """A list of ``{"role", "content"}`` (or it as a JSON string), roles from :data:`ROLES`."""
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, str):  # CSV cells, and the frame's ``messages`` column, hold JSON
            try:
                value = _parse_json(value)
            except ValueError as e:
                self.problem(name, _json_error(e))
                return None
        if not isinstance(value, list) or not value:
            self.problem(name, f"must be a non-empty list of messages, not {_kind(value)}")
            return None
        out = []
        for i, message in enumerate(value):
            where = f"{name}[{i}]"
            if not isinstance(message, dict):
                self.problem(
                    where, f"must be an object with role and content, not {_kind(message)}"
                )
                return None
            extra = sorted(set(message) - {"role", "content"})
            if extra:
                self.problem(where, f"unknown key(s) {', '.join(map(repr, extra))}")
                return None
            role = message.get("role")
            if role not in ROLES:
                shown = repr(role) if isinstance(role, str) else _kind(role)
                self.problem(f"{where}.role", f"must be one of {', '.join(ROLES)}, not {shown}")
                return None
            content = self._check_text(f"{where}.content", message.get("content"))
            if content is None:
                return None
            out.append({"role": role, "content": content})
        return out

    def tags(self, name: str) -> list[str] | None:
        """A list of strings; in CSV one string split on ``;``."""
        value = self._get(name, False)
        if value is None:
            return []
        if self.record.from_csv and isinstance(value, str):
            value = [t for t in value.split(";") if t.strip()]
        if not isinstance(value, list):
            self.problem(name, f"must be a list of strings, not {_kind(value)}")
            return None
        tags = []
        for i, tag in enumerate(value):
            text = self._check_text(f"{name}[{i}]", tag)
            if text is None:
                return None
            tags.append(text.strip())
        return tags


# -- prompts and responses ----------------------------------------------------------------------


class _Response(NamedTuple):
    prompt_id: str
    model: str
    content: str


def _prompt_from(record: _Record, problems: _Problems) -> Prompt | None:
    f = _Fields(record, problems)
    prompt_id = f.name("id")
    category = f.name("category", required=False) or DEFAULT_CATEGORY
    messages = _prompt_messages(f, required=True)
    tags = f.tags("tags")
    if f.failed:
        return None
    return _prompt(prompt_id, category, messages, tags)


def _prompt_messages(f: _Fields, *, required: bool) -> list[dict[str, str]] | None:
    """The ``prompt`` or ``messages`` field as a conversation."""
    if f.present("prompt") and f.present("messages"):
        f.problem("messages", 'give either "prompt" or "messages", not both')
        return None
    if f.present("messages"):
        return f.messages("messages")
    if f.present("prompt"):
        text = f.text("prompt")
        return None if text is None else [{"role": "user", "content": text}]
    if required:
        f.problem("prompt", 'is missing: give "prompt" (one user turn) or "messages"')
    return None


def _prompt(prompt_id: str, category: str, messages: list[dict[str, str]], tags=()) -> Prompt:
    turns = sum(m["role"] == "user" for m in messages)
    return Prompt(prompt_id, category, messages, list(tags), turns)


def _response_from(record: _Record, problems: _Problems) -> _Response | None:
    f = _Fields(record, problems)
    response = _Response(f.name("prompt_id"), f.name("model"), f.text("response"))
    return None if f.failed else response


def alpaca_eval_prompt_id(instruction: str) -> str:
    """The prompt id of an AlpacaEval instruction: stable across every model's outputs file."""
    return "ae-" + hashlib.sha256(instruction.encode("utf-8")).hexdigest()[:12]


def _alpaca_eval_from(record: _Record, problems: _Problems) -> tuple[Prompt, _Response] | None:
    f = _Fields(record, problems)
    instruction = f.text("instruction")
    output = f.text("output")
    generator = f.name("generator")
    category = f.name("dataset", required=False) or ALPACA_EVAL_CATEGORY
    if f.failed:
        return None
    prompt_id = alpaca_eval_prompt_id(instruction)
    prompt = _prompt(prompt_id, category, [{"role": "user", "content": instruction}])
    return prompt, _Response(prompt_id, generator, output)


def _is_alpaca_eval(records: list[_Record]) -> bool:
    return bool(records) and "instruction" in records[0].data and "prompt_id" not in records[0].data


def _parsed(records: Iterable[_Record], parse: Callable, problems: _Problems) -> list[tuple]:
    """``(line, value)`` for each record that ``parse`` accepts."""
    out = []
    for record in records:
        value = parse(record, problems)
        if value is not None:
            out.append((record.line, value))
    return out


def _new_items(
    items: Iterable[tuple[int, str, Any, Any]],
    problems: _Problems,
    *,
    describe: Callable[[Any], str],
    stored_differs: Callable[[Any, Any], str | None],
) -> list[Any]:
    """Values of ``(line, field, key, value)`` items, once per key.

    The same key with other content, earlier in the file or in the store, is a problem;
    ``stored_differs`` says how a value differs from the stored one (``None``: it does not).
    """
    first: dict[Any, tuple[int, Any]] = {}
    out = []
    for line, name, key, value in items:
        if key in first:
            first_line, first_value = first[key]
            if first_value != value:
                problems.add(
                    line, name, f"{describe(key)} is also on line {first_line}, with other content"
                )
            continue
        first[key] = (line, value)
        difference = stored_differs(key, value)
        if difference:
            problems.add(line, name, f"{describe(key)} is already stored with {difference}")
        out.append(value)
    return out


def _prompt_checker(store: Store) -> Callable[[str, Prompt], str | None]:
    stored_ids = store.prompt_ids()

    def differs(prompt_id: str, prompt: Prompt) -> str | None:
        if prompt_id not in stored_ids:
            return None
        old = store.get_prompt(prompt_id)
        changed = [
            n for n in ("category", "messages", "tags") if getattr(old, n) != getattr(prompt, n)
        ]
        return f"another {' and '.join(changed)}" if changed else None

    return differs


def _response_checker(store: Store) -> Callable[[tuple[str, str], _Response], str | None]:
    stored = store.response_hashes()

    def differs(key: tuple[str, str], response: _Response) -> str | None:
        digest = stored.get(key)
        if digest is None or digest == content_hash(response.content):
            return None
        return "other text"

    return differs


def _new_prompts(
    items: Iterable[tuple[int, str, Prompt]], problems: _Problems, store: Store | None
) -> list[Prompt]:
    """``(line, field, prompt)`` items once per id; ``store=None`` checks the file alone."""
    return _new_items(
        ((line, name, p.id, p) for line, name, p in items),
        problems,
        describe=lambda key: f"prompt id {key!r}",
        stored_differs=_prompt_checker(store) if store else lambda key, value: None,
    )


def _new_responses(
    items: Iterable[tuple[int, str, _Response]], problems: _Problems, store: Store
) -> list[_Response]:
    return _new_items(
        ((line, name, (r.prompt_id, r.model), r) for line, name, r in items),
        problems,
        describe=lambda key: f"the response of {key[1]!r} to prompt {key[0]!r}",
        stored_differs=_response_checker(store),
    )


# -- prompt and response files ------------------------------------------------------------------


def read_prompts(path: str | Path) -> list[Prompt]:
    """The prompts of a file, checked on their own (without a store)."""
    problems = _Problems(str(path))
    items = _parsed(_read_records(path, problems), _prompt_from, problems)
    prompts = _new_prompts(((line, "id", p) for line, p in items), problems, None)
    problems.check()
    return prompts


def import_prompts(store: Store, path: str | Path) -> Imported:
    """Add a prompts file to the store, all or nothing."""
    problems = _Problems(str(path))
    items = _parsed(_read_records(path, problems), _prompt_from, problems)
    problems.check()
    with store.transaction():
        prompts = _new_prompts(((line, "id", p) for line, p in items), problems, store)
        problems.check()
        inserted, unchanged = store.add_prompts(prompts)
    return Imported(str(path), {"prompts": inserted}, {"prompts": unchanged})


def import_responses(store: Store, path: str | Path) -> Imported:
    """Add a responses file (or an AlpacaEval ``model_outputs.json``) to the store, all or nothing."""
    problems = _Problems(str(path))
    records = _read_records(path, problems)
    alpaca_eval = _is_alpaca_eval(records)
    if alpaca_eval:
        pairs = _parsed(records, _alpaca_eval_from, problems)
        items = [(line, "output", r) for line, (_, r) in pairs]
    else:
        items = [(line, "response", r) for line, r in _parsed(records, _response_from, problems)]
    problems.check()
    inserted: dict[str, int] = {}
    unchanged: dict[str, int] = {}
    with store.transaction():
        prompts: list[Prompt] = []
        if alpaca_eval:
            prompts = _new_prompts(
                ((line, "instruction", p) for line, (p, _) in pairs), problems, store
            )
        known = store.prompt_ids() | {p.id for p in prompts}
        for line, _, r in items:
            if r.prompt_id not in known:
                problems.add(
                    line, "prompt_id", f"unknown prompt id {r.prompt_id!r}; import it first"
                )
        responses = _new_responses(items, problems, store)
        problems.check()
        if alpaca_eval:
            inserted["prompts"], unchanged["prompts"] = store.add_prompts(prompts)
        inserted["responses"], unchanged["responses"] = store.add_responses(responses)
    return Imported(str(path), inserted, unchanged)


# -- judgments made elsewhere -------------------------------------------------------------------


@dataclass(frozen=True)
class _Judged:
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
    shown_order: str
    fields: tuple[str, str, str, str]  # the fields of the score, the prompt, the two responses
    rationale: str = ""
    seconds: float | None = None
    created_at: str | None = None


def _judged_from(record: _Record, problems: _Problems) -> _Judged | None:
    f = _Fields(record, problems)
    judged = _arena_from(f) if "winner" in record.data else _frame_row_from(f)
    if judged is not None and judged.model_a == judged.model_b:
        f.problem("model_b", "names the same model as model_a")
    return None if f.failed else judged


def _arena_from(f: _Fields) -> _Judged | None:
    """A Chatbot Arena battle or an MT-Bench human judgment."""
    model_a, model_b = f.name("model_a"), f.name("model_b")
    winner = f.choice("winner", WINNER_SCORES)
    judge = _judge(f)
    turn = f.integer("turn", required=False, low=1)
    question = f.name("question_id", required=False, numbers=True)
    category = f.name("category", required=False) or DEFAULT_CATEGORY
    conversations = {n: f.conversation(n, required=False) for n in _ARENA_FIELDS[2:]}
    tstamp = f.number("tstamp", high=_YEAR_10000)
    if f.failed:
        return None
    (messages_a, text_a), (messages_b, text_b) = (
        _up_to_turn(f, name, conversation, turn) for name, conversation in conversations.items()
    )
    messages = messages_a or messages_b
    if question is None and messages is None:
        f.problem("question_id", "is missing (needed when the record has no conversation)")
    if f.failed:
        return None
    if question is None:
        prompt_id = "q-" + content_hash(messages)[:12]
    else:
        prompt_id = question + (f"-turn{turn}" if turn and turn > 1 else "")
    created = None
    if tstamp is not None:
        created = datetime.fromtimestamp(tstamp, timezone.utc).isoformat(timespec="milliseconds")
    return _judged(
        f,
        _prompt_or_placeholder(prompt_id, messages, question, category, turn or 1),
        study=None,
        model_a=model_a,
        model_b=model_b,
        text_a=text_a,
        text_b=text_b,
        annotator=judge,
        score=WINNER_SCORES[winner],
        scale=3,
        scale_declared=False,
        shown_order="AB",
        fields=_ARENA_FIELDS,
        created_at=created,
    )


def _judge(f: _Fields) -> str | None:
    """The ``judge`` field: a name, or a list of names (``["gpt-4", "pair-v2"]``) joined by ``/``."""
    value = f.record.data.get("judge")
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        joined = "/".join(v.strip() for v in value)
        return f._check_text("judge", joined)
    return f.name("judge")


def _up_to_turn(
    f: _Fields, name: str, conversation: list[dict[str, str]] | None, turn: int | None
) -> tuple[list[dict[str, str]] | None, str | None]:
    """The system and user turns up to user turn ``turn`` (default: the last), and the reply."""
    if conversation is None:
        return None, None
    users = [i for i, m in enumerate(conversation) if m["role"] == "user"]
    wanted = turn or len(users)
    if not users or wanted > len(users):
        f.problem(name, f"has {len(users)} user turn(s); the record judges turn {wanted}")
        return None, None
    cut = users[wanted - 1]
    following = users[wanted] if wanted < len(users) else len(conversation)
    replies = [m["content"] for m in conversation[cut + 1 : following] if m["role"] == "assistant"]
    if not replies:
        f.problem(name, f"has no assistant reply to user turn {wanted}")
        return None, None
    prompt = [m for m in conversation[: cut + 1] if m["role"] != "assistant"]
    return prompt, replies[-1]


def _frame_row_from(f: _Fields) -> _Judged | None:
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
    shown_order = f.choice("shown_order", SHOWN_ORDERS, required=False) or "AB"
    rationale = f.text("rationale", required=False, blank_ok=True) or ""
    seconds = f.number("seconds")
    created_at = f.name("created_at", required=False)
    if created_at is not None and not _is_iso_time(created_at):
        f.problem("created_at", f"must be an ISO 8601 time, not {created_at!r}")
    category = f.name("category", required=False) or DEFAULT_CATEGORY
    turns = f.integer("turns", required=False, low=1)
    messages = _prompt_messages(f, required=False)
    text_a, text_b = (f.text(n, required=False) for n in ("response_a", "response_b"))
    if f.failed:
        return None
    if turns is not None and turns > 100:
        turns = 1
    return _judged(
        f,
        _prompt_or_placeholder(prompt_id, messages, prompt_id, category, turns or 1),
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
    )


def _is_iso_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _judged(f: _Fields, prompt: tuple[Prompt, bool], **fields: Any) -> _Judged:
    return _Judged(line=f.record.line, prompt=prompt[0], prompt_given=prompt[1], **fields)


def _prompt_or_placeholder(
    prompt_id: str, messages: list[dict[str, str]] | None, label: str, category: str, turns: int
) -> tuple[Prompt, bool]:
    """The record's prompt, or placeholder turns; and whether the record gave the text."""
    if messages:
        return _prompt(prompt_id, category, messages), True
    return _placeholder_prompt(prompt_id, label, category, turns), False


def _placeholder_prompt(prompt_id: str, label: str, category: str, turns: int) -> Prompt:
    if turns == 1:
        texts = [f"(question {label} — text not provided)"]
    else:
        texts = [f"(question {label}, turn {t} — text not provided)" for t in range(1, turns + 1)]
    return _prompt(prompt_id, category, [{"role": "user", "content": t} for t in texts])


def _placeholder_response(model: str) -> str:
    return f"(response of {model} — text not provided)"


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
    store: Store, name: str, judged: list[_Judged], problems: _Problems
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
    problems = _Problems(file)
    judged = [j for _, j in _parsed(_read_records(path, problems), _judged_from, problems)]
    problems.check()
    by_study: dict[str, list[_Judged]] = {}
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
    store: Store, judged: list[_Judged], problems: _Problems
) -> tuple[list[Prompt], list[_Response]]:
    """The prompts and responses the records need: their texts, else placeholders."""
    prompts = _new_prompts(
        ((j.line, j.fields[1], j.prompt) for j in judged if j.prompt_given), problems, store
    )
    given = [
        (j.line, name, _Response(j.prompt.id, model, text))
        for j in judged
        for name, model, text in (
            (j.fields[2], j.model_a, j.text_a),
            (j.fields[3], j.model_b, j.text_b),
        )
        if text is not None
    ]
    responses = _new_responses(given, problems, store)
    have_prompts = store.prompt_ids() | {p.id for p in prompts}
    have_responses = set(store.response_hashes()) | {(r.prompt_id, r.model) for r in responses}
    for j in judged:
        if j.prompt.id not in have_prompts:
            prompts.append(j.prompt)
            have_prompts.add(j.prompt.id)
        for model in (j.model_a, j.model_b):
            if (j.prompt.id, model) not in have_responses:
                responses.append(_Response(j.prompt.id, model, _placeholder_response(model)))
                have_responses.add((j.prompt.id, model))
    return prompts, responses


def _study_judgments(
    store: Store, plan: _StudyPlan, judged: list[_Judged], file: str, problems: _Problems
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


# -- study set-up ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudySpec:
    """What ``pairwise study create`` and a study file (``prompts/demo_study.json``) set up.

    ``pairs`` is ``"all"`` (every pair of ``models``), ``"baseline:MODEL"`` (each other model
    against MODEL) or a list ``"a:b,c:d"`` (model A first). ``prompt_ids`` limits the prompts
    (``None``: every prompt both models of a pair answered). ``gold`` marks comparisons as gold
    checks: ``(prompt_id, model_a, model_b, score)`` with the score oriented to ``model_a``.
    """

    name: str
    models: list[str]
    pairs: str = "all"
    overlap: int = 3
    scale: int = 7
    question: str = "Which response is more helpful?"
    guidelines: str = ""
    gold_rate: float = 0.0
    prompt_ids: list[str] | None = None
    seed: int | None = None
    gold: list[tuple[str, str, str, int]] = field(default_factory=list)


def parse_pairs(spec: str, models: list[str]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """A pairs option (see :class:`StudySpec`) as ``(model_a, model_b)`` pairs and the stored plan.

    A listed pair splits at the colon that leaves two of ``models``, so names with a colon
    (``llama3:8b``) work.
    """
    text = spec.strip()
    if text == "all":
        kind, baseline, listed = "all", None, None
    elif text.startswith("baseline:"):
        kind, baseline, listed = "baseline", text.removeprefix("baseline:").strip(), None
    else:
        kind, baseline = "list", None
        listed = [_split_pair(chunk.strip(), models) for chunk in text.split(",") if chunk.strip()]
    pairs = plan_pairs(list(models), kind, baseline=baseline, pairs=listed)
    return pairs, describe_plan(kind, baseline=baseline, pairs=pairs)


def _split_pair(chunk: str, models: list[str]) -> tuple[str, str]:
    splits = [(chunk[:i], chunk[i + 1 :]) for i, c in enumerate(chunk) if c == ":"]
    for a, b in splits:
        if a.strip() in models and b.strip() in models:
            return a.strip(), b.strip()
    if not splits:
        raise ValueError(f"pair {chunk!r} must read MODEL_A:MODEL_B")
    raise ValueError(f"pair {chunk!r} does not name two of the models {', '.join(models)}")


def create_study(store: Store, spec: StudySpec) -> Study:
    """Create the study a spec describes, with its gold items, in one transaction."""
    pairs, plan = parse_pairs(spec.pairs, spec.models)
    with store.transaction():
        if spec.prompt_ids is not None:
            stored = store.prompt_ids()
            unknown = [p for p in spec.prompt_ids if p not in stored]
            if unknown:
                shown = ", ".join(map(repr, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
                raise StoreError(f"unknown prompt id(s): {shown}")
        study = store.create_study(
            spec.name,
            pairs=pairs,
            overlap=spec.overlap,
            scale=spec.scale,
            question=spec.question,
            guidelines=spec.guidelines,
            gold_rate=spec.gold_rate,
            pair_plan=plan,
            prompt_ids=spec.prompt_ids,
            seed=spec.seed,
        )
        if spec.gold:
            index = {
                (r.prompt_id, r.model_a, r.model_b): int(r.comparison_id)
                for r in store.comparisons_frame(study.id).itertuples()
            }
            for prompt_id, model_a, model_b, score in spec.gold:
                if (prompt_id, model_a, model_b) in index:
                    store.set_gold(index[prompt_id, model_a, model_b], score)
                elif (prompt_id, model_b, model_a) in index:
                    store.set_gold(index[prompt_id, model_b, model_a], -score)
                else:
                    raise StoreError(
                        f"gold item: the study has no comparison of {model_a!r} and {model_b!r}"
                        f" on prompt {prompt_id!r}"
                    )
    return store.get_study(study.id)


def read_prompt_ids(value: str) -> list[str]:
    """Prompt ids from a ``--prompts`` option: a file, or ids separated by commas.

    A ``.txt`` file holds one id per line; a prompts file (``.jsonl``, ``.json``, ``.csv``) gives
    its records' ``id``.
    """
    path = Path(value)
    if not path.is_file():
        ids = [p.strip() for p in value.split(",") if p.strip()]
        if not ids:
            raise ValueError("--prompts needs prompt ids or a file")
        return ids
    problems = _Problems(value)
    if path.suffix.lower() == ".txt":
        text = _read_text(path, problems)
        problems.check()
        return [line.strip() for line in text.splitlines() if line.strip()]
    ids = []
    for record in _read_records(path, problems):
        prompt_id = _Fields(record, problems).name("id")
        if prompt_id is not None:
            ids.append(prompt_id)
    problems.check()
    return list(dict.fromkeys(ids))


def read_study_spec(path: str | Path) -> StudySpec:
    """A study file: a JSON object with the fields of :class:`StudySpec`.

    ``name`` and ``models`` are required; ``pairs`` is a string or a list of ``[model_a,
    model_b]``; ``prompts`` a list of ids; ``guidelines`` names a Markdown file beside the study
    file; ``gold`` is a list of ``{prompt_id, model_a, model_b, score}``. For example::

        {"name": "demo", "models": ["a", "b", "c"], "pairs": "all", "overlap": 3, "scale": 7,
         "question": "Which response is more helpful?", "gold_rate": 0.0,
         "guidelines": "guidelines.md"}
    """
    file = str(path)
    problems = _Problems(file)
    text = _read_text(Path(path), problems)
    problems.check()
    try:
        data = _parse_json(text)
    except ValueError as e:
        line = e.lineno if isinstance(e, json.JSONDecodeError) else None
        raise IngestError(file, [Problem(line, None, _json_error(e))]) from None
    if not isinstance(data, dict):
        raise IngestError(file, [Problem(1, None, f"expected a JSON object, found {_kind(data)}")])
    f = _SpecFields(_Record(1, data, False), problems, text)
    spec = _spec_from(f, Path(path).parent)
    problems.check()
    return spec


class _SpecFields(_Fields):
    """Fields of a single JSON object: each problem names the line its key is on."""

    def __init__(self, record: _Record, problems: _Problems, text: str) -> None:
        super().__init__(record, problems)
        self.text_of_file = text

    def problem(self, name: str | None, message: str) -> None:
        self.failed = True
        line = None
        if name:
            key = re.split(r"[\[.]", name, maxsplit=1)[0]
            found = re.search(r'"' + re.escape(key) + r'"\s*:', self.text_of_file)
            line = self.text_of_file.count("\n", 0, found.start()) + 1 if found else None
        self.problems.add(line, name, message)

    def names(self, name: str, *, required: bool = True) -> list[str] | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            self.problem(name, f"must be a non-empty list of strings, not {_kind(value)}")
            return None
        out = [self._check_text(f"{name}[{i}]", v) for i, v in enumerate(value)]
        return None if None in out else [v.strip() for v in out]


def _spec_from(f: _SpecFields, folder: Path) -> StudySpec | None:
    name = f.name("name")
    models = f.names("models")
    pairs = f.record.data.get("pairs", "all")
    if isinstance(pairs, list):
        if all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(m, str) for m in p)
            for p in pairs
        ):
            pairs = ",".join(f"{a}:{b}" for a, b in pairs)
        else:
            f.problem("pairs", "must be a list of [model_a, model_b] pairs")
    elif not isinstance(pairs, str):
        f.problem(
            "pairs", f'must be "all", "baseline:MODEL" or a list of pairs, not {_kind(pairs)}'
        )
    settings = {
        "overlap": f.integer("overlap", required=False, low=1),
        "scale": f.integer("scale", required=False),
        "question": f.text("question", required=False),
        "gold_rate": f.number("gold_rate"),
        "prompt_ids": f.names("prompts", required=False),
        "seed": f.integer("seed", required=False, low=0),
    }
    guidelines_file = f.name("guidelines", required=False)
    if guidelines_file is not None:
        settings["guidelines"] = _read_guidelines(f, folder / guidelines_file)
    gold = _gold_items(f)
    if f.failed:
        return None
    chosen = {k: v for k, v in settings.items() if v is not None}
    return StudySpec(name=name, models=models, pairs=pairs, gold=gold, **chosen)


def _read_guidelines(f: _SpecFields, path: Path) -> str | None:
    problems = _Problems(str(path))
    text = _read_text(path, problems)
    for p in problems.items:
        f.problem("guidelines", p.describe(str(path)))
    return text


def _gold_items(f: _SpecFields) -> list[tuple[str, str, str, int]]:
    value = f.record.data.get("gold") or []
    if not isinstance(value, list):
        f.problem("gold", f"must be a list of objects, not {_kind(value)}")
        return []
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            f.problem(f"gold[{i}]", f"must be an object, not {_kind(item)}")
            continue
        sub = _SpecFields(_Record(f.record.line, item, False), f.problems, f.text_of_file)
        got = (
            sub.name("prompt_id"),
            sub.name("model_a"),
            sub.name("model_b"),
            sub.integer("score"),
        )
        if sub.failed:
            f.failed = True
        else:
            items.append(got)
    return items
