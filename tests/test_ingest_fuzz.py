"""Random malformed files never break an importer.

Whatever the bytes, an import either succeeds or raises ``IngestError`` (never another exception);
a failed import leaves the database exactly as it was (a full SQL dump compares equal), and a file
that imported once imports again without writing anything.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from databases import ON_POSTGRES, Databases, dump
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pairwise.ingest import IngestError, import_judgments, import_prompts, import_responses
from pairwise.store import Store

pytestmark = pytest.mark.stress

# Each example works on a fresh copy of a store: a file copy on SQLite, a CREATE DATABASE on
# PostgreSQL, which costs ten times as much; there the properties are tried on fewer examples.
FUZZ = settings(
    max_examples=60 if ON_POSTGRES else 200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

PROMPT_KEYS = ["id", "category", "prompt", "messages", "tags"]
RESPONSE_KEYS = ["prompt_id", "model", "response", "instruction", "output", "generator", "dataset"]
JUDGMENT_KEYS = [
    "question_id", "model_a", "model_b", "winner", "judge", "turn", "conversation_a",
    "conversation_b", "tstamp", "study", "prompt_id", "score", "outcome", "scale", "shown_order",
    "annotator", "seconds", "created_at", "rationale", "messages", "prompt", "response_a",
    "response_b", "category", "turns",
]  # fmt: skip
WORDS = [
    "p1", "p2", "m1", "m2", "model_a", "model_b", "tie", "tie (bothbad)", "win", "loss", "AB",
    "BA", "user", "assistant", "", " ", "7", "3", "2020-01-01T00:00:00+00:00", "a;b", "<b>x</b>", "\ud800x",
]  # fmt: skip
KEYS = {"prompts": PROMPT_KEYS, "responses": RESPONSE_KEYS, "judgments": JUDGMENT_KEYS}
IMPORTERS: dict[str, Callable] = {
    "prompts": import_prompts,
    "responses": import_responses,
    "judgments": import_judgments,
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(WORDS)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "assistant", "system", "bot"]),
            "content": st.text(max_size=8) | st.sampled_from(WORDS),
        }
    ),
    max_size=4,
)
values = scalars | messages | json_values


ids = st.sampled_from(["p1", "p2", "v1", "v2"])
models = st.sampled_from(["m1", "m2", "m3"])
short_text = st.text(min_size=1, max_size=10)
pairs = st.sampled_from([("m1", "m2"), ("m2", "m1"), ("m1", "m3"), ("m3", "m2")])


def chat(texts: list[str], last: str) -> list[dict]:
    """Alternating turns that end with ``last``."""
    roles = ["user", "assistant"] if last == "user" else ["assistant", "user"]
    return [{"role": roles[(len(texts) - 1 - i) % 2], "content": t} for i, t in enumerate(texts)]


prompt_chat = st.lists(short_text, min_size=1, max_size=4).map(lambda t: chat(t, "user"))
battle_chat = st.lists(short_text, min_size=2, max_size=4).map(lambda t: chat(t, "assistant"))
# Records that are often valid, so that the success path (and re-import) is exercised too.
PLAUSIBLE = {
    "prompts": st.fixed_dictionaries(
        {"id": ids, "prompt": short_text},
        optional={"category": st.sampled_from(["c", "d"]), "tags": st.lists(short_text)},
    )
    | st.fixed_dictionaries({"id": ids, "messages": prompt_chat}),
    "responses": st.fixed_dictionaries({"prompt_id": ids, "model": models, "response": short_text}),
    "judgments": st.fixed_dictionaries(
        {
            "question_id": st.sampled_from(["q1", "q2", 3]),
            "models": pairs,
            "winner": st.sampled_from(["model_a", "model_b", "tie", "tie (bothbad)"]),
            "judge": st.sampled_from(["j1", "j2"]),
        },
        optional={"turn": st.integers(1, 2), "conversation_a": battle_chat},
    )
    | st.fixed_dictionaries(
        {
            "prompt_id": ids,
            "models": pairs,
            "score": st.integers(-3, 3),
            "annotator": st.sampled_from(["k1", "k2"]),
        },
        optional={"scale": st.sampled_from([3, 7]), "study": st.sampled_from(["s1", "s2"])},
    ),
}


def records(kind: str) -> st.SearchStrategy[list[dict]]:
    """Plausible records with the odd field replaced or added, and random ones."""
    keys = KEYS[kind]
    field_names = st.sampled_from(keys) | st.text(max_size=6)
    broken = st.dictionaries(field_names, values, max_size=1)
    nearly = st.builds(lambda base, extra: {**_unpack(base), **extra}, PLAUSIBLE[kind], broken)
    random = st.dictionaries(field_names, values, max_size=len(keys) + 1)
    return st.lists(nearly, max_size=5) | st.lists(nearly | random, max_size=5)


def _unpack(record: dict) -> dict:
    """``models`` stands for two different models, drawn together."""
    if "models" in record:
        record = dict(record)
        record["model_a"], record["model_b"] = record.pop("models")
    return record


@dataclass(frozen=True)
class Fuzz:
    """The folder the examples write their files to, and the store each example starts from."""

    folder: Path
    databases: Databases
    template: str

    @contextlib.contextmanager
    def store(self) -> Iterator[Store]:
        """A copy of the template, so that every example (and its replay) starts from the same
        state."""
        work = self.databases.new(self.folder, "work", copy_of=self.template)
        store = Store(work)
        try:
            yield store
        finally:
            store.close()
            self.databases.drop(work)


@pytest.fixture(scope="module")
def fuzz(databases: Databases, tmp_path_factory) -> Fuzz:
    """A small database (two prompts, two models) that each example starts from."""
    folder = tmp_path_factory.mktemp("fuzz")
    prompts = folder / "p.jsonl"
    prompts.write_text(
        '{"id": "p1", "prompt": "Hi?"}\n{"id": "p2", "messages": [{"role": "user", "content": "Yo"}]}\n'
    )
    responses = folder / "r.csv"
    responses.write_text("prompt_id,model,response\np1,m1,a\np1,m2,b\np2,m1,c\np2,m2,d\n")

    def fill(location: str) -> None:
        with Store(location) as store:
            import_prompts(store, prompts)
            import_responses(store, responses)

    return Fuzz(folder, databases, databases.template("template", fill, folder))


def check_import(store: Store, kind: str, path: Path, **options) -> None:
    """The property: success (and then idempotence) or an IngestError that wrote nothing."""
    importer = IMPORTERS[kind]
    before = dump(store)
    try:
        importer(store, path, **options)
    except IngestError as e:
        event(f"{kind}: refused")
        assert e.problems and str(e)
        assert dump(store) == before
        return
    event(f"{kind}: imported")
    after = dump(store)
    again = importer(store, path, **options)
    assert sum(again.inserted.values()) == 0
    assert dump(store) == after


def as_jsonl(items: list[dict], ascii_only: bool) -> bytes:
    text = "".join(json.dumps(r, ensure_ascii=ascii_only) + "\n" for r in items)
    return text.encode("utf-8", errors="surrogatepass")


def as_csv(items: list[dict], keys: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(keys)
    for r in items:
        writer.writerow(
            [v if isinstance(v, str) else json.dumps(v) for v in (r.get(k, "") for k in keys)]
        )
    return out.getvalue().encode("utf-8", errors="surrogatepass")


@FUZZ
@given(
    kind=st.sampled_from(sorted(IMPORTERS)),
    suffix=st.sampled_from([".jsonl", ".json", ".csv"]),
    content=st.binary(max_size=300),
)
def test_random_bytes(fuzz, kind, suffix, content):
    path = fuzz.folder / f"bytes{suffix}"
    path.write_bytes(content)
    with fuzz.store() as store:
        check_import(store, kind, path)


@FUZZ
@given(
    data=st.data(),
    kind=st.sampled_from(sorted(IMPORTERS)),
    form=st.sampled_from(["jsonl", "csv", "json"]),
)
def test_random_records(fuzz, data, kind, form):
    keys = KEYS[kind]
    items = data.draw(records(kind))
    if form == "jsonl":
        content = as_jsonl(items, ascii_only=data.draw(st.booleans()))
    elif form == "csv":
        content = as_csv(items, data.draw(st.lists(st.sampled_from(keys), min_size=1, unique=True)))
    else:
        content = json.dumps(items).encode()
    path = fuzz.folder / f"{kind}.{form}"
    path.write_bytes(content)
    options = {"study": data.draw(st.sampled_from([None, "fz"]))} if kind == "judgments" else {}
    with fuzz.store() as store:
        check_import(store, kind, path, **options)


VALID = {
    "prompts": b'{"id": "v1", "category": "c", "prompt": "Hello", "tags": ["t"]}\n'
    b'{"id": "v2", "messages": [{"role": "user", "content": "A"}, '
    b'{"role": "assistant", "content": "B"}, {"role": "user", "content": "C"}]}\n',
    "responses": b'prompt_id,model,response\np1,m3,"one, two"\np2,m3,three\n',
    "judgments": b'[{"question_id": "q", "model_a": "m1", "model_b": "m2", "winner": "tie",'
    b' "judge": "j", "turn": 1, "conversation_a": [{"role": "user", "content": "Q"},'
    b' {"role": "assistant", "content": "A"}], "conversation_b": [{"role": "user", "content":'
    b' "Q"}, {"role": "assistant", "content": "B"}]},\n {"prompt_id": "p1", "model_a": "m2",'
    b' "model_b": "m1", "score": -1, "scale": 3, "annotator": "k", "study": "fz"}]\n',
}
SUFFIX = {"prompts": ".jsonl", "responses": ".csv", "judgments": ".json"}
# Each kind in its other formats too, so that every reader meets mutated input.
VALID_FILES = {(kind, SUFFIX[kind]): content for kind, content in VALID.items()} | {
    ("prompts", ".csv"): b'id,category,prompt,tags\nv1,c,"Hi, ""you""",t;u\nv2,,"two\nlines",\n',
    ("responses", ".jsonl"): b'{"prompt_id": "p1", "model": "m3", "response": "one"}\n\n'
    b'{"prompt_id": "p2", "model": "m3", "response": "two"}\n',
    ("judgments", ".csv"): b"prompt_id,model_a,model_b,score,scale,annotator,study\n"
    b"p1,m2,m1,-1,3,k,fz\np2,m1,m2,1,3,k,fz\n",
    ("judgments", ".jsonl"): b'{"question_id": 7, "model_a": "m1", "model_b": "m2",'
    b' "winner": "model_a", "judge": ["j", "x"]}\n{"prompt_id": "p2", "model_a": "m1",'
    b' "model_b": "m2", "outcome": "win", "annotator": "k"}\n',
}


@pytest.mark.parametrize(("kind", "suffix"), sorted(VALID_FILES))
def test_the_files_to_mutate_import(fuzz, kind, suffix):
    path = fuzz.folder / f"valid{suffix}"
    path.write_bytes(VALID_FILES[kind, suffix])
    with fuzz.store() as store:
        assert sum(IMPORTERS[kind](store, path).inserted.values()) > 0


@FUZZ
@given(
    source=st.sampled_from(sorted(VALID_FILES)),
    edits=st.lists(
        st.tuples(st.sampled_from(["delete", "insert", "replace"]), st.integers(0, 10**6),
                  st.binary(min_size=1, max_size=4)),
        max_size=4,
    ),
)  # fmt: skip
def test_mutated_valid_files(fuzz, source, edits):
    kind, suffix = source
    content = bytearray(VALID_FILES[source])
    for action, at, chunk in edits:
        at %= len(content) + 1
        if action == "delete":
            del content[at : at + len(chunk)]
        elif action == "insert":
            content[at:at] = chunk
        else:
            content[at : at + len(chunk)] = chunk
    path = fuzz.folder / f"mutated{suffix}"
    path.write_bytes(bytes(content))
    with fuzz.store() as store:
        check_import(store, kind, path)
