"""Files in: every format on real files and a real SQLite store.

Bad input must raise ``IngestError`` naming file, line and field, and leave the database exactly as
it was (compared as a full SQL dump). Expected values come from the hand-written fixtures, never
from the importer's own output.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from databases import dump

from pairwise.demo import demo_dir, ensure_demo
from pairwise.ingest import (
    MAX_FIELD_CHARS,
    IngestError,
    StudySpec,
    alpaca_eval_prompt_id,
    create_study,
    import_judgments,
    import_prompts,
    import_responses,
    parse_pairs,
    read_prompt_ids,
    read_prompts,
    read_study_spec,
)
from pairwise.store import Prompt, Store

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


@pytest.fixture
def seeded(store, write_file):
    """A store with two prompts and two models' responses to them."""
    import_prompts(
        store,
        write_file(
            "seed_prompts.jsonl",
            jsonl({"id": "p1", "prompt": "Hi?"}, {"id": "p2", "prompt": "Bye?", "category": "x"}),
        ),
    )
    import_responses(
        store,
        write_file(
            "seed_responses.jsonl",
            jsonl(
                {"prompt_id": "p1", "model": "m1", "response": "Hello"},
                {"prompt_id": "p1", "model": "m2", "response": "Hey"},
            ),
        ),
    )
    return store


# -- prompts ----------------------------------------------------------------------------------


PROMPT_RECORDS = [
    {"id": "p1", "category": "math", "prompt": "What is 2+2?", "tags": ["easy", "arith"]},
    {
        "id": "p2",
        "messages": [
            {"role": "system", "content": "Be brief."},
            user("Name a prime."),
            assistant("7"),
            user("Another?"),
        ],
    },
    {"id": "p3", "prompt": "<script>alert('x')</script> & <b>bold</b>"},
]


def test_jsonl_prompts_are_stored_as_given(store, write_file):
    result = import_prompts(store, write_file("prompts.jsonl", jsonl(*PROMPT_RECORDS)))
    assert result.inserted == {"prompts": 3} and result.unchanged == {"prompts": 0}
    assert store.get_prompt("p1") == Prompt(
        "p1", "math", [user("What is 2+2?")], ["easy", "arith"], 1
    )
    p2 = store.get_prompt("p2")
    assert p2.category == "uncategorized" and p2.turns == 2 and p2.tags == []
    assert p2.messages == PROMPT_RECORDS[1]["messages"]
    assert store.get_prompt("p3").messages[0]["content"] == PROMPT_RECORDS[2]["prompt"]


def test_empty_optional_fields_take_their_defaults(store, write_file):
    import_prompts(store, write_file("p.jsonl", jsonl({"id": "e", "prompt": "x", "category": ""})))
    assert store.get_prompt("e").category == "uncategorized"
    record = {"question_id": 81.0, "model_a": "a", "model_b": "b", "winner": "tie", "judge": "j"}
    import_judgments(store, write_file("floats.jsonl", jsonl(record)))
    assert store.judgments_frame("floats")["prompt_id"].tolist() == ["81"]


def test_csv_prompts_read_like_jsonl(store, write_file):
    text = (
        "id,category,prompt,messages,tags\n"
        "p1,math,What is 2+2?,,easy; arith\n"
        'p2,,,"[{""role"": ""system"", ""content"": ""Be brief.""},'
        ' {""role"": ""user"", ""content"": ""Name a prime.""},'
        ' {""role"": ""assistant"", ""content"": ""7""},'
        ' {""role"": ""user"", ""content"": ""Another?""}]",\n'
        "p3,,<script>alert('x')</script> & <b>bold</b>,,\n"
    )
    from_csv = read_prompts(write_file("prompts.csv", text))
    from_jsonl = read_prompts(write_file("prompts.jsonl", jsonl(*PROMPT_RECORDS)))
    assert from_csv == from_jsonl


def test_byte_order_mark_and_crlf_are_accepted(store, write_file):
    text = jsonl(*PROMPT_RECORDS).replace("\n", "\r\n")
    assert import_prompts(
        store, write_file("p.jsonl", b"\xef\xbb\xbf" + text.encode())
    ).inserted == {"prompts": 3}
    csv_text = "\ufeffid,prompt\r\np9,Hello\r\n"
    import_prompts(store, write_file("p.csv", csv_text.encode("utf-8")))
    assert store.get_prompt("p9").messages == [user("Hello")]


def test_reimport_is_idempotent(store, write_file):
    path = write_file("prompts.jsonl", jsonl(*PROMPT_RECORDS))
    import_prompts(store, path)
    before = dump(store)
    again = import_prompts(store, path)
    assert again.inserted == {"prompts": 0} and again.unchanged == {"prompts": 3}
    assert dump(store) == before


