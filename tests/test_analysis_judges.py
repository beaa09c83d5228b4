"""Agreement between judge groups and model judges' position consistency, checked against a
hand-worked example and a plain-loop re-implementation of FastChat's ``compute_agreement.py``."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from analysis.judges import agreement_between, judge_groups, position_consistency

WIN = {"A": 1, "B": -1, "tie": 0}


def _vote(prompt, turns, model_a, model_b, judge, kind, winner, order="AB"):
    score = {model_a: 1, model_b: -1, "tie": 0}[winner]
    return {
        "prompt_id": prompt,
        "turns": turns,
        "model_a": model_a,
        "model_b": model_b,
        "annotator": judge,
        "judge_kind": kind,
        "score": score,
        "shown_order": order,
    }


def _hand_example() -> pd.DataFrame:
    """Three items at turn 1 and one at turn 2; worked by hand in the test below."""
    h, m = "human", "model"
    return pd.DataFrame(
        [
            _vote("q1-1", 1, "a", "b", "expert_0", h, "a"),
            _vote("q1-1", 1, "a", "b", "expert_1", h, "a"),
            _vote("q1-1", 1, "a", "b", "expert_2", h, "tie"),
            _vote("q1-1", 1, "a", "b", "gpt-4", m, "a"),
            _vote("q2-1", 1, "a", "b", "expert_0", h, "b"),
            _vote("q2-1", 1, "a", "b", "gpt-4", m, "tie"),
            _vote("q3-1", 1, "a", "c", "expert_0", h, "c"),
            _vote("q3-1", 1, "a", "c", "expert_1", h, "a"),
            _vote("q3-1", 1, "c", "a", "gpt-4", m, "c"),  # the judge read the pair the other way
            _vote("q1-2", 2, "a", "b", "expert_0", h, "a"),
            _vote("q1-2", 2, "a", "b", "gpt-4", m, "a", "AB"),  # both orders, verdicts differ:
            _vote("q1-2", 2, "a", "b", "gpt-4", m, "b", "BA"),  # one vote, a tie
        ]
    )


def test_agreement_between_matches_the_hand_worked_example():
    table = agreement_between(_hand_example())
    rows = {
        (r.group_a, r.group_b, None if pd.isna(r.turn) else int(r.turn)): r
        for r in table.itertuples()
    }
    # Turn 1, model vs human: q1 pairs (a,a) (a,a) (a,tie); q2 (tie,b); q3 (c,c) (c,a):
    # 3 agree of 6; without ties q1 gives 2 of 2, q2 none, q3 1 of 2: 3 of 4.
    expected = {
        ("human", "gpt-4", 1): (3 / 6, 3 / 4, 6, 4),
        # Turn 2: the judge's two orders disagree, so its vote is a tie against the human's a.
        ("human", "gpt-4", 2): (0.0, np.nan, 1, 0),
        ("human", "gpt-4", None): (3 / 7, 3 / 4, 7, 4),
        # Humans: q1 (a,a) (a,tie) (a,tie), q3 (c,a): 1 of 4; without ties (a,a) (c,a): 1 of 2.
        ("human", "human", 1): (1 / 4, 1 / 2, 4, 2),
        ("human", "human", None): (1 / 4, 1 / 2, 4, 2),
        ("random", "random", None): (1 / 3, 1 / 2, pd.NA, pd.NA),
    }
    assert set(rows) == set(expected)
    for key, (with_ties, without_ties, n_with, n_without) in expected.items():
        row = rows[key]
        assert row.with_ties == pytest.approx(with_ties)
        if np.isnan(without_ties):
            assert np.isnan(row.without_ties)
        else:
            assert row.without_ties == pytest.approx(without_ties)
        if n_with is pd.NA:
            assert pd.isna(row.n_pairs_with_ties) and pd.isna(row.n_pairs_without_ties)
        else:
            assert (row.n_pairs_with_ties, row.n_pairs_without_ties) == (n_with, n_without)
    order = [
        (r.group_a, r.group_b, None if pd.isna(r.turn) else r.turn) for r in table.itertuples()
    ]
    assert order == [
        ("human", "human", 1),
        ("human", "gpt-4", 1),
        ("human", "gpt-4", 2),
        ("human", "human", None),
        ("human", "gpt-4", None),
        ("random", "random", None),
    ]


def _fastchat_style(frame: pd.DataFrame, judge_a: str, judge_b: str, ban: bool):
    """FastChat's loops: votes keyed by (turn, question, sorted pair), then pairs of votes."""
    data = defaultdict(lambda: defaultdict(list))
    for row in frame.itertuples():
        group = "human" if row.judge_kind == "human" else row.annotator
        first, second = sorted([row.model_a, row.model_b])
        winner = {1: row.model_a, -1: row.model_b, 0: "tie"}[int(np.sign(row.score))]
        data[(row.turns, row.prompt_id, first, second)][group].append(winner)
    agree = total = 0
    for votes in data.values():
        if judge_a == judge_b:
            pairs = itertools.combinations(votes.get(judge_a, []), 2)
        else:
            pairs = itertools.product(votes.get(judge_a, []), votes.get(judge_b, []))
        for x, y in pairs:
            if ban and "tie" in (x, y):
                continue
            total += 1
            agree += x == y
    return agree, total


