"""Preference exports on a real store: aggregation numbers worked by hand, and every file read back
with the library that consumes it (datasets, pyarrow, pandas) and checked against TRL's dataset
rules, re-implemented here from TRL's source rather than imported (TRL pulls in torch)."""

from __future__ import annotations

import collections
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from pairwise import export
from pairwise.cli import main
from pairwise.export import ExportOptions, build_export, export_dataset, preference_records
from pairwise.store import Prompt, Store

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
datasets = pytest.importorskip("datasets")

SYSTEM = "Be brief."
# comparison -> (prompt id, messages, scores by annotators a, b, c)
PLAN = {
    "p1": ([{"role": "user", "content": "Hi?"}], [2, -1, 3]),
    "p2": (
        [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Q1"},
            {"role": "assistant", "content": "A1"},
            {"role": "user", "content": "Q2"},
        ],
        [0, 1, -1],
    ),
    "p3": ([{"role": "user", "content": "Name a prime."}], [-3, -3, -2]),
    "p4": ([{"role": "user", "content": "Say yes."}], [1, 1, -3]),
    "p5": ([{"role": "user", "content": "Broken one."}], [1, 1, 1]),
}


def _answer(model: str, prompt_id: str) -> str:
    # distinct first letters, so that TRL's extract_prompt splits where the responses differ
    opening = {"m1": "Sure", "m2": "Well"}[model]
    return f'{opening}, {model} answers {prompt_id} / with "quotes", ünïcode and\nnew lines'


@pytest.fixture
def prefs(store: Store) -> Store:
    """Five comparisons of m1 (A) vs m2 (B), judged by a, b, c with the PLAN scores.

    p5 is flagged broken by d; x (excluded) scored p1 -3 and flagged p3 unsafe; e skipped p3.
    """
    store.add_prompts(
        Prompt(pid, "chat", messages, [], sum(m["role"] == "user" for m in messages))
        for pid, (messages, _) in PLAN.items()
    )
    store.add_responses((p, m, _answer(m, p)) for p in PLAN for m in ("m1", "m2"))
    store.create_study("s", pairs=[("m1", "m2")], overlap=4, seed=1)
    people = {name: store.add_annotator(name) for name in "abcdex"}
    ids = store.comparisons_frame("s").set_index("prompt_id")["comparison_id"]
    for pid, (_, scores) in PLAN.items():
        for name, score in zip("abc", scores, strict=True):
            store.record_judgment(int(ids[pid]), people[name].id, score=score, shown_order="AB")
    store.record_judgment(int(ids["p1"]), people["x"].id, score=-3, shown_order="BA")
    store.record_pass(int(ids["p5"]), people["d"].id, reason="broken")
    store.record_pass(int(ids["p3"]), people["x"].id, reason="unsafe")
    store.record_pass(int(ids["p3"]), people["e"].id, reason="skip")
    store.set_excluded("x")
    return store


def _by_prompt(records: pd.DataFrame) -> dict[str, dict]:
    return {r["prompt_id"]: r for r in records.to_dict("records")}


# -- the store's narrow reads agree with the judgments frame ---------------------------------------


@pytest.mark.parametrize(
    "rows", [{}, {"include_excluded": True}, {"study": "s", "include_gold": False}]
)
def test_judgment_scores_and_texts_match_the_judgments_frame(prefs, rows):
    p1 = int(prefs.comparisons_frame("s").set_index("prompt_id").loc["p1", "comparison_id"])
    prefs.set_gold(p1, 2)
    wide = prefs.judgments_frame(**rows, with_text=True)
    narrow = prefs.judgment_scores(**rows)
    as_text = {"annotator": str}
    pd.testing.assert_frame_equal(
        narrow.astype(as_text), wide[list(narrow.columns)].astype(as_text), check_dtype=False
    )
    texts = prefs.comparison_texts(rows.get("study")).set_index("comparison_id")
    joined = texts.loc[wide["comparison_id"]].reset_index()
    for column in ("study", "prompt_id", "category", "model_a", "model_b", *export.TEXT_COLUMNS):
        assert joined[column].tolist() == wide[column].tolist(), column


# -- aggregation, by hand -------------------------------------------------------------------------


