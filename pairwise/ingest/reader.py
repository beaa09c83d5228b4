"""Files to records: UTF-8 text, JSON lines, JSON arrays and CSV, each record with its line.

Every format reads through here, so each problem names the file, the line and the field, and one
run reports up to 20 of them (:class:`Problems`; :class:`IngestError` when any are found).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .. import progress

MAX_FIELD_CHARS = 2_000_000
MAX_PROBLEMS = 20
_READERS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


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

    def __init__(
        self, file: str, problems: list[Problem], more: int = 0, read_as: str | None = None
    ) -> None:
        self.file = file
        self.problems = problems
        self.more = more
        self.read_as = read_as
        first = problems[0]
        self.line, self.field, self.message = first.line, first.field, first.message
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [p.describe(self.file) for p in self.problems]
        if self.more:
            lines.append(f"... and {self.more} more problem{'s' if self.more > 1 else ''}")
        if self.read_as:
            lines.append(f"(the file was read as {self.read_as})")
        return "\n".join(lines)


class Problems:
    """Collects a file's problems so that one run reports many of them."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Problem] = []
        self.more = 0
        self.read_as: str | None = None  # the format the records were read in, once known

    def add(self, line: int | None, field: str | None, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(line, field, message))
        else:
            self.more += 1

    def check(self) -> None:
        if self.items:
            ordered = sorted(self.items, key=lambda p: -1 if p.line is None else p.line)
            raise IngestError(self.file, ordered, self.more, self.read_as)


@dataclass(frozen=True)
class Imported:
    """What one import wrote: rows inserted, and rows found already stored, per table.

    ``read_as`` names the format the file was read in; ``left_out`` counts records that hold
    nothing to import (an AlpacaEval annotation not judged), by reason.
    """

    file: str
    inserted: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    read_as: str | None = None
    left_out: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [
            f"{table}: {n} inserted, {self.unchanged.get(table, 0)} unchanged"
            for table, n in self.inserted.items()
        ]
        parts += [f"left out: {n} record(s) {reason}" for reason, n in self.left_out.items()]
        head = self.file + (f" (read as {self.read_as})" if self.read_as else "")
        return f"{head}: " + "; ".join(parts)


class Record(NamedTuple):
    """One record of a file: the line it starts on, its fields, and whether CSV gave them (as text)."""

    line: int
    data: dict[str, Any]
    from_csv: bool


def read_records(path: str | Path, problems: Problems) -> list[Record]:
    """The file's records, or ``[]`` with the reason added to ``problems``."""
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        problems.add(None, None, f'unknown file type "{path.suffix}"; use .jsonl, .json or .csv')
        return []
    stage = f"reading {path.name}"
    progress.report(stage, 0, 1)
    text = read_text(path, problems)
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
    progress.report(stage, 1, 1)
    return records


def read_text(path: Path, problems: Problems) -> str | None:
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


def parse_json(text: str) -> Any:
    """``json.loads`` with every failure as ``ValueError`` (deep nesting raises RecursionError)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def json_error(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"not valid JSON: {e.msg} (column {e.colno})"
    return f"not valid JSON: {e}"


def _jsonl_records(text: str, problems: Problems) -> list[Record]:
    records = []
    # Split on newlines only: JSON strings may hold U+2028 and other separators verbatim.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = parse_json(line)
        except ValueError as e:
            problems.add(number, None, json_error(e))
            continue
        if isinstance(value, dict):
            records.append(Record(number, value, False))
        else:
            problems.add(number, None, f"expected a JSON object, found {kind(value)}")
    return records


def _json_array_records(text: str, problems: Problems) -> list[Record]:
    """Records of a JSON array, each with the line it starts on."""
    decoder = json.JSONDecoder()
    records: list[Record] = []
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
            problems.add(e.lineno, None, json_error(e))
            return records
        except (ValueError, RecursionError) as e:
            problems.add(line, None, json_error(ValueError(str(e) or "nested too deeply")))
            return records
        if isinstance(value, dict):
            records.append(Record(line, value, False))
        else:
            problems.add(line, None, f"expected a JSON object, found {kind(value)}")
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


def _csv_records(text: str, problems: Problems) -> list[Record]:
    """Rows as records keyed by the header; ``line`` is the physical line a row starts on."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, MAX_FIELD_CHARS + 1))
    records: list[Record] = []
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
            records.append(Record(start, dict(zip(header, row, strict=True)), True))
    except csv.Error as e:
        problems.add(reader.line_num or 1, None, f"not valid CSV: {e}")
    finally:
        csv.field_size_limit(limit)
    return records


def _csv_header_ok(header: list[str], line: int, problems: Problems) -> bool:
    ok = True
    for number, name in enumerate(header, start=1):
        if not name:
            problems.add(line, None, f"the header's column {number} has no name")
            ok = False
        elif header.index(name) != number - 1:
            problems.add(line, name, "the header names this column twice")
            ok = False
    return ok


def kind(value: Any) -> str:
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
