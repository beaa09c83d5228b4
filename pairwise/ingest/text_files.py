"""Prompt files and response files in: read whole, checked, then written in one transaction."""

from __future__ import annotations

from pathlib import Path

from .. import progress
from ..store import Prompt, Store
from . import alpaca_eval, own
from .judgments import JUDGMENT_FORMATS
from .reader import Imported, Problems, Record, read_records
from .texts import ResponseFormat, new_prompts, new_responses, parsed

RESPONSE_FORMATS: tuple[ResponseFormat, ...] = (alpaca_eval.MODEL_OUTPUTS, own.RESPONSES)
"""Tried in order: the first whose ``recognises`` accepts the file's records reads them."""


def read_prompts(path: str | Path) -> list[Prompt]:
    """The prompts of a file, checked on their own (without a store)."""
    problems = Problems(str(path))
    items = parsed(read_records(path, problems), own.prompt_from, problems)
    prompts = new_prompts(((line, "id", p) for line, p in items), problems, None)
    problems.check()
    return prompts


def import_prompts(store: Store, path: str | Path) -> Imported:
    """Add a prompts file to the store, all or nothing."""
    problems = Problems(str(path))
    items = parsed(read_records(path, problems), own.prompt_from, problems)
    problems.check()
    with store.transaction():
        prompts = new_prompts(((line, "id", p) for line, p in items), problems, store)
        problems.check()
        inserted, unchanged = store.add_prompts(progress.track(prompts, "writing prompts"))
    return Imported(str(path), {"prompts": inserted}, {"prompts": unchanged})


def import_responses(store: Store, path: str | Path) -> Imported:
    """Add a responses file (or an AlpacaEval ``model_outputs.json``) to the store, all or nothing."""
    problems = Problems(str(path))
    records = read_records(path, problems)
    _refuse_judgments(records, problems)
    form = next(f for f in RESPONSE_FORMATS if f.recognises(records))
    if records:
        problems.read_as = form.name
    pairs = parsed(records, form.read, problems)
    items = [(line, form.response_field, r) for line, (_, r) in pairs]
    problems.check()
    inserted: dict[str, int] = {}
    unchanged: dict[str, int] = {}
    with store.transaction():
        prompts: list[Prompt] = []
        if form.prompt_field is not None:
            prompts = new_prompts(
                ((line, form.prompt_field, p) for line, (p, _) in pairs), problems, store
            )
        known = store.prompt_ids() | {p.id for p in prompts}
        for line, _, r in items:
            if r.prompt_id not in known:
                problems.add(
                    line, "prompt_id", f"unknown prompt id {r.prompt_id!r}; import it first"
                )
        responses = new_responses(items, problems, store)
        problems.check()
        if form.prompt_field is not None:
            inserted["prompts"], unchanged["prompts"] = store.add_prompts(
                progress.track(prompts, "writing prompts")
            )
        progress.report("writing responses", 0, 1)  # one bulk write: a single step
        inserted["responses"], unchanged["responses"] = store.add_responses(responses)
        progress.report("writing responses", 1, 1)
    return Imported(str(path), inserted, unchanged, form.name)


def _refuse_judgments(records: list[Record], problems: Problems) -> None:
    """A judgment file given as responses is refused as a whole, with the command it needs."""
    if not records or "response" in records[0].data or "output" in records[0].data:
        return
    for form in JUDGMENT_FORMATS:
        if form.recognises(records[0].data):
            problems.add(
                None,
                None,
                f"holds judgments ({form.name}), not responses:"
                " import it with `pairwise import judgments`",
            )
            problems.check()
