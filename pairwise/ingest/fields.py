"""The shared validator: typed access to a record's fields, each problem named by line and field."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .reader import MAX_FIELD_CHARS, Problems, Record, json_error, kind, parse_json

ROLES = ("system", "user", "assistant")


class Fields:
    """Typed access to one record's fields that records problems instead of raising.

    Each getter returns the value, or ``None`` after adding a problem (``failed`` turns true).
    A field is missing when absent, ``null``, or (in CSV) an empty cell; a required field given
    as an empty string is "empty", an optional one missing.
    """

    def __init__(self, record: Record, problems: Problems) -> None:
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
        return self.check_text(name, value, blank_ok=blank_ok)

    def output(self, name: str, *, required: bool = True) -> str | None:
        """A model's output, verbatim: ``""`` is a real output (a model that returned nothing).

        In CSV an empty cell of a required output is an empty output; of an optional one, missing.
        """
        if self.record.data.get(name) == "" and (required or not self.record.from_csv):
            return ""
        return self.text(name, required=required, blank_ok=True)

    def check_text(self, name: str, value: Any, *, blank_ok: bool = False) -> str | None:
        if not isinstance(value, str):
            self.problem(name, f"must be a string, not {kind(value)}")
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
            value.isascii() or value.encode("utf-8")
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
        text = self.check_text(name, value)
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
            self.problem(name, f"must be a whole number, not {kind(value)}")
            return None
        if not low <= value < 2**31:
            self.problem(name, f"{value} is out of range")
            return None
        return value

    def number(
        self, name: str, *, required: bool = False, low: float = 0.0, high: float = 1e12
    ) -> float | None:
        """A number from ``low`` up to ``high`` (optional unless ``required``); ``NaN`` reads as
        missing."""
        value = self._get(name, required)
        if self.record.from_csv and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                self.problem(name, f"must be a number, not {value!r}")
                return None
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if required and value is not None:
                self.problem(name, "is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(name, f"must be a number, not {kind(value)}")
            return None
        if not low <= value < high:  # also refuses infinities, and big integers as they are
            self.problem(name, f"{value!r} is out of range")
            return None
        return float(value)

    def probability(self, name: str) -> float | None:
        """An optional number from 0 to 1."""
        value = self.number(name, high=2.0)
        if value is not None and value > 1:
            self.problem(name, f"must be a probability from 0 to 1, not {value!r}")
            return None
        return value

    def choice(self, name: str, allowed: Iterable[str], *, required: bool = True) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        allowed = tuple(allowed)
        if value not in allowed:
            listed = ", ".join(repr(a) for a in allowed)
            shown = repr(value) if isinstance(value, str) else kind(value)
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
                value = parse_json(value)
            except ValueError as e:
                self.problem(name, json_error(e))
                return None
        if not isinstance(value, list) or not value:
            self.problem(name, f"must be a non-empty list of messages, not {kind(value)}")
            return None
        out = []
        for i, message in enumerate(value):
            where = f"{name}[{i}]"
            if not isinstance(message, dict):
                self.problem(where, f"must be an object with role and content, not {kind(message)}")
                return None
            extra = sorted(set(message) - {"role", "content"})
            if extra:
                self.problem(where, f"unknown key(s) {', '.join(map(repr, extra))}")
                return None
            role = message.get("role")
            if role not in ROLES:
                shown = repr(role) if isinstance(role, str) else kind(role)
                self.problem(f"{where}.role", f"must be one of {', '.join(ROLES)}, not {shown}")
                return None
            content = self.check_text(  # a model's reply may be empty; a person's turn not
                f"{where}.content", message.get("content"), blank_ok=role == "assistant"
            )
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
            self.problem(name, f"must be a list of strings, not {kind(value)}")
            return None
        tags = []
        for i, tag in enumerate(value):
            text = self.check_text(f"{name}[{i}]", tag)
            if text is None:
                return None
            tags.append(text.strip())
        return tags