def test_agreement_between_equals_fastchat_loops_on_random_votes():
    rng = np.random.default_rng(7)
    models = ["m1", "m2", "m3"]
    rows = []
    for q in range(60):
        turns = 1 + q % 2
        a, b = rng.choice(models, 2, replace=False)
        for judge in rng.choice(["e1", "e2", "e3", "e4"], rng.integers(0, 4), replace=False):
            rows.append(_vote(f"q{q}", turns, a, b, judge, "human", rng.choice([a, b, "tie"])))
        for judge in ("gpt-4", "claude"):
            if rng.random() < 0.8:
                x, y = (a, b) if rng.random() < 0.5 else (b, a)
                rows.append(_vote(f"q{q}", turns, x, y, judge, "model", rng.choice([a, b, "tie"])))
    frame = pd.DataFrame(rows)
    table = agreement_between(frame).dropna(subset=["n_pairs_with_ties"])
    assert {(r.group_a, r.group_b) for r in table.itertuples()} == {
        ("human", "human"),
        ("human", "claude"),
        ("human", "gpt-4"),
        ("claude", "gpt-4"),
    }
    for row in table.itertuples():
        part = frame if pd.isna(row.turn) else frame[frame["turns"] == row.turn]
        agree, total = _fastchat_style(part, row.group_a, row.group_b, ban=False)
        agree_nt, total_nt = _fastchat_style(part, row.group_a, row.group_b, ban=True)
        assert (row.n_pairs_with_ties, row.n_pairs_without_ties) == (total, total_nt)
        assert row.with_ties == pytest.approx(agree / total)
        assert row.without_ties == pytest.approx(agree_nt / total_nt)


def test_without_judge_kind_everyone_is_human_and_turns_are_optional():
    frame = _hand_example().drop(columns=["judge_kind", "turns"])
    assert set(judge_groups(frame)) == {"human"}
    table = agreement_between(frame.drop(columns="shown_order"))
    assert list(table["group_a"]) == ["human", "random"]
    assert table["turn"].isna().all()


def test_unknown_judge_kind_is_refused():
    frame = _hand_example().assign(judge_kind="robot")
    with pytest.raises(ValueError, match="judge_kind 'robot'"):
        agreement_between(frame)


def test_position_consistency_counts_each_kind_of_swap():
    rows = []
    for item, (ab, ba) in enumerate(
        [("a", "a"), ("a", "b"), ("b", "a"), ("a", "tie"), ("tie", "tie")]
    ):
        rows.append(_vote(f"p{item}", 1, "a", "b", "gpt-4", "model", ab, "AB"))
        rows.append(_vote(f"p{item}", 1, "a", "b", "gpt-4", "model", ba, "BA"))
    rows.append(_vote("p9", 1, "a", "b", "gpt-4", "model", "a", "AB"))  # one order only: left out
    rows.append(_vote("p0", 1, "a", "b", "expert_0", "human", "b", "BA"))  # humans: left out
    rows.append(_vote("p0", 1, "a", "b", "expert_0", "human", "b", "AB"))
    frame = pd.DataFrame(rows).assign(comparison_id=lambda f: f["prompt_id"])
    table = position_consistency(frame)
    assert list(table["judge"]) == ["gpt-4"]
    row = table.iloc[0]
    # (a, a) and (tie, tie) agree; (a, b): left won both times; (b, a): right both times;
    # (a, tie): left once, tie once, so it leans to the first-shown side.
    assert (row.n, row.consistent, row.favours_first, row.favours_second) == (5, 2, 2, 1)
    assert row.consistency == pytest.approx(0.4)
    assert row.favours_first_rate == pytest.approx(0.4)
    assert row.consistency_ci_low < 0.4 < row.consistency_ci_high


def test_position_consistency_ignores_unknown_orders_and_refuses_repeats():
    frame = pd.DataFrame(
        [
            _vote("p1", 1, "a", "b", "j", "model", "a", "AB"),
            _vote("p1", 1, "a", "b", "j", "model", "a", None),
        ]
    )
    assert position_consistency(frame).empty
    twice = pd.DataFrame([_vote("p1", 1, "a", "b", "j", "model", "a", "AB")] * 2)
    with pytest.raises(ValueError, match="more than once in the same order"):
        position_consistency(twice)


def test_position_consistency_reads_both_orders_stored_in_one_judgment():
    """MT-Bench's g1_winner / g2_winner, imported as one judgment with score_ab and score_ba."""
    pairs = [(1, 1), (1, -1), (-1, 1), (1, 0), (0, 0)]  # the same five cases as two-row judgments
    frame = pd.DataFrame(
        [
            {**_vote(f"p{i}", 1, "a", "b", "gpt-4", "model", "tie"), "score_ab": ab, "score_ba": ba}
            for i, (ab, ba) in enumerate(pairs)
        ]
        + [
            {
                **_vote("p9", 1, "a", "b", "gpt-4", "model", "a"),
                "score_ab": np.nan,
                "score_ba": np.nan,
            }
        ]
    )
    row = position_consistency(frame).iloc[0]
    assert (row.n, row.consistent, row.favours_first, row.favours_second) == (5, 2, 2, 1)
