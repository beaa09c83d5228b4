"""Study set-up: :class:`StudySpec`, study files, ``--pairs`` and ``--prompts`` options."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..plans import describe_plan, plan_pairs
from ..store import Store, StoreError, Study
from .fields import Fields
from .reader import (
    IngestError,
    Problem,
    Problems,
    Record,
    json_error,
    kind,
    parse_json,
    read_records,
    read_text,
)


@dataclass(frozen=True)
class StudySpec:
    """What ``pairwise study create`` and a study file (``prompts/demo_study.json``) set up.

    ``pairs`` is ``"all"`` (every pair of ``models``), ``"baseline:MODEL"`` (each other model
    against MODEL) or a list ``"a:b,c:d"`` (model A first). ``prompt_ids`` limits the prompts
    (``None``: every prompt both models of a pair answered). ``gold`` marks comparisons as gold
    checks: ``(prompt_id, model_a, model_b, score)`` with the score oriented to ``model_a``.
    ``adaptive`` hands the least settled pair's comparisons out first.
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
    adaptive: bool = False


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
            adaptive=spec.adaptive,
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
    problems = Problems(value)
    if path.suffix.lower() == ".txt":
        text = read_text(path, problems)
        problems.check()
        return [line.strip() for line in text.splitlines() if line.strip()]
    ids = []
    for record in read_records(path, problems):
        prompt_id = Fields(record, problems).name("id")
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
    problems = Problems(file)
    text = read_text(Path(path), problems)
    problems.check()
    try:
        data = parse_json(text)
    except ValueError as e:
        line = e.lineno if isinstance(e, json.JSONDecodeError) else None
        raise IngestError(file, [Problem(line, None, json_error(e))]) from None
    if not isinstance(data, dict):
        raise IngestError(file, [Problem(1, None, f"expected a JSON object, found {kind(data)}")])
    f = _SpecFields(Record(1, data, False), problems, text)
    spec = _spec_from(f, Path(path).parent)
    problems.check()
    return spec


class _SpecFields(Fields):
    """Fields of a single JSON object: each problem names the line its key is on."""

    def __init__(self, record: Record, problems: Problems, text: str) -> None:
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
            self.problem(name, f"must be a non-empty list of strings, not {kind(value)}")
            return None
        out = [self.check_text(f"{name}[{i}]", v) for i, v in enumerate(value)]
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
        f.problem("pairs", f'must be "all", "baseline:MODEL" or a list of pairs, not {kind(pairs)}')
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
    problems = Problems(str(path))
    text = read_text(path, problems)
    for p in problems.items:
        f.problem("guidelines", p.describe(str(path)))
    return text


def _gold_items(f: _SpecFields) -> list[tuple[str, str, str, int]]:
    value = f.record.data.get("gold") or []
    if not isinstance(value, list):
        f.problem("gold", f"must be a list of objects, not {kind(value)}")
        return []
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            f.problem(f"gold[{i}]", f"must be an object, not {kind(item)}")
            continue
        sub = _SpecFields(Record(f.record.line, item, False), f.problems, f.text_of_file)
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