def test_majority_vote_worked_by_hand(prefs):
    built = build_export(prefs, ExportOptions(aggregation="majority"))
    rows = _by_prompt(built.frame())
    assert set(rows) == {"p1", "p3", "p4"}  # p2 is a vote tie, p5 is flagged
    p1 = rows["p1"]  # [+2, -1, +3]: A wins 2 of 3; margin = mean of the winners' |score|
    assert (p1["chosen_model"], p1["rejected_model"], p1["tie"]) == ("m1", "m2", False)
    assert p1["agreement"] == pytest.approx(2 / 3)
    assert p1["margin"] == pytest.approx((2 + 3) / 2)
    assert p1["score"] == pytest.approx((2 - 1 + 3) / 3)
    assert p1["n_judgments"] == 3
    p3 = rows["p3"]  # [-3, -3, -2]: B wins unanimously
    assert (p3["chosen_model"], p3["agreement"]) == ("m2", 1.0)
    assert p3["margin"] == pytest.approx(8 / 3) and p3["score"] == pytest.approx(8 / 3)
    p4 = rows["p4"]  # [+1, +1, -3]: A by vote, although the mean score favours B
    assert p4["chosen_model"] == "m1" and p4["score"] == pytest.approx(-1 / 3)
    assert p4["margin"] == pytest.approx(1.0)
    c = built.counts
    assert (c["judgments"], c["flagged_comparisons"], c["flagged_judgments"]) == (15, 1, 3)
    assert (c["dropped_ties"], c["dropped_by_agreement"], c["records"]) == (1, 0, 3)


def test_comparison_votes_count_by_hand():
    votes = export.comparison_votes(_frame([[2, -1, 3], [0, 1, -1], [1, 0]])).set_index(
        "comparison_id"
    )
    assert votes.loc[0, ["wins", "ties", "losses", "n_judgments"]].tolist() == [2, 0, 1, 3]
    assert votes.loc[0, "majority"] == "win" and votes.loc[0, "mean_score"] == pytest.approx(4 / 3)
    assert votes.loc[1, "majority"] == "tie" and votes.loc[1, "agreement"] == pytest.approx(1 / 3)
    assert votes.loc[2, "majority"] == "tie" and votes.loc[2, "agreement"] == 0.5  # 1 win, 1 tie


def test_mean_score_decides_by_sign(prefs):
    rows = _by_prompt(build_export(prefs, ExportOptions(aggregation="mean")).frame())
    assert rows["p4"]["chosen_model"] == "m2"  # mean of [+1, +1, -3] is -1/3
    assert rows["p4"]["margin"] == pytest.approx(1 / 3)
    assert rows["p4"]["score"] == pytest.approx(1 / 3)
    assert rows["p1"]["margin"] == pytest.approx(4 / 3)
    assert "p2" not in rows  # mean of [0, +1, -1] is exactly 0: a tie


def test_kept_ties_are_flagged_with_model_a_as_chosen(prefs):
    built = build_export(prefs, ExportOptions(keep_ties=True))
    p2 = _by_prompt(built.frame())["p2"]  # [0, +1, -1]: one vote each, a tied vote
    assert p2["tie"] and p2["chosen_model"] == "m1" and p2["margin"] == 0.0
    assert p2["agreement"] == pytest.approx(1 / 3)
    assert built.counts["kept_ties"] == 1 and built.counts["dropped_ties"] == 0


def test_per_judgment_records_and_a_llama2_style_margin_map(prefs):
    margins = {1: 0.5, 2: 1.0, 3: 2.0}
    built = build_export(prefs, ExportOptions(aggregation="judgment", margins=margins))
    frame = built.frame()
    # 12 unflagged judgments by a, b, c; one of them (p2 by a) is a tie
    assert len(frame) == 11 and built.counts["dropped_ties"] == 1
    p1 = frame[frame["prompt_id"] == "p1"].set_index("annotator")
    assert p1.loc["a", "margin"] == 1.0 and p1.loc["c", "margin"] == 2.0
    assert p1.loc["b", "chosen_model"] == "m2" and p1.loc["b", "margin"] == 0.5
    assert (p1["agreement"] == pytest.approx(2 / 3)).all()
    assert p1["judgment_id"].notna().all()
    majority = _by_prompt(build_export(prefs, ExportOptions(margins=margins)).frame())
    assert majority["p1"]["margin"] == pytest.approx((1.0 + 2.0) / 2)


