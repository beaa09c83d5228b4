"""Prompts and responses built from records, kept once per key and checked against the store.

Any format that brings texts (our own files, AlpacaEval outputs, judgment files with their
conversations) goes through :func:`new_prompts` and :func:`new_responses`: the same id with other
content, earlier in the file or already stored, is a problem on the line that repeats it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from .. import progress
from ..store import Prompt, Store, content_hash, is_placeholder_prompt, is_placeholder_response
from .fields import Fields
from .reader import Problems, Record

DEFAULT_CATEGORY = "uncategorized"


class Response(NamedTuple):
    prompt_id: str
    model: str
    content: str


class ResponseFormat(NamedTuple):
    """A responses file format: whether a file's ``records`` are in it, and how one reads.

    ``read`` gives the record's response and, for formats that carry the prompt text, its prompt
    (else ``None``); problems with them name ``response_field`` and ``prompt_field``.
    """

    name: str
    recognises: Callable[[list[Record]], bool]
    read: Callable[[Record, Problems], tuple[Prompt | None, Response] | None]
    response_field: str
    prompt_field: str | None = None


def prompt_messages(f: Fields, *, required: bool) -> list[dict[str, str]] | None:
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


def make_prompt(prompt_id: str, category: str, messages: list[dict[str, str]], tags=()) -> Prompt:
    turns = sum(m["role"] == "user" for m in messages)
    return Prompt(prompt_id, category, messages, list(tags), turns)


def parsed(records: Sequence[Record], parse: Callable, problems: Problems) -> list[tuple]:
    """``(line, value)`` for each record that ``parse`` accepts."""
    out = []
    for record in progress.track(records, "checking records"):
        value = parse(record, problems)
        if value is not None:
            out.append((record.line, value))
    return out


def _new_items(
    items: Iterable[tuple[int, str, Any, Any]],
    problems: Problems,
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
        if is_placeholder_prompt(old.messages):
            return None  # stored without its text: this text takes its place
        changed = [
            n for n in ("category", "messages", "tags") if getattr(old, n) != getattr(prompt, n)
        ]
        return f"another {' and '.join(changed)}" if changed else None

    return differs


def _response_checker(store: Store) -> Callable[[tuple[str, str], Response], str | None]:
    stored = store.response_hashes()

    def differs(key: tuple[str, str], response: Response) -> str | None:
        digest = stored.get(key)
        if digest is None or is_placeholder_response(digest):
            return None  # nothing stored, or a placeholder this text takes the place of
        if digest == content_hash(response.content):
            return None
        return "other text"

    return differs


def new_prompts(
    items: Iterable[tuple[int, str, Prompt]], problems: Problems, store: Store | None
) -> list[Prompt]:
    """``(line, field, prompt)`` items once per id; ``store=None`` checks the file alone."""
    return _new_items(
        ((line, name, p.id, p) for line, name, p in items),
        problems,
        describe=lambda key: f"prompt id {key!r}",
        stored_differs=_prompt_checker(store) if store else lambda key, value: None,
    )


def new_responses(
    items: Iterable[tuple[int, str, Response]], problems: Problems, store: Store
) -> list[Response]:
    return _new_items(
        ((line, name, (r.prompt_id, r.model), r) for line, name, r in items),
        problems,
        describe=lambda key: f"the response of {key[1]!r} to prompt {key[0]!r}",
        stored_differs=_response_checker(store),
    )
