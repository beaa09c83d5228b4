"""The demo study in ``prompts/``: well formed, complete, blinded, and varied enough to be useful.

A new installation is seeded with these files, so a broken line or a missing response would be
the first thing a new user sees. The checks read the files with the standard library only; a
failure names the file and line.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest

from pairwise.scales import Scale

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
CATEGORIES = {"coding", "writing", "reasoning", "knowledge", "safety", "advice"}
ROLES = {"system", "user", "assistant"}
PROMPT_FIELDS = {"id", "category", "prompt", "messages", "tags"}
RESPONSE_FIELDS = {"prompt_id", "model", "response"}

FENCE = re.compile(r"^[ \t]*```(.*)$", re.MULTILINE)
CODE_BLOCK = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.MULTILINE | re.DOTALL)
TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)+\|?\s*$", re.MULTILINE)
NON_LATIN = re.compile(r"[\u0600-\u06ff\u3040-\u30ff\u4e00-\u9fff]")  # Arabic, kana, CJK
EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27bf]")


def read_jsonl(path: Path) -> list[dict]:
    """Parse a JSONL file, failing with ``file:line`` on the first bad line."""
    text = path.read_bytes().decode("utf-8")  # raises on anything that is not UTF-8
    assert not text.startswith("\ufeff"), f"{path.name}: starts with a byte order mark"
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            pytest.fail(f"{path.name}:{number}: not valid JSON: {e}")
        assert isinstance(record, dict), f"{path.name}:{number}: not a JSON object"
        records.append(record)
    return records


@pytest.fixture(scope="module")
def study() -> dict:
    return json.loads((PROMPTS_DIR / "demo_study.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def prompts() -> list[dict]:
    return read_jsonl(PROMPTS_DIR / "demo_prompts.jsonl")


@pytest.fixture(scope="module")
def responses() -> list[dict]:
    return read_jsonl(PROMPTS_DIR / "demo_responses.jsonl")


def prompt_texts(prompt: dict) -> list[str]:
    if "prompt" in prompt:
        return [prompt["prompt"]]
    return [m["content"] for m in prompt["messages"]]


def user_turns(prompt: dict) -> int:
    if "prompt" in prompt:
        return 1
    return sum(m["role"] == "user" for m in prompt["messages"])


def test_study_settings(study):
    assert study == {
        "name": "demo",
        "question": "Which response is more helpful?",
        "models": ["atlas-7b-chat", "borealis-13b-instruct", "cirrus-70b-chat"],
        "pairs": "all",
        "overlap": 3,
        "scale": 7,
        "gold_rate": 0.0,
        "guidelines": "guidelines.md",
    }
    assert (PROMPTS_DIR / study["guidelines"]).is_file()


def test_prompt_records_are_well_formed(prompts):
    for number, p in enumerate(prompts, start=1):
        where = f"demo_prompts.jsonl:{number}"
        assert set(p) <= PROMPT_FIELDS, f"{where}: unknown fields {set(p) - PROMPT_FIELDS}"
        assert isinstance(p.get("id"), str), f"{where}: id must be a string"
        assert re.fullmatch(r"[a-z]+-\d{3}", p["id"]), (
            f"{where}: id {p['id']!r} is not like coding-001"
        )
        assert p.get("category") in CATEGORIES, f"{where}: category {p.get('category')!r}"
        assert p["id"].startswith(p["category"] + "-"), f"{where}: id does not match its category"
        assert ("prompt" in p) != ("messages" in p), f"{where}: give exactly one of prompt/messages"
        if "prompt" in p:
            assert isinstance(p["prompt"], str) and p["prompt"].strip(), f"{where}: empty prompt"
        tags = p.get("tags", [])
        assert isinstance(tags, list) and all(isinstance(t, str) and t for t in tags), (
            f"{where}: tags must be a list of non-empty strings"
        )


def test_conversations_follow_the_chat_format(prompts):
    for number, p in enumerate(prompts, start=1):
        if "messages" not in p:
            continue
        where = f"demo_prompts.jsonl:{number} ({p['id']})"
        messages = p["messages"]
        assert isinstance(messages, list) and messages, f"{where}: messages must be a list"
        for i, m in enumerate(messages):
            assert set(m) == {"role", "content"}, f"{where}: messages[{i}] fields {set(m)}"
            assert m["role"] in ROLES, f"{where}: messages[{i}].role {m['role']!r}"
            assert isinstance(m["content"], str) and m["content"].strip(), (
                f"{where}: messages[{i}].content is empty"
            )
        roles = [m["role"] for m in messages]
        assert "system" not in roles[1:], f"{where}: a system message may only come first"
        turns = [r for r in roles if r != "system"]
        assert turns[-1] == "user", f"{where}: must end with a user turn"
        assert all(a != b for a, b in pairwise(turns)), (
            f"{where}: user and assistant turns must alternate"
        )
        assert turns[0] == "user", f"{where}: the conversation must start with the user"


def test_prompt_ids_are_unique(prompts):
    repeated = [i for i, n in Counter(p["id"] for p in prompts).items() if n > 1]
    assert not repeated


def test_prompt_counts_by_category_and_turns(prompts):
    assert len(prompts) >= 45
    per_category = Counter(p["category"] for p in prompts)
    assert set(per_category) == CATEGORIES
    assert min(per_category.values()) >= 5, per_category
    turns = Counter(user_turns(p) for p in prompts)
    multi_turn = turns[2] + turns[3]
    assert multi_turn >= 10, turns
    assert set(turns) <= {1, 2, 3}, f"multi-turn prompts have 2-3 user turns: {turns}"
    assert turns[3] >= 1, "at least one three-turn conversation"


def test_response_records_are_well_formed(responses, study):
    for number, r in enumerate(responses, start=1):
        where = f"demo_responses.jsonl:{number}"
        assert set(r) == RESPONSE_FIELDS, f"{where}: fields {set(r)}"
        assert r["model"] in study["models"], f"{where}: model {r['model']!r} is not in the study"
        assert isinstance(r["response"], str) and r["response"].strip(), f"{where}: empty response"


def test_one_response_per_model_per_prompt(prompts, responses, study):
    ids = {p["id"] for p in prompts}
    seen = Counter((r["prompt_id"], r["model"]) for r in responses)
    assert {pid for pid, _ in seen} == ids, "responses for unknown prompts, or prompts without any"
    expected = {(pid, model) for pid in ids for model in study["models"]}
    assert set(seen) == expected
    assert set(seen.values()) == {1}
    assert len(responses) == 3 * len(prompts)


def test_no_model_name_is_visible_to_annotators(prompts, responses, study):
    # Full names and their first part: "the atlas model" would unblind as surely as the full name.
    names = set(study["models"]) | {m.split("-")[0] for m in study["models"]}
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b", re.IGNORECASE)
    texts = [(p["id"], t) for p in prompts for t in prompt_texts(p)]
    texts += [(f"{r['prompt_id']}/{r['model']}", r["response"]) for r in responses]
    leaks = [(where, m.group(0)) for where, text in texts for m in pattern.finditer(text)]
    assert not leaks


def test_code_fences_are_closed_and_tagged(prompts, responses):
    texts = [(p["id"], t) for p in prompts for t in prompt_texts(p)]
    texts += [(f"{r['prompt_id']}/{r['model']}", r["response"]) for r in responses]
    for where, text in texts:
        fences = FENCE.findall(text)
        assert len(fences) % 2 == 0, f"{where}: unclosed code fence"
        openers = fences[0::2]
        assert all(lang.strip() for lang in openers), f"{where}: code block without a language"


def test_coding_responses_contain_code(prompts, responses):
    coding = {p["id"] for p in prompts if p["category"] == "coding"}
    without = [
        (r["prompt_id"], r["model"])
        for r in responses
        if r["prompt_id"] in coding and not CODE_BLOCK.search(r["response"])
    ]
    assert not without


def test_demo_exercises_the_renderer(prompts, responses):
    """HTML/JS in code blocks, tables, non-Latin script and emoji all appear somewhere."""
    by_prompt: dict[str, list[str]] = {}
    for r in responses:
        by_prompt.setdefault(r["prompt_id"], []).append(r["response"])

    def has_script(text: str) -> bool:
        blocks = CODE_BLOCK.findall(text)
        return any("<script" in b or "onclick=" in b for b in blocks)

    with_html = [pid for pid, texts in by_prompt.items() if any(map(has_script, texts))]
    assert len(with_html) >= 2, with_html
    assert any(TABLE_RULE.search(r["response"]) for r in responses)
    unicode_prompts = [
        pid
        for pid, texts in by_prompt.items()
        if any(NON_LATIN.search(t) for t in texts) and any(EMOJI.search(t) for t in texts)
    ]
    assert unicode_prompts


def test_response_lengths_vary_by_model(responses, study):
    lengths = [len(r["response"]) for r in responses]
    in_range = sum(300 <= n <= 1500 for n in lengths)
    assert in_range >= 0.75 * len(lengths), f"only {in_range}/{len(lengths)} in 300-1500 chars"
    median = {
        m: statistics.median(len(r["response"]) for r in responses if r["model"] == m)
        for m in study["models"]
    }
    # The demo's length-bias check needs a short, a mid-length and a verbose model.
    atlas, borealis, cirrus = study["models"]
    assert median[atlas] < median[cirrus] < median[borealis], median


def test_guidelines_cover_the_scale_flags_and_keys():
    text = (PROMPTS_DIR / "guidelines.md").read_text(encoding="utf-8")
    words = len(re.findall(r"[A-Za-z0-9][\w'’-]*", text))
    assert 400 <= words <= 750, words
    for choice in Scale(7).choices():
        assert choice.label in text, f"the app's label {choice.label!r} is not explained"
    for term in ("unsafe", "broken", "unanswerable", "skip", "length", "final assistant turn"):
        assert term in text.lower(), term
    assert "1–7" in text and "**S**" in text and "**F**" in text