def test_agreement_filter_runs_before_ties(prefs):
    built = build_export(prefs, ExportOptions(min_agreement=0.7))
    assert list(built.frame()["prompt_id"]) == ["p3"]
    # p1 and p4 (2/3) and the tie p2 (1/3) fall to the agreement filter first
    assert built.counts["dropped_by_agreement"] == 3 and built.counts["dropped_ties"] == 0
    exact = build_export(prefs, ExportOptions(min_agreement=2 / 3))
    assert sorted(exact.frame()["prompt_id"]) == ["p1", "p3", "p4"]


def test_flags_excluded_annotators_and_gold(prefs):
    everything = build_export(
        prefs, ExportOptions(include_excluded=True, exclude_flagged=False, keep_ties=True)
    )
    rows = _by_prompt(everything.frame())
    # x's -3 on p1 makes it two wins against two losses: a tie; p3 is kept (flags are off)
    assert rows["p1"]["tie"] and rows["p1"]["n_judgments"] == 4
    assert {"p3", "p5"} <= set(rows)
    # x's unsafe flag on p3 counts once x is included
    flagged = build_export(prefs, ExportOptions(include_excluded=True))
    assert flagged.counts["flagged_comparisons"] == 2
    assert "p3" not in set(flagged.frame()["prompt_id"])
    p1_id = int(prefs.comparisons_frame("s").set_index("prompt_id").loc["p1", "comparison_id"])
    prefs.set_gold(p1_id, 2)
    no_gold = build_export(prefs, ExportOptions(include_gold=False))
    assert "p1" not in set(no_gold.frame()["prompt_id"])


# -- aggregation, against a plain re-implementation -----------------------------------------------

scores_7 = st.integers(-3, 3)
comparisons = st.lists(st.lists(scores_7, min_size=1, max_size=5), min_size=1, max_size=25)


def _frame(groups: list[list[int]]) -> pd.DataFrame:
    rows = [
        {
            "judgment_id": len(groups) * 10 + i * 10 + j,
            "study": "s",
            "comparison_id": i,
            "prompt_id": f"p{i % 7}",
            "model_a": "A",
            "model_b": "B",
            "score": score,
            "annotator": f"a{j}",
        }
        for i, group in enumerate(groups)
        for j, score in enumerate(group)
    ]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=len(rows))  # any row order


def _plain_majority(scores: list[int]) -> tuple[str, float, float]:
    """(outcome for A, agreement, margin) by counting, the way one would on paper."""
    votes = collections.Counter("win" if s > 0 else "loss" if s < 0 else "tie" for s in scores)
    top = max(votes.values())
    leaders = [k for k, v in votes.items() if v == top]
    outcome = leaders[0] if len(leaders) == 1 else "tie"
    side = [abs(s) for s in scores if (s > 0 and outcome == "win") or (s < 0 and outcome == "loss")]
    return outcome, top / len(scores), (sum(side) / len(side) if side else 0.0)


@settings(max_examples=60, deadline=None)
@given(comparisons)
def test_majority_and_mean_match_a_plain_count(groups):
    frame = _frame(groups)
    majority = preference_records(frame, aggregation="majority", keep_ties=True).records
    mean = preference_records(frame, aggregation="mean", keep_ties=True).records
    assert len(majority) == len(mean) == len(groups)
    for i, scores in enumerate(groups):
        outcome, agreement, margin = _plain_majority(scores)
        row = majority.set_index("comparison_id").loc[i]
        assert row["tie"] == (outcome == "tie")
        assert row["chosen_model"] == ("B" if outcome == "loss" else "A")
        assert row["agreement"] == pytest.approx(agreement)
        assert row["margin"] == pytest.approx(margin)
        average = sum(scores) / len(scores)
        m = mean.set_index("comparison_id").loc[i]
        assert m["tie"] == (sum(scores) == 0)
        assert m["chosen_model"] == ("B" if average < 0 else "A")
        assert m["margin"] == pytest.approx(abs(average))
        assert m["score"] == pytest.approx(abs(average))