def test_csv_line_numbers_are_physical_lines(store, write_file):
    text = 'id,prompt\np1,"two\nlines"\np2,"three\nphysical\nlines"\np3\n'
    with pytest.raises(IngestError) as caught:
        import_prompts(store, write_file("prompts.csv", text))
    assert caught.value.line == 7
    assert store.prompt_ids() == set()


def test_many_problems_are_reported_together(store, write_file):
    lines = [json.dumps({"id": f"p{i}", "prompt": ""}) for i in range(30)]
    path = write_file("prompts.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(IngestError) as caught:
        import_prompts(store, path)
    e = caught.value
    assert [p.line for p in e.problems] == list(range(1, 21))
    assert {p.field for p in e.problems} == {"prompt"}
    assert e.more == 10
    assert str(e).splitlines()[-1] == "... and 10 more problems"
    assert str(e).splitlines()[0] == f'{path}, line 1, field "prompt": is empty'


BAD_PROMPT_FILES = [
    # (name, content, line, field, part of the message)
    ("p.jsonl", '{"id": "a", "prompt": "x"}\n{"id": "b", "prompt": \n', 2, None, "not valid JSON"),
    ("p.jsonl", '{"id": "a", "prompt": "x"}\n["b", "x"]\n', 2, None, "expected a JSON object"),
    ("p.jsonl", '{"id": "a", "prompt": "x"}\n{"prompt": "x"}\n', 2, "id", "is missing"),
    ("p.jsonl", '{"id": 7, "prompt": "x"}\n', 1, "id", "must be a string"),
    ("p.jsonl", '{"id": "a", "prompt": ["x"]}\n', 1, "prompt", "must be a string"),
    ("p.jsonl", '{"id": "a", "prompt": "x", "tags": "t1"}\n', 1, "tags", "must be a list"),
    (
        "p.jsonl",
        '{"id": "a", "prompt": "x", "tags": ["ok", 3]}\n',
        1,
        "tags[1]",
        "must be a string",
    ),
    ("p.jsonl", '{"id": "a", "prompt": "x", "category": 5}\n', 1, "category", "must be a string"),
    ("p.jsonl", '{"id": "a"}\n', 1, "prompt", "is missing"),
    ("p.jsonl", '{"id": "a", "prompt": "   "}\n', 1, "prompt", "is empty"),
    (
        "p.jsonl",
        '{"id": "a", "prompt": "x", "messages": [{"role": "user", "content": "x"}]}\n',
        1,
        "messages",
        "not both",
    ),
    ("p.jsonl", '{"id": "a", "messages": {"role": "user"}}\n', 1, "messages", "non-empty list"),
    ("p.jsonl", '{"id": "a", "messages": []}\n', 1, "messages", "non-empty list"),
    (
        "p.jsonl",
        '{"id": "a", "messages": [{"role": "bot", "content": "x"}]}\n',
        1,
        "messages[0].role",
        "must be one of",
    ),
    (
        "p.jsonl",
        '{"id": "a", "messages": [{"role": "user", "content": 1}]}\n',
        1,
        "messages[0].content",
        "must be a string",
    ),
    (
        "p.jsonl",
        '{"id": "a", "messages": [{"role": "user", "content": "x", "name": "n"}]}\n',
        1,
        "messages[0]",
        "unknown key",
    ),
    (
        "p.jsonl",
        '{"id": "a", "messages": [{"role": "user", "content": "q"}, '
        '{"role": "assistant", "content": "a"}]}\n',
        1,
        "messages",
        "must end with a user turn",
    ),
    (
        "p.jsonl",
        '{"id": "a", "messages": [{"role": "system", "content": "s"}]}\n',
        1,
        "messages",
        "no user turn",
    ),
    (
        "p.jsonl",
        '{"id": "a", "prompt": "x"}\n{"id": "b", "prompt": "y"}\n{"id": "a", "prompt": "z"}\n',
        3,
        "id",
        "also on line 1",
    ),
    ("p.jsonl", '{"id": "a", "prompt": "bad \\ud800 surrogate"}\n', 1, "prompt", "surrogate"),
    ("p.csv", "id,prompt\na,x\nb,y,extra\n", 3, None, "has 3 fields"),
    (
        "p.csv",
        'id,messages\na,"[{""role"": ""user"", ""content"": ""x""}"\n',
        2,
        "messages",
        "not valid JSON",
    ),
    ("p.csv", 'id,prompt\na,"never closed\n', 2, None, "not valid CSV"),
    ("p.csv", "id,prompt,id\na,x,b\n", 1, "id", "names this column twice"),
    (
        "p.json",
        '[\n  {"id": "a", "prompt": "x"},\n  {"id": "b", "prompt": ""}\n]\n',
        3,
        "prompt",
        "is empty",
    ),
    (
        "p.json",
        '[\n  {"id": "a", "prompt": "x"},\n  {"id": "b" "prompt": "y"}\n]\n',
        3,
        None,
        "not valid JSON",
    ),
    ("p.json", '[{"id": "a", "prompt": "x"}]\n{"more": 1}\n', 2, None, "extra content"),
]


@pytest.mark.parametrize(("name", "content", "line", "field", "message"), BAD_PROMPT_FILES)
def test_bad_prompt_files_name_line_and_field_and_write_nothing(
    seeded, write_file, name, content, line, field, message
):
    path = write_file(name, content)
    before = dump(seeded)
    with pytest.raises(IngestError) as caught:
        import_prompts(seeded, path)
    e = caught.value
    assert (e.file, e.line, e.field) == (str(path), line, field), str(e)
    assert message in e.message, str(e)
    where = f"{path}, line {line}" + (f', field "{field}"' if field else "")
    assert str(e).startswith(f"{where}: "), str(e)
    assert dump(seeded) == before


BAD_FILES = [
    # whole-file problems: (name, bytes, line, part of the message)
    ("p.jsonl", '{"id": "a", "prompt": "caf\xe9"}\n'.encode("latin-1"), 1, "not UTF-8"),
    ("p.jsonl", '{"id": "a", "prompt": "x"}\n'.encode("utf-16"), None, "UTF-16"),
    ("p.jsonl", '{"id": "a", "prompt": "x"}\n'.encode("utf-16-le"), 1, "NUL"),
    ("p.jsonl", b"", None, "is empty"),
    ("p.jsonl", b"\n  \n\n", None, "is empty"),
    ("p.csv", b"id,prompt\n", None, "no records"),
    ("p.json", b"[]", None, "no records"),
    ("p.txt", b'{"id": "a", "prompt": "x"}\n', None, "unknown file type"),
    ("p.xlsx", b"PK\x03\x04", None, "unknown file type"),
]


@pytest.mark.parametrize(("name", "content", "line", "message"), BAD_FILES)
def test_bad_files_are_refused_whole(seeded, write_file, name, content, line, message):
    path = write_file(name, content)
    before = dump(seeded)
    for importer in (import_prompts, import_responses, import_judgments):
        with pytest.raises(IngestError) as caught:
            importer(seeded, path)
        assert (caught.value.file, caught.value.line) == (str(path), line)
        assert message in caught.value.message
    assert dump(seeded) == before


def test_missing_file_is_an_ingest_error(store, tmp_path):
    with pytest.raises(IngestError, match="cannot be read"):
        import_prompts(store, tmp_path / "nowhere.jsonl")


def test_prompt_conflicting_with_the_store_is_refused(seeded, write_file):
    before = dump(seeded)
    path = write_file(
        "p.jsonl", jsonl({"id": "p9", "prompt": "new"}, {"id": "p1", "prompt": "Hi!"})
    )
    with pytest.raises(IngestError) as caught:
        import_prompts(seeded, path)
    assert (caught.value.line, caught.value.field) == (2, "id")
    assert "already stored with another messages" in caught.value.message
    assert dump(seeded) == before


def test_huge_text_imports_and_oversized_fields_do_not(store, write_file):
    big = "<p>" + "x" * 1_000_000 + "</p>"
    import_prompts(store, write_file("p.jsonl", jsonl({"id": "p1", "prompt": "Say a lot."})))
    import_responses(store, write_file("r.csv", f"prompt_id,model,response\np1,m1,{big}\n"))
    stored = store.query("SELECT content, chars FROM responses WHERE model = 'm1'")[0]
    assert stored == {"content": big, "chars": len(big)}
    before = dump(store)
    too_big = "y" * (MAX_FIELD_CHARS + 1)
    for name, text in [
        ("r2.jsonl", jsonl({"prompt_id": "p1", "model": "m2", "response": too_big})),
        ("r2.csv", f"prompt_id,model,response\np1,m2,{too_big}\n"),
    ]:
        with pytest.raises(IngestError) as caught:
            import_responses(store, write_file(name, text))
        assert (caught.value.line, caught.value.field) == (
            (1, "response") if name.endswith("jsonl") else (2, "response")
        )
        assert "limit" in caught.value.message
    assert dump(store) == before


# -- responses ----------------------------------------------------------------------------------


def test_responses_import_and_reimport(seeded, write_file):
    path = write_file(
        "r.jsonl",
        jsonl(
            {"prompt_id": "p2", "model": "m1", "response": "So long"},
            {"prompt_id": "p2", "model": " m2 ", "response": "  Bye!\n"},
        ),
    )
    assert import_responses(seeded, path).inserted == {"responses": 2}
    rows = seeded.query(
        "SELECT model, content FROM responses WHERE prompt_id = 'p2' ORDER BY model"
    )
    assert rows == [{"model": "m1", "content": "So long"}, {"model": "m2", "content": "  Bye!\n"}]
    again = import_responses(seeded, path)
    assert again.inserted == {"responses": 0} and again.unchanged == {"responses": 2}


BAD_RESPONSE_FILES = [
    (
        "r.jsonl",
        {"prompt_id": "nope", "model": "m1", "response": "x"},
        "prompt_id",
        "unknown prompt",
    ),
    ("r.jsonl", {"prompt_id": "p2", "model": "m1", "response": None}, "response", "is missing"),
    ("r.jsonl", {"prompt_id": "p2", "model": "m1"}, "response", "is missing"),
    ("r.jsonl", {"prompt_id": "p2", "response": "x"}, "model", "is missing"),
    (
        "r.jsonl",
        {"prompt_id": "p2", "model": "m1", "response": 3.5},
        "response",
        "must be a string",
    ),
    (
        "r.jsonl",
        {"prompt_id": "p1", "model": "m1", "response": "Changed"},
        "response",
        "already stored with other text",
    ),
]


@pytest.mark.parametrize(("name", "bad", "field", "message"), BAD_RESPONSE_FILES)
def test_bad_response_files(seeded, write_file, name, bad, field, message):
    good = {"prompt_id": "p2", "model": "m3", "response": "fine"}
    path = write_file(name, jsonl(good, bad))
    before = dump(seeded)
    with pytest.raises(IngestError) as caught:
        import_responses(seeded, path)
    assert (caught.value.line, caught.value.field) == (2, field)
    assert message in caught.value.message
    assert dump(seeded) == before


def test_duplicate_response_in_one_file(seeded, write_file):
    text = "prompt_id,model,response\np2,m1,one\np2,m2,two\np2,m1,other\n"
    with pytest.raises(IngestError) as caught:
        import_responses(seeded, write_file("r.csv", text))
    assert (caught.value.line, caught.value.field) == (4, "response")
    assert "also on line 2" in caught.value.message


# -- AlpacaEval -----------------------------------------------------------------------------------


ALPACA = [
    {"instruction": "Name three colours.", "dataset": "helpful_base"},
    {"instruction": "Write a haiku about rain.", "dataset": "koala"},
    {"instruction": "What is <html>?"},
]


def alpaca_file(write_file, generator: str, outputs: list[str | None]) -> Path:
    records = [
        {**item, "output": out, "generator": generator}
        for item, out in zip(ALPACA, outputs, strict=True)
    ]
    return write_file(f"{generator}.json", json.dumps(records, indent=2))


def test_alpaca_eval_outputs_create_prompts_and_responses(store, write_file):
    first = import_responses(store, alpaca_file(write_file, "gpt4", ["Red", "Rain falls", "A tag"]))
    assert first.inserted == {"prompts": 3, "responses": 3}
    second = import_responses(store, alpaca_file(write_file, "llama", ["Blue", "Drip", "Markup"]))
    assert second.inserted == {"prompts": 0, "responses": 3}
    assert second.unchanged == {"prompts": 3, "responses": 0}
    expected_id = "ae-" + hashlib.sha256(b"Name three colours.").hexdigest()[:12]
    assert alpaca_eval_prompt_id("Name three colours.") == expected_id
    assert store.get_prompt(expected_id) == Prompt(
        expected_id, "helpful_base", [user("Name three colours.")], [], 1
    )
    third = store.get_prompt(alpaca_eval_prompt_id("What is <html>?"))
    assert third.category == "alpaca_eval"
    study = create_study(store, StudySpec(name="ae", models=["gpt4", "llama"], overlap=1))
    assert store.study_progress(study)["comparisons"] == 3


def test_alpaca_eval_missing_output_names_its_line(store, write_file):
    path = alpaca_file(write_file, "gpt4", ["Red", None, "A tag"])
    with pytest.raises(IngestError) as caught:
        import_responses(store, path)
    # indent=2: "[" on line 1, the first record on lines 2-7 ("{", four keys, "},")
    assert (caught.value.line, caught.value.field) == (8, "output")
    assert "is missing" in caught.value.message
    assert str(caught.value).endswith("\n(the file was read as AlpacaEval model outputs)")
    assert store.counts()["prompts"] == 0


# -- Chatbot Arena / MT-Bench judgments -----------------------------------------------------------

CONV = {
    ("q1", "gpt-4"): [user("Hello?"), assistant("Hi, I am here.")],
    ("q1", "claude"): [user("Hello?"), assistant("Hello! How can I help?")],
    ("q1", "llama"): [user("Hello?"), assistant("hi")],
}
MT_81 = {
    "gpt-4": [user("Plan a trip."), assistant("Day 1 ..."), user("Shorter."), assistant("Day 1.")],
    "llama": [user("Plan a trip."), assistant("Go."), user("Shorter."), assistant("No.")],
}


def battle(question, a, b, winner, judge, **extra) -> dict:
    record = {"question_id": question, "model_a": a, "model_b": b, "winner": winner, "judge": judge}
    if (question, a) in CONV:
        record["conversation_a"] = CONV[question, a]
        record["conversation_b"] = CONV[question, b]
    return {**record, **extra}


ARENA = [
    # q1: gpt-4 vs claude in both orientations, a tie and a "both bad" tie
    battle("q1", "gpt-4", "claude", "model_a", "u1", anony=True, tstamp=1700000000.25),
    battle("q1", "claude", "gpt-4", "model_a", "u2"),
    battle("q1", "claude", "gpt-4", "tie", "u3"),
    battle("q1", "gpt-4", "claude", "tie (bothbad)", "u4"),
    battle("q1", "claude", "gpt-4", "model_b", "u5"),
    # q1: another pair
    battle("q1", "llama", "gpt-4", "model_b", "u1"),
    # MT-Bench style: one question judged per turn, conversations hold both turns
    {
        "question_id": 81,
        "model_a": "gpt-4",
        "model_b": "llama",
        "winner": "model_a",
        "judge": "expert_0",
        "turn": 1,
        "conversation_a": MT_81["gpt-4"],
        "conversation_b": MT_81["llama"],
    },
    {
        "question_id": 81,
        "model_a": "llama",
        "model_b": "gpt-4",
        "winner": "model_b",
        "judge": "expert_0",
        "turn": 2,
        "conversation_a": MT_81["llama"],
        "conversation_b": MT_81["gpt-4"],
    },
    # no texts at all: placeholders; a judge given as a list
    {
        "question_id": 99,
        "model_a": "llama",
        "model_b": "claude",
        "winner": "model_b",
        "judge": ["gpt-4", "pair-v2"],
    },
]

# By hand: (prompt, model A, model B, annotator) -> (score for A, shown order), where A/B is the
# first orientation the file names for the pair (llama first: line 6 names it before question 81).
# Arena and MT-Bench records do not say which side each model was shown on: unknown (None).
EXPECTED = {
    ("q1", "gpt-4", "claude", "u1"): (1, None),
    ("q1", "gpt-4", "claude", "u2"): (-1, None),
    ("q1", "gpt-4", "claude", "u3"): (0, None),
    ("q1", "gpt-4", "claude", "u4"): (0, None),
    ("q1", "gpt-4", "claude", "u5"): (1, None),
    ("q1", "llama", "gpt-4", "u1"): (-1, None),
    ("81", "llama", "gpt-4", "expert_0"): (-1, None),
    ("81-turn2", "llama", "gpt-4", "expert_0"): (-1, None),
    ("99", "llama", "claude", "gpt-4/pair-v2"): (-1, None),
}


def _order(shown_order):
    return None if pd.isna(shown_order) else shown_order


def test_arena_records_map_to_one_comparison_per_pair_and_prompt(store, write_file):
    result = import_judgments(store, write_file("arena.json", json.dumps(ARENA)))
    assert result.inserted["judgments"] == 9
    assert result.inserted["studies"] == 1
    assert result.inserted["comparisons"] == 5  # q1 x 2 pairs, 81, 81-turn2, 99
    frame = store.judgments_frame("arena")
    got = {
        (r.prompt_id, r.model_a, r.model_b, r.annotator): (r.score, _order(r.shown_order))
        for r in frame.itertuples()
    }
    assert got == EXPECTED
    assert set(frame["scale"]) == {3}
    study = store.get_study("arena")
    assert study.overlap == 5  # five judges on q1 gpt-4 vs claude
    assert study.models == ["claude", "gpt-4", "llama"]
    assert (
        frame.loc[frame["annotator"] == "u1", "created_at"]
        .tolist()[0]
        .startswith("2023-11-14T22:13:20.250")
    )


def test_arena_texts_turns_and_placeholders(store, write_file):
    import_judgments(store, write_file("arena.jsonl", jsonl(*ARENA)))
    assert store.get_prompt("q1").messages == [user("Hello?")]
    turn1, turn2 = store.get_prompt("81"), store.get_prompt("81-turn2")
    assert turn1.messages == [user("Plan a trip.")]
    assert turn2.messages == [user("Plan a trip."), user("Shorter.")] and turn2.turns == 2
    texts = {
        (r["prompt_id"], r["model"]): r["content"]
        for r in store.query("SELECT prompt_id, model, content FROM responses")
    }
    assert texts["q1", "claude"] == "Hello! How can I help?"
    assert texts["81", "llama"] == "Go."
    assert texts["81-turn2", "llama"] == "No."
    assert texts["99", "claude"] == texts["99", "llama"] == "(response not provided)"
    assert store.get_prompt("99").messages == [user("(question 99 — text not provided)")]


def test_arena_reimport_is_idempotent_and_study_option_names_the_study(store, write_file):
    path = write_file("arena.jsonl", jsonl(*ARENA))
    import_judgments(store, path)
    before = dump(store)
    again = import_judgments(store, path)
    assert set(again.inserted.values()) == {0}
    assert again.unchanged["judgments"] == 9
    assert dump(store) == before
    import_judgments(store, path, study="copy")
    assert len(store.judgments_frame("copy")) == 9
    assert store.counts()["prompts"] == 4  # shared, not duplicated


def test_arena_csv_reads_like_json(store, write_file):
    frame = pd.DataFrame(ARENA)
    for column in ("conversation_a", "conversation_b"):
        frame[column] = frame[column].map(lambda v: json.dumps(v) if isinstance(v, list) else v)
    frame["judge"] = frame["judge"].map(lambda v: "/".join(v) if isinstance(v, list) else v)
    frame["turn"] = frame["turn"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    path = write_file("arena.csv", "")
    frame.to_csv(path, index=False)
    import_judgments(store, path)
    got = {
        (r.prompt_id, r.model_a, r.model_b, r.annotator): (r.score, _order(r.shown_order))
        for r in store.judgments_frame("arena").itertuples()
    }
    assert got == EXPECTED


BAD_JUDGMENTS = [
    ({"winner": "model_c"}, "winner", "must be one of"),
    ({"winner": None}, "winner", "is missing"),
    ({"judge": ""}, "judge", "is empty"),
    ({"model_b": "gpt-4"}, "model_b", "same model"),
    ({"turn": 0}, "turn", "out of range"),
    ({"turn": 3}, "conversation_a", "the record judges turn 3"),
    ({"tstamp": "yesterday"}, "tstamp", "must be a number"),
    ({"conversation_a": [user("Hello?")]}, "conversation_a", "no assistant reply"),
    ({"conversation_a": "not json"}, "conversation_a", "not valid JSON"),
    (
        {"question_id": None, "conversation_a": None, "conversation_b": None},
        "question_id",
        "is missing",
    ),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_JUDGMENTS)
def test_bad_judgment_records(store, write_file, change, field, message):
    import_judgments(store, write_file("first.jsonl", jsonl(*ARENA)))
    before = dump(store)
    record = {**battle("q1", "gpt-4", "claude", "model_a", "u9"), **change}
    path = write_file("arena.jsonl", jsonl(ARENA[0], record))
    with pytest.raises(IngestError) as caught:
        import_judgments(store, path, study="arena")
    assert (caught.value.line, caught.value.field) == (2, field), str(caught.value)
    assert message in caught.value.message
    assert dump(store) == before


def test_contradicting_judgments_are_refused(store, write_file):
    # u1 said gpt-4 wins; again with the sides swapped: the same judgment, kept once
    flipped_again = battle("q1", "claude", "gpt-4", "model_b", "u1")
    contradiction = battle("q1", "claude", "gpt-4", "model_a", "u1")  # now claude: contradicts
    path = write_file("a.jsonl", jsonl(ARENA[0], flipped_again, contradiction))
    with pytest.raises(IngestError) as caught:
        import_judgments(store, path)
    assert (caught.value.line, caught.value.field) == (3, "winner")
    assert "differs from line 1" in caught.value.message
    assert set(store.counts().values()) == {0}

    import_judgments(store, write_file("a.jsonl", jsonl(ARENA[0], flipped_again)))
    before = dump(store)
    with pytest.raises(IngestError, match="stored with another verdict"):
        import_judgments(store, write_file("a.jsonl", jsonl(contradiction)), study="a")
    assert dump(store) == before


def test_scores_must_fit_an_existing_study(seeded, write_file):
    two_point = create_study(
        seeded, StudySpec(name="binary", models=["m1", "m2"], scale=2, overlap=1)
    )
    tie = {"question_id": "p1", "model_a": "m1", "model_b": "m2", "winner": "tie", "judge": "j"}
    before = dump(seeded)
    with pytest.raises(IngestError) as caught:
        import_judgments(seeded, write_file("t.jsonl", jsonl(tie)), study="binary")
    assert (caught.value.line, caught.value.field) == (1, "winner")
    assert "2-point" in caught.value.message
    assert dump(seeded) == before
    win = {**tie, "winner": "model_b"}
    import_judgments(seeded, write_file("w.jsonl", jsonl(win)), study="binary")
    frame = seeded.judgments_frame(two_point.name)
    assert frame[["prompt_id", "model_a", "model_b", "score"]].values.tolist() == [
        ["p1", "m1", "m2", -1]
    ]


# -- our own judgments frame ----------------------------------------------------------------------


def _judge_demo(store: Store) -> None:
    """Three annotators judge a few demo comparisons through the store's own API."""
    study = store.get_study("demo")
    for n, name in enumerate(["ann", "bob", "cy"]):
        annotator = store.add_annotator(name)
        for k in range(6):
            item = store.next_comparison(study, annotator.id, gold=False)
            store.record_judgment(
                item.comparison_id,
                annotator.id,
                score=(k + n) % 7 - 3,
                shown_order=item.shown_order,
                rationale="" if k % 2 else f"reason {k}, with <b>html</b>",
                seconds=1.5 * k if k else None,
            )


COMPARED = [
    "prompt_id",
    "model_a",
    "model_b",
    "scale",
    "score",
    "outcome",
    "shown_order",
    "annotator",
    "seconds",
    "rationale",
    "len_a",
    "len_b",
    "turns",
    "category",
]


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_frame_round_trip(demo_store, tmp_path, new_db, suffix):
    _judge_demo(demo_store)
    frame = demo_store.judgments_frame("demo", with_text=True)
    path = tmp_path / f"judgments.{suffix}"
    if suffix == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(path, index=False)
    with Store(new_db("other")) as other:
        result = import_judgments(other, path)
        assert result.inserted["judgments"] == 18
        back = other.judgments_frame("demo")
        key = ["annotator", "prompt_id", "model_a", "model_b"]
        left = frame[COMPARED].sort_values(key).reset_index(drop=True)
        right = back[COMPARED].sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right)
        assert other.get_study("demo").scale.points == 7
        assert sorted(back["created_at"]) == sorted(frame["created_at"])


def test_frame_rows_without_texts_or_scale(store, write_file):
    rows = [
        {"prompt_id": "x1", "model_a": "a", "model_b": "b", "outcome": "win", "annotator": "k"},
        {
            "prompt_id": "x1",
            "model_a": "b",
            "model_b": "a",
            "outcome": "win",
            "annotator": "l",
            "shown_order": "BA",
        },
        {"prompt_id": "x2", "model_a": "a", "model_b": "b", "outcome": "tie", "annotator": "k"},
    ]
    import_judgments(store, write_file("mine.jsonl", jsonl(*rows)))
    frame = store.judgments_frame("mine")
    orders = map(_order, frame.shown_order)  # unknown unless the record gives it
    got = sorted(zip(frame.prompt_id, frame.annotator, frame.score, orders, strict=True))
    assert got == [("x1", "k", 1, None), ("x1", "l", -1, "AB"), ("x2", "k", 0, None)]
    assert set(frame.scale) == {3}

    before = dump(store)
    scored = {"prompt_id": "x3", "model_a": "a", "model_b": "b", "score": 2, "annotator": "k"}
    with pytest.raises(IngestError) as caught:
        import_judgments(store, write_file("new.jsonl", jsonl(scored)))
    assert (caught.value.line, caught.value.field) == (1, "scale")
    with pytest.raises(IngestError) as caught:
        import_judgments(store, write_file("new.jsonl", jsonl(scored)), study="mine")
    assert (caught.value.field, "3-point") == ("score", "3-point")
    assert "3-point" in caught.value.message
    assert dump(store) == before


# -- study files and specs -----------------------------------------------------------------------


def test_parse_pairs():
    models = ["a", "b", "llama3:8b"]
    assert parse_pairs("all", models)[0] == [("a", "b"), ("a", "llama3:8b"), ("b", "llama3:8b")]
    assert parse_pairs("baseline:b", models) == (
        [("a", "b"), ("llama3:8b", "b")],
        {"kind": "baseline", "baseline": "b"},
    )
    assert parse_pairs("llama3:8b:a, b:a", models)[0] == [("llama3:8b", "a"), ("b", "a")]
    for bad in ("a:c", "a", "a:a", "baseline:z", "a:b,b:a"):
        with pytest.raises(ValueError):
            parse_pairs(bad, models)


def test_read_study_spec_of_the_demo():
    spec = read_study_spec(PROMPTS_DIR / "demo_study.json")
    raw = json.loads((PROMPTS_DIR / "demo_study.json").read_text(encoding="utf-8"))
    assert (spec.name, spec.models, spec.pairs, spec.overlap, spec.scale) == (
        raw["name"],
        raw["models"],
        raw["pairs"],
        raw["overlap"],
        raw["scale"],
    )
    assert spec.guidelines == (PROMPTS_DIR / raw["guidelines"]).read_text(encoding="utf-8")


def test_bad_study_spec_names_the_key_line(write_file):
    path = write_file(
        "s.json", '{\n  "name": "s",\n  "models": ["a", 3],\n  "guidelines": "missing.md"\n}\n'
    )
    with pytest.raises(IngestError) as caught:
        read_study_spec(path)
    e = caught.value
    assert [(p.line, p.field) for p in e.problems] == [(3, "models[1]"), (4, "guidelines")]


def test_study_with_listed_prompts_and_gold(seeded, write_file):
    import_responses(
        seeded,
        write_file(
            "r.jsonl",
            jsonl(
                {"prompt_id": "p2", "model": "m1", "response": "a"},
                {"prompt_id": "p2", "model": "m2", "response": "b"},
            ),
        ),
    )
    ids = read_prompt_ids(str(write_file("ids.txt", "p2\n\n")))
    assert ids == ["p2"]
    spec = StudySpec(name="s", models=["m1", "m2"], prompt_ids=ids, gold=[("p2", "m2", "m1", 1)])
    study = create_study(seeded, spec)
    comparisons = seeded.comparisons_frame(study.name)
    assert comparisons[
        ["prompt_id", "model_a", "model_b", "is_gold", "gold_score"]
    ].values.tolist() == [["p2", "m1", "m2", 1, -1]]
    with pytest.raises(Exception, match="unknown prompt"):
        create_study(seeded, StudySpec(name="t", models=["m1", "m2"], prompt_ids=["zz"]))
    assert read_prompt_ids("p1, p2") == ["p1", "p2"]
    assert read_prompt_ids(str(write_file("ids.csv", "id,prompt\np2,x\np1,y\n"))) == ["p2", "p1"]


# -- the demo -----------------------------------------------------------------------------------


def test_demo_is_seeded_once(store):
    study = ensure_demo(store)
    raw = json.loads((PROMPTS_DIR / "demo_study.json").read_text(encoding="utf-8"))
    prompts = (PROMPTS_DIR / "demo_prompts.jsonl").read_text(encoding="utf-8").splitlines()
    responses = (PROMPTS_DIR / "demo_responses.jsonl").read_text(encoding="utf-8").splitlines()
    n_prompts = sum(bool(line.strip()) for line in prompts)
    n_pairs = len(raw["models"]) * (len(raw["models"]) - 1) // 2
    assert study.name == raw["name"] and study.models == sorted(raw["models"])
    assert store.counts()["prompts"] == n_prompts
    assert store.counts()["responses"] == sum(bool(line.strip()) for line in responses)
    assert store.study_progress(study)["comparisons"] == n_prompts * n_pairs
    assert study.guidelines == (PROMPTS_DIR / "guidelines.md").read_text(encoding="utf-8")
    before = dump(store)
    assert ensure_demo(store) is None
    assert dump(store) == before


def test_demo_is_not_seeded_next_to_another_study(seeded):
    create_study(seeded, StudySpec(name="mine", models=["m1", "m2"]))
    assert ensure_demo(seeded) is None
    assert [s.name for s in seeded.studies()] == ["mine"]


def test_demo_dir_is_found_from_the_package():
    assert demo_dir() == PROMPTS_DIR


def test_demo_fixture_is_a_private_copy(demo_store, store):
    assert [s.name for s in demo_store.studies()] == ["demo"]
    assert demo_store.path != store.path


def test_two_processes_seed_the_demo_once(tmp_path, new_db):
    """Both processes open the store, meet at a barrier of marker files, then seed at once."""
    db = new_db("race", bare=True)
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from pairwise.store import Store\n"
        "from pairwise.demo import ensure_demo\n"
        "db, me, other = sys.argv[1:]\n"
        "with Store(db) as s:\n"
        "    Path(me).touch()\n"
        "    while not Path(other).exists():\n"
        "        time.sleep(0.005)\n"
        "    print('seeded' if ensure_demo(s) else 'skipped')\n"
    )
    marks = [str(tmp_path / "one.ready"), str(tmp_path / "two.ready")]
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, db, me, other],
            stdout=subprocess.PIPE,
            text=True,
        )
        for me, other in (marks, marks[::-1])
    ]
    outputs = sorted(run.communicate(timeout=120)[0].strip() for run in runs)
    assert [run.returncode for run in runs] == [0, 0]
    assert outputs == ["seeded", "skipped"]
    with Store(db) as s:
        assert len(s.studies()) == 1
        assert s.counts()["prompts"] == len(read_prompts(PROMPTS_DIR / "demo_prompts.jsonl"))


def test_demo_files_can_move(tmp_path, store, monkeypatch):
    moved = tmp_path / "elsewhere"
    shutil.copytree(PROMPTS_DIR, moved)
    monkeypatch.setenv("PAIRWISE_PROMPTS", str(moved))
    assert demo_dir() == moved
    assert ensure_demo(store).name == "demo"
