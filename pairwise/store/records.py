"""What the store hands out and takes in: records, errors, limits and small pure helpers.

The frozen dataclasses are the store's vocabulary (a prompt, a study, an annotator, an assignment);
the constants are the limits and choices the schema enforces too. Nothing here touches a database,
so pages, the CLI and ingest can use them without opening one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..scales import Scale

SCHEMA_VERSION = 1
DEFAULT_LEASE_SECONDS = 600.0
PASS_REASONS = ("skip", "unsafe", "broken", "unanswerable")
ROLES = ("annotator", "admin")
JUDGE_KINDS = ("human", "model")  # a person who annotates; an automatic judge, by its name
#: The longest rationale or pass note an annotator can store, in characters.
MAX_NOTE_CHARS = 5_000

PLACEHOLDER_RESPONSE = "(response not provided)"
"""The text of a response that judgments were imported without. It names no model."""
PLACEHOLDER_MARK = "text not provided)"
"""How every placeholder prompt turn ends (and placeholder responses of earlier versions)."""
_OLD_PLACEHOLDER_RESPONSE = "(response of % — text not provided)"


def is_placeholder_prompt(messages: list[dict[str, Any]]) -> bool:
    """Whether a prompt's turns are placeholders, stored for judgments imported without the text
    (``(question 81 — text not provided)``): a later import of the real text may replace them."""
    return bool(messages) and all(
        m.get("role") == "user"
        and str(m.get("content", "")).startswith("(question ")
        and str(m.get("content", "")).endswith(PLACEHOLDER_MARK)
        for m in messages
    )


def is_placeholder_response(digest: str) -> bool:
    """Whether a response's content hash is that of :data:`PLACEHOLDER_RESPONSE`."""
    return digest == _PLACEHOLDER_RESPONSE_HASH


def now_iso() -> str:
    """UTC time as ISO 8601 with milliseconds: sortable as text, readable in any SQLite tool."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def content_hash(value: Any) -> str:
    """A stable hash of JSON-able content, to tell a re-import from a conflicting duplicate."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_PLACEHOLDER_RESPONSE_HASH = content_hash(PLACEHOLDER_RESPONSE)


def check_note(text: str | None, what: str) -> None:
    """Refuse a rationale or note longer than :data:`MAX_NOTE_CHARS`, saying by how much."""
    if text and len(text) > MAX_NOTE_CHARS:
        raise StoreError(
            f"a {what} holds at most {MAX_NOTE_CHARS:,} characters; this one has {len(text):,}"
        )


class StoreError(Exception):
    """A request the store refuses: unknown study, model without responses, bad score."""


class DuplicateConflict(StoreError):
    """An id that is already stored with different content."""


@dataclass(frozen=True)
class Prompt:
    id: str
    category: str
    messages: list[dict[str, str]]
    tags: list[str]
    turns: int


@dataclass(frozen=True)
class Study:
    id: int
    name: str
    question: str
    guidelines: str
    scale: Scale
    overlap: int
    models: list[str]
    pair_plan: dict[str, Any]
    gold_rate: float
    created_at: str
    adaptive: bool = False
    demo: bool = False
    set_apart_at: str | None = None
    read_only: bool = False
    """Imported without the texts of its prompts or responses: reported, never annotated."""

    @property
    def set_apart(self) -> bool:
        """Set apart (the demo, once sign-in is on): no longer handed out to annotators, and left
        out of reports, Progress and exports over all studies unless asked for by name."""
        return self.set_apart_at is not None


@dataclass(frozen=True)
class Annotator:
    id: int
    name: str
    role: str
    email: str | None
    excluded: bool
    judge_kind: str = "human"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_model(self) -> bool:
        """An automatic judge: its verdicts are imported; it is never assigned work."""
        return self.judge_kind == "model"


@dataclass(frozen=True)
class Assignment:
    """A comparison handed to one annotator, with the side order they will see.

    It carries the model names because the store is server side; the page must only ever render
    ``left`` and ``right``.
    """

    comparison_id: int
    study_id: int
    prompt: Prompt
    shown_order: str
    left: str
    right: str
    model_a: str
    model_b: str
    is_gold: bool


@dataclass(frozen=True)
class Recorded:
    """What happened to a submitted judgment or pass: ``stored``, ``duplicate`` or ``full``."""

    status: str
    judgment_id: int | None = None

    @property
    def stored(self) -> bool:
        return self.status == "stored"


@dataclass(frozen=True)
class ImportedJudgment:
    """A judgment made outside the app, ready for :meth:`Store.add_judgments`.

    ``score`` is oriented to the comparison's model A; ``shown_order`` is ``None`` when the side
    each response was shown on is unknown; ``created_at`` defaults to the import time.
    ``p_a`` is a soft verdict, the probability that A is better (``None``: the score says it);
    ``score_ab`` and ``score_ba`` are a judge's scores with A shown first and with B shown first,
    when it saw both orders.
    """

    comparison_id: int
    annotator_id: int
    score: int
    shown_order: str | None = None
    rationale: str = ""
    seconds: float | None = None
    created_at: str | None = None
    p_a: float | None = None
    score_ab: int | None = None
    score_ba: int | None = None