@settings(max_examples=60, deadline=None)
@given(comparisons, st.floats(0, 1))
def test_per_judgment_count_is_the_non_tied_judgments(groups, floor):
    frame = _frame(groups)
    result = preference_records(frame, aggregation="judgment", min_agreement=floor)
    kept = [
        s
        for scores in groups
        if _plain_majority(scores)[1] >= floor - 1e-12
        for s in scores
        if s != 0
    ]
    assert len(result.records) == len(kept)
    assert (result.records["margin"] == result.records["score"]).all()
    if floor == 0:
        assert len(result.records) == int((frame["score"] != 0).sum())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=60),
    st.floats(0, 0.99),
    st.integers(0, 2**31),
)
def test_split_never_puts_a_prompt_on_both_sides(prompt_ids, fraction, seed):
    is_test = export.split_by_prompt(prompt_ids, fraction, seed)
    sides = collections.defaultdict(set)
    for prompt, test in zip(prompt_ids, is_test, strict=True):
        sides[prompt].add(bool(test))
    assert all(len(s) == 1 for s in sides.values())
    # a prompt keeps its side when more data arrives
    grown = export.split_by_prompt([*prompt_ids, "new-1", "new-2"], fraction, seed)
    assert list(grown[: len(prompt_ids)]) == list(is_test)


def test_split_share_is_near_the_fraction():
    ids = [f"prompt-{i}" for i in range(4000)]
    share = export.split_by_prompt(ids, 0.2, seed=3).mean()
    assert abs(share - 0.2) < 4 * math.sqrt(0.2 * 0.8 / 4000)  # four binomial standard errors


# -- TRL's preference-dataset rules ---------------------------------------------------------------
# Re-implemented from huggingface/trl, trl/data_utils.py (is_conversational, apply_chat_template,
# maybe_extract_prompt / extract_prompt) and trl/trainer/reward_trainer.py (_prepare_dataset
# concatenates prompt + chosen; DataCollatorForPreference turns "margin" into a float tensor).

TRL_KEYS = ("prompt", "chosen", "rejected", "completion", "messages")


def _is_message_list(value) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], dict)
        and "role" in value[0]
        and "content" in value[0]
    )


def check_trl_preference(example: dict) -> str:
    """Raise AssertionError where TRL would reject or misread ``example``; return its format."""
    keys = {k for k in example if k in TRL_KEYS}
    assert keys in ({"prompt", "chosen", "rejected"}, {"chosen", "rejected"}), keys
    # is_conversational looks at whichever supported key comes first, so all must agree
    kinds = {_is_message_list(example[k]) for k in keys}
    assert len(kinds) == 1, "mixed standard and conversational fields"
    conversational = kinds.pop()
    if conversational:
        for key in keys:
            for message in example[key]:
                assert set(message) == {"role", "content"}
                assert message["role"] in ("system", "user", "assistant")
                assert isinstance(message["content"], str)
        if "prompt" in keys:
            # apply_chat_template: the prompt's last role must be user or assistant (which TRL
            # continues); an export's prompt ends with the user's turn it answers
            assert example["prompt"][-1]["role"] == "user"
            for key in ("chosen", "rejected"):
                assert [m["role"] for m in example[key]] == ["assistant"]
        whole = example.get("prompt", []) + example["chosen"]
        assert isinstance(whole, list)
    else:
        assert all(isinstance(example[k], str) for k in keys)
        assert isinstance(example.get("prompt", "") + example["chosen"], str)
    if "margin" in example:
        assert math.isfinite(float(example["margin"]))
    return "conversational" if conversational else "standard"


@pytest.mark.parametrize(
    "example",
    [
        {"prompt": "Hi", "chosen": [{"role": "assistant", "content": "a"}], "rejected": []},
        {"prompt": [{"role": "system", "content": "s"}], "chosen": [], "rejected": []},
        {"chosen": "a", "rejected": "b", "completion": "c"},
        {"prompt": "Hi", "chosen": " a", "rejected": " b", "margin": "wide"},
        {"prompt": "Hi", "chosen": " a"},
    ],
)
def test_the_trl_checker_refuses_what_trl_cannot_read(example):
    with pytest.raises((AssertionError, ValueError)):
        check_trl_preference(example)


def extract_prompt(chosen: str, rejected: str) -> dict:
    """TRL's extract_prompt for text: the longest common prefix, minus a trailing space."""
    idx = 0
    for idx in range(min(len(chosen), len(rejected))):  # noqa: B007 - idx is used after the loop
        if chosen[idx] != rejected[idx]:
            if chosen[idx - 1] == " ":
                idx -= 1
            break
    return {"prompt": chosen[:idx], "chosen": chosen[idx:], "rejected": rejected[idx:]}


def _load(path: Path, kind: str, cache: Path) -> list[dict]:
    dataset = datasets.load_dataset(kind, data_files=str(path), split="train", cache_dir=str(cache))
    return dataset.to_list()


def test_conversational_jsonl_follows_trl_rules(prefs, tmp_path):
    written = export_dataset(prefs, tmp_path / "conv.jsonl", ExportOptions(keep_ties=True))
    rows = _load(written.files["all"], "json", tmp_path / "cache")
    assert len(rows) == 4
    assert {check_trl_preference(r) for r in rows} == {"conversational"}
    by_prompt = {r["prompt_id"]: r for r in rows}
    p2 = by_prompt["p2"]
    assert p2["prompt"] == PLAN["p2"][0]  # the whole conversation, system message included
    p3 = by_prompt["p3"]  # B (m2) chosen
    assert p3["chosen"] == [{"role": "assistant", "content": _answer("m2", "p3")}]
    assert p3["rejected"] == [{"role": "assistant", "content": _answer("m1", "p3")}]
    assert "judgment_id" not in p3  # only per-judgment records name the judgment
    per_judgment = export_dataset(
        prefs, tmp_path / "pj", ExportOptions(aggregation="judgment")
    ).files["all"]
    loaded = _load(per_judgment, "json", tmp_path / "cache")
    assert len(loaded) == 11 and {r["annotator"] for r in loaded} == {"a", "b", "c"}
    assert all(check_trl_preference(r) == "conversational" for r in loaded)


def test_standard_jsonl_renders_the_conversation_as_text(prefs, tmp_path):
    options = ExportOptions(format="trl-standard", keep_ties=True)
    rows = _load(export_dataset(prefs, tmp_path / "std", options).files["all"], "json", tmp_path)
    assert {check_trl_preference(r) for r in rows} == {"standard"}
    by_prompt = {r["prompt_id"]: r for r in rows}
    assert by_prompt["p1"]["prompt"] == "\n\nHuman: Hi?\n\nAssistant:"
    assert by_prompt["p1"]["chosen"] == " " + _answer("m1", "p1")
    assert by_prompt["p2"]["prompt"] == (
        SYSTEM + "\n\nHuman: Q1\n\nAssistant: A1\n\nHuman: Q2\n\nAssistant:"
    )


def test_hh_rlhf_transcripts_split_back_into_the_standard_records(prefs, tmp_path):
    def rows(fmt: str) -> list[dict]:
        options = ExportOptions(format=fmt, keep_ties=True)
        written = export_dataset(prefs, tmp_path / fmt, options)
        return _load(written.files["all"], "json", tmp_path / "cache")

    hh, std = rows("hh-rlhf"), rows("trl-standard")
    assert {check_trl_preference(r) for r in hh} == {"standard"}
    for h, s in zip(hh, std, strict=True):
        assert "prompt" not in h
        assert h["chosen"].startswith(("\n\nHuman: ", SYSTEM + "\n\nHuman: "))
        # TRL finds the prompt of implicit-prompt data exactly where the standard export put it
        assert extract_prompt(h["chosen"], h["rejected"]) == {
            k: s[k] for k in ("prompt", "chosen", "rejected")
        }
        assert h["chosen"] == s["prompt"] + s["chosen"]


def test_parquet_has_exactly_the_documented_schema(prefs, tmp_path):
    for aggregation in ("majority", "judgment"):
        options = ExportOptions(format="parquet", aggregation=aggregation)
        path = export_dataset(prefs, tmp_path / aggregation, options).files["all"]
        table = pq.read_table(path)
        assert table.schema.equals(export.PARQUET_SCHEMA)
        rows = _load(path, "parquet", tmp_path / "cache")
        assert len(rows) == (3 if aggregation == "majority" else 11)
        assert all(check_trl_preference(r) == "conversational" for r in rows)
        ids = [r["judgment_id"] for r in rows]
        assert all(i is None for i in ids) if aggregation == "majority" else None not in ids
    # the same records as the conversational JSON Lines, field for field
    jsonl = export_dataset(prefs, tmp_path / "c", ExportOptions()).files["all"]
    as_json = pd.read_json(jsonl, lines=True, dtype=False, precise_float=True)
    as_parquet = pq.read_table(tmp_path / "majority.parquet").to_pandas()
    for column in as_json.columns:
        assert as_json[column].tolist() == [
            v.tolist() if isinstance(v, np.ndarray) else v for v in as_parquet[column]
        ]


def _raw_expected(store: Store) -> pd.DataFrame:
    return store.judgments_frame(with_text=True)


def test_raw_jsonl_reads_back_as_the_judgments_frame(prefs, tmp_path):
    options = ExportOptions(format="raw-jsonl", exclude_flagged=False)
    path = export_dataset(prefs, tmp_path / "raw", options).files["all"]
    back = pd.read_json(path, lines=True, dtype=False, precise_float=True)
    frame = _raw_expected(prefs)
    assert list(back.columns) == [c for c in frame.columns if c not in export.TEXT_COLUMNS] + list(
        export.TEXT_COLUMNS
    )
    pd.testing.assert_frame_equal(back[frame.columns], frame, check_dtype=False, check_exact=True)


def test_raw_csv_reads_back_as_the_judgments_frame(prefs, tmp_path):
    options = ExportOptions(format="raw-csv", exclude_flagged=False)
    path = export_dataset(prefs, tmp_path / "raw", options).files["all"]
    missing = ("seconds", "gold_score", "score_ab", "score_ba")
    back = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in missing})
    frame = _raw_expected(prefs)
    pd.testing.assert_frame_equal(back[frame.columns], frame, check_dtype=False)


def test_raw_export_drops_flagged_comparisons_by_default(prefs, tmp_path):
    path = export_dataset(prefs, tmp_path / "raw", ExportOptions(format="raw-jsonl")).files["all"]
    back = pd.read_json(path, lines=True, dtype=False)
    assert len(back) == 12 and "p5" not in set(back["prompt_id"])


# -- files: split, card, atomic writes ------------------------------------------------------------


def test_split_files_share_no_prompt_and_the_card_lists_them(prefs, tmp_path):
    options = ExportOptions(aggregation="judgment", test_fraction=0.5, seed=1)
    written = export_dataset(prefs, tmp_path / "split.jsonl", options)
    assert set(written.files) == {"train", "test"}
    train = pd.read_json(written.files["train"], lines=True, dtype=False)
    test = pd.read_json(written.files["test"], lines=True, dtype=False)
    assert not set(train["prompt_id"]) & set(test["prompt_id"])
    assert len(train) + len(test) == 11
    card = written.card.read_text()
    assert written.card.name == "split.md"
    for split, frame in (("train", train), ("test", test)):
        name = written.files[split].name
        assert f"| `{name}` | {split} | {len(frame)} | {frame['prompt_id'].nunique()} |" in card
        assert f"path: {name}" in card
    loaded = datasets.load_dataset(
        "json",
        data_files={s: str(p) for s, p in written.files.items()},
        cache_dir=str(tmp_path / "cache"),
    )
    assert loaded["train"].num_rows == len(train) and loaded["test"].num_rows == len(test)


def test_card_records_counts_options_and_models(prefs, tmp_path):
    options = ExportOptions(min_agreement=0.5, margins={1: 0.5, 2: 1, 3: 2}, study="s")
    card = export_dataset(prefs, tmp_path / "card", options).card.read_text()
    for line in (
        "| judgments read | 15 |",
        "| flagged comparisons dropped | 1 |",
        "| records dropped by the agreement filter | 1 |",
        "| tied records dropped | 0 |",
        "| records written | 3 |",
        "- studies: s",
        "- minimum agreement: 0.5",
        "- margin map: level 1 -> 0.5, level 2 -> 1, level 3 -> 2",
        "| m1 | 2 | 1 | 0 |",  # chosen in p1 and p4, rejected in p3
        "| m2 | 1 | 2 | 0 |",
        "Exported by pairwise on ",
        export.FORMATS["trl-conversational"],
        "| `margin` |",
    ):
        assert line in card, line


class _Crash(RuntimeError):
    pass


def test_a_crash_mid_export_leaves_the_previous_files(prefs, tmp_path, monkeypatch):
    first = export_dataset(prefs, tmp_path / "out", ExportOptions())
    before = first.files["all"].read_bytes(), first.card.read_text()

    def crash(columns, rows, path):
        path.write_text('{"half": ')
        raise _Crash("disk died")

    monkeypatch.setitem(export._WRITERS, "trl-conversational", crash)
    with pytest.raises(_Crash):
        export_dataset(prefs, tmp_path / "out", ExportOptions(keep_ties=True))
    assert (first.files["all"].read_bytes(), first.card.read_text()) == before
    assert not list(tmp_path.glob(".*.part"))
    with pytest.raises(_Crash):
        export_dataset(prefs, tmp_path / "new", ExportOptions())
    assert not list(tmp_path.glob("new*")) and not list(tmp_path.glob(".new*"))


def test_no_judgments_writes_empty_files_and_says_so(store, tmp_path):
    for fmt in ("trl-conversational", "parquet"):
        written = export_dataset(store, tmp_path / fmt, ExportOptions(format=fmt))
        assert written.export.counts["records"] == 0
        assert "| records written | 0 |" in written.card.read_text()
    assert (tmp_path / "trl-conversational.jsonl").read_text() == ""
    assert pq.read_table(tmp_path / "parquet.parquet").num_rows == 0


# -- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"format": "csv"}, "format must be one of"),
        ({"aggregation": "median"}, "aggregation must be one of"),
        ({"min_agreement": 1.5}, "min_agreement"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"margins": {0: 1.0}}, "level 0"),
        ({"margins": {1: -1.0}}, "level 1 must be finite and >= 0"),
    ],
)
def test_bad_options_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        ExportOptions(**options)


def test_margin_text_and_missing_levels(prefs):
    assert export.parse_margins("1=0.5, 2=1,3=2") == {1: 0.5, 2: 1.0, 3: 2.0}
    with pytest.raises(ValueError, match="'2:1' is not level=value"):
        export.parse_margins("1=0.5,2:1")
    with pytest.raises(ValueError, match="no value for level 3 .*judgment_id"):
        build_export(prefs, ExportOptions(margins={1: 0.5, 2: 1.0}))


def test_bad_frames_and_messages_name_the_culprit():
    frame = _frame([[1, 2], [0]]).astype({"score": float})
    frame.loc[frame.index[0], "score"] = 1.5
    with pytest.raises(ValueError, match="judgment_id .* is not a whole number"):
        preference_records(frame)
    frame = _frame([[1, 2]])
    frame.loc[frame.index[1], "model_b"] = "C"
    with pytest.raises(ValueError, match="comparison_id 0 has model_b"):
        preference_records(frame)
    with pytest.raises(ValueError, match="prompt 'q': message 2 has role 'tool'"):
        export.prompt_messages(
            [{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}], prompt_id="q"
        )
    late_system = [
        {"role": "user", "content": "x"},
        {"role": "system", "content": "y"},
        {"role": "user", "content": "z"},
    ]
    with pytest.raises(ValueError, match="prompt 'q': message 2 is a system message"):
        export.render_transcript(late_system, prompt_id="q")
    assert export.prompt_messages(
        [*late_system[:1], {"role": "user", "content": "z"}, {"role": "assistant", "content": "w"}]
    )[-1] == {"role": "user", "content": "z"}


def test_texts_must_cover_every_record():
    records = preference_records(_frame([[1]])).records
    texts = pd.DataFrame(
        {"comparison_id": [99], "messages": ["[]"], "response_a": ["a"], "response_b": ["b"]}
    )
    with pytest.raises(ValueError, match="no prompt and responses for comparison_id 0"):
        export.format_records(records, texts, "trl-conversational")


# -- command line and page ----------------------------------------------------------------------------


def test_cli_export_writes_files_and_reports_them(prefs, tmp_path):
    out = tmp_path / "cli.jsonl"
    args = ["--db", prefs.path, "export", str(out), "--format", "trl-standard", "--keep-ties"]
    result = CliRunner().invoke(main, [*args, "--margins", "1=1,2=2,3=4", "--test-fraction", "0.5"])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'cli.md'}" in result.output
    written = [tmp_path / "cli.train.jsonl", tmp_path / "cli.test.jsonl"]
    lines = sum(len(p.read_text().splitlines()) for p in written)
    assert lines == 4
    bad = CliRunner().invoke(main, ["--db", prefs.path, "export", str(out), "--study", "nope"])
    assert bad.exit_code == 1 and "no study 'nope'" in bad.output


def test_export_page_shows_the_library_counts_and_offers_files(prefs, monkeypatch):
    monkeypatch.setenv("PAIRWISE_DB", prefs.path)
    at = AppTest.from_string("from pairwise.pages.export import page\npage()\n").run(timeout=30)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    counts = build_export(prefs, ExportOptions(study="s")).counts
    assert metrics["Records"] == str(counts["records"]) == "3"
    assert metrics["Ties dropped"] == "1" and metrics["Flagged dropped"] == "1"
    at.checkbox(key="export.keep_ties").check().run()
    assert {m.label: m.value for m in at.metric}["Ties kept"] == "1"
    at.button(key="export.prepare").click().run()
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["preferences.jsonl", "preferences.md"]
