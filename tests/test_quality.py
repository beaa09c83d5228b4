"""Annotator quality and pace, checked on tables small enough to work out by hand, against a plain
loop written for the test, and on properties that must hold whatever the data."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairwise.quality import (
    QUALITY_COLUMNS,
    annotator_quality,
    flagged_comparisons,
    hourly_counts,
    leave_one_out_majority,
    throughput,
)


def _frame(rows: list[tuple], *, gold: dict[int, int] | None = None) -> pd.DataFrame:
    """Judgments from ``(comparison_id, annotator, score, shown_order, seconds)`` rows."""
    gold = gold or {}
    frame = pd.DataFrame(
        rows, columns=["comparison_id", "annotator", "score", "shown_order", "seconds"]
    )
    frame["is_gold"] = frame["comparison_id"].isin(list(gold))
    frame["gold_score"] = frame["comparison_id"].map(gold).astype(float)
    return frame


# Three annotators, four comparisons; comparison 1 is a gold item whose answer is +2 (A better).
HAND = _frame(
    [
        (1, "x", 3, "AB", 10.0),
        (1, "y", 1, "BA", 5.0),
        (1, "z", -1, "AB", 100.0),
        (2, "x", 0, "AB", 20.0),
        (2, "y", 0, "BA", np.nan),
        (2, "z", 2, "BA", 50.0),
        (3, "x", -2, "BA", 30.0),
        (3, "y", -1, "AB", 7.0),
        (4, "x", 1, "AB", 40.0),
        (4, "y", 2, "BA", 9.0),
        (4, "z", 3, "AB", 1.0),
    ],
    gold={1: 2},
)

PASSES = pd.DataFrame(
    {
        "comparison_id": [5, 2, 6, 2],
        "annotator": ["x", "y", "y", "w"],
        "reason": ["skip", "unsafe", "skip", "broken"],
        "note": ["", "rude", "", "  "],
    }
)


def test_leave_one_out_majority_by_hand():
    # Comparison 1: x and y say win, z loss. For x the others are y (win) and z (loss): no majority.
    # Comparison 2: ties from x and y, a win from z. Comparison 3: x and y both say loss.
    expected = [None, None, "win", None, None, "tie", "loss", "loss", "win", "win", "win"]
    assert leave_one_out_majority(HAND).tolist() == expected


def test_annotator_quality_by_hand():
    q = annotator_quality(HAND, PASSES)
    assert list(q.columns) == list(QUALITY_COLUMNS)
    assert list(q.index) == ["w", "x", "y", "z"]
    assert q.loc[["x", "y", "z", "w"], "judgments"].tolist() == [4, 4, 3, 0]
    # medians: x of 10, 20, 30, 40; y of 5, 7, 9 (one time unknown); z of 100, 50, 1
    assert q.loc[["x", "y", "z"], "median_seconds"].tolist() == [25.0, 7.0, 50.0]
    # gold answer +2: x's +3 and y's +1 have its sign (error 1 each); z's -1 does not (error 3)
    assert q.loc[["x", "y", "z"], "gold_items"].tolist() == [1, 1, 1]
    assert q.loc[["x", "y", "z"], "gold_accuracy"].tolist() == [1.0, 1.0, 0.0]
    assert q.loc[["x", "y", "z"], "gold_mae"].tolist() == [1.0, 1.0, 3.0]
    # x and y have a reference on comparisons 3 and 4 and match both; z has one on 1, 2 and 4
    # and matches only on 4.
    assert q.loc[["x", "y", "z"], "majority_items"].tolist() == [2, 2, 3]
    assert q.loc[["x", "y", "z"], "majority_agreement"].tolist() == pytest.approx([1, 1, 1 / 3])
    # Left won: x on 1 (+3 AB), 3 (-2 BA: B on the left won), 4; y never (A or B always won on the
    # right); z on 4 only, of its three non-ties.
    assert q.loc[["x", "y", "z"], "left_rate"].tolist() == pytest.approx([1, 0, 1 / 3])
    assert q.loc[["x", "y", "z"], "tie_rate"].tolist() == [0.25, 0.25, 0.0]
    assert q.loc[["w", "x", "y", "z"], "skips"].tolist() == [0, 1, 1, 0]
    assert q.loc[["w", "x", "y", "z"], "flags"].tolist() == [1, 0, 1, 0]
    # w only passed: no rates at all, rather than rates of zero
    assert q.loc["w", ["gold_accuracy", "majority_agreement", "left_rate"]].isna().all()


def test_excluded_annotators_do_not_vote_but_are_still_scored():
    frame = HAND.assign(excluded=HAND["annotator"] == "z")
    q = annotator_quality(frame)
    # Without z's votes x and y are each other's only reference, and agree on all four items.
    assert q.loc[["x", "y"], "majority_items"].tolist() == [4, 4]
    assert q.loc[["x", "y"], "majority_agreement"].tolist() == [1.0, 1.0]
    # z is checked against x and y, who settle comparisons 1, 2 and 4: z matches on 4 only.
    assert q.loc["z", "majority_items"] == 3
    assert q.loc["z", "majority_agreement"] == pytest.approx(1 / 3)


def test_outcome_column_works_without_scores():
    frame = HAND.drop(columns=["score", "gold_score", "is_gold"])
    frame["outcome"] = np.where(
        HAND["score"] > 0, "win", np.where(HAND["score"] < 0, "loss", "tie")
    )
    q = annotator_quality(frame)
    assert (
        q["majority_agreement"].tolist() == annotator_quality(HAND)["majority_agreement"].tolist()
    )
    assert q["gold_items"].sum() == 0


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="shown_order"):
        annotator_quality(HAND.drop(columns=["shown_order"]))
    with pytest.raises(ValueError, match="created_at"):
        throughput(HAND)


def test_empty_frames():
    q = annotator_quality(HAND.iloc[:0], PASSES.iloc[:0])
    assert q.empty and list(q.columns) == list(QUALITY_COLUMNS)
    assert flagged_comparisons(PASSES.iloc[:0]).empty
    pace = throughput(pd.DataFrame({"created_at": pd.Series([], dtype=object)}))
    assert (pace.total, pace.recent, pace.recent_per_hour) == (0, 0, 0.0)
    assert math.isnan(pace.overall_per_hour)


def test_flagged_comparisons_group_reasons_and_notes():
    passes = pd.concat(
        [
            PASSES,
            pd.DataFrame(
                {"comparison_id": [9], "annotator": ["x"], "reason": ["broken"], "note": ["empty"]}
            ),
        ]
    )
    table = flagged_comparisons(passes)
    assert table["comparison_id"].tolist() == [2, 9]
    first = table.iloc[0]
    assert (first["flags"], first["reasons"], first["notes"]) == (2, "broken, unsafe", "y: rude")
    assert table.iloc[1]["notes"] == "x: empty"


def _loop_quality(frame: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    """Majority agreement, gold accuracy and left rate per annotator, by plain loops."""
    sign = {i: (r.score > 0) - (r.score < 0) for i, r in frame.iterrows()}
    out = {}
    for who in sorted(set(frame["annotator"])):
        hits = total = gold_hits = gold_total = left = decided = 0
        for i, r in frame[frame["annotator"] == who].iterrows():
            others = [
                sign[j]
                for j, o in frame.iterrows()
                if o.comparison_id == r.comparison_id and o.annotator != who
            ]
            counts = {s: others.count(s) for s in (-1, 0, 1)}
            best = max(counts.values()) if others else 0
            leaders = [s for s, n in counts.items() if n == best]
            if best > 0 and len(leaders) == 1:
                total += 1
                hits += leaders[0] == sign[i]
            if r.is_gold:
                gold_total += 1
                gold_hits += sign[i] == (r.gold_score > 0) - (r.gold_score < 0)
            if sign[i] != 0:
                decided += 1
                left += (sign[i] > 0) == (r.shown_order == "AB")
        out[who] = (
            hits / total if total else math.nan,
            gold_hits / gold_total if gold_total else math.nan,
            left / decided if decided else math.nan,
        )
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 6),
            st.sampled_from("abcd"),
            st.integers(-3, 3),
            st.sampled_from(["AB", "BA"]),
        ),
        min_size=1,
        max_size=30,
        unique_by=lambda r: (r[0], r[1]),
    ),
    st.sets(st.integers(1, 6)),
)
def test_matches_a_plain_loop(rows, gold_ids):
    frame = _frame([(*r, 1.0) for r in rows], gold={c: 1 if c % 2 else -3 for c in gold_ids})
    q = annotator_quality(frame)
    for who, expected in _loop_quality(frame).items():
        got = q.loc[who, ["majority_agreement", "gold_accuracy", "left_rate"]].tolist()
        assert got == pytest.approx(list(expected), nan_ok=True)


def _simulated(rng: np.random.Generator, n: int, *, noisy: str | None) -> pd.DataFrame:
    """Three annotators who always give each comparison's true outcome, and optionally a fourth
    who answers at random with equal chances of win, tie and loss."""
    truth = rng.choice([-2, 0, 2], size=n)
    rows = []
    for c in range(n):
        for who in ("a", "b", "c"):
            rows.append((c, who, truth[c], rng.choice(["AB", "BA"]), 1.0))
        if noisy:
            rows.append((c, noisy, rng.choice([-1, 0, 1]), rng.choice(["AB", "BA"]), 1.0))
    return _frame(rows)


def test_unanimous_annotators_agree_fully():
    q = annotator_quality(_simulated(np.random.default_rng(1), 200, noisy=None))
    assert q["majority_agreement"].tolist() == [1.0, 1.0, 1.0]
    assert q["majority_items"].tolist() == [200, 200, 200]


def test_a_random_annotator_agrees_about_one_time_in_three():
    n = 3000
    q = annotator_quality(_simulated(np.random.default_rng(7), n, noisy="r"))
    # The honest three still see a settled majority (two honest votes beat one random one).
    assert q.loc[["a", "b", "c"], "majority_agreement"].tolist() == [1.0, 1.0, 1.0]
    sd = math.sqrt((1 / 3) * (2 / 3) / n)
    assert abs(q.loc["r", "majority_agreement"] - 1 / 3) < 4 * sd
    # Random sides: the left response wins about half the non-tied judgments.
    assert abs(q.loc["a", "left_rate"] - 0.5) < 4 * math.sqrt(0.25 / (n * 2 / 3))


def test_an_annotator_who_always_picks_the_left_response():
    rng = np.random.default_rng(3)
    orders = rng.choice(["AB", "BA"], size=50)
    rows = [(c, "l", 1 if o == "AB" else -1, o, 1.0) for c, o in enumerate(orders)]
    q = annotator_quality(_frame(rows))
    assert q.loc["l", "left_rate"] == 1.0 and q.loc["l", "tie_rate"] == 0.0


def _timed(stamps: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"created_at": stamps})


def test_throughput_by_hand():
    frame = _timed(
        [
            "2024-05-01T10:30:00.000+00:00",
            "2024-05-01T10:00:00.000+00:00",
            "2024-05-01T11:45:00.000+00:00",
            "2024-05-01T11:00:00.000+00:00",
        ]
    )
    now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    pace = throughput(frame, now=now)
    # The last hour is (11:00, 12:00]: only 11:45 is in it.
    assert (pace.total, pace.recent, pace.recent_per_hour) == (4, 1, 1.0)
    # Three gaps over the 1 h 45 min from 10:00 to 11:45.
    assert pace.overall_per_hour == pytest.approx(3 / 1.75)
    assert pace.first == pd.Timestamp("2024-05-01T10:00Z") and pace.last == pd.Timestamp(
        "2024-05-01T11:45Z"
    )
    two = throughput(frame, now=now, window_hours=2)
    assert (two.recent, two.recent_per_hour) == (3, 1.5)
    # A naive "now" is read as UTC; a judgment after "now" is not recent.
    assert throughput(frame, now=datetime(2024, 5, 1, 11, 30)).recent == 1
    with pytest.raises(ValueError, match="window_hours"):
        throughput(frame, window_hours=0)
    single = throughput(frame.iloc[:1], now=now)
    assert single.total == 1 and math.isnan(single.overall_per_hour)


def test_a_pace_is_given_only_over_a_meaningful_stretch():
    start = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)

    def pace(count: int, every_seconds: float):
        stamps = [(start + timedelta(seconds=i * every_seconds)).isoformat() for i in range(count)]
        return throughput(_timed(stamps), now=start + timedelta(hours=2))

    # four judgments in seven seconds: "2,000 an hour" is not a pace anyone keeps
    assert pace(4, 7 / 3).steady_per_hour() is None
    # many judgments, but over five minutes only
    assert pace(60, 5).steady_per_hour() is None
    # ten judgments a minute apart: nine minutes, too short still
    assert pace(10, 60).steady_per_hour() is None
    # twelve judgments two minutes apart: 22 minutes, 11 gaps, 30 an hour
    assert pace(12, 120).steady_per_hour() == pytest.approx(30.0)
    assert pace(12, 120).steady_per_hour(min_judgments=13) is None


def test_hourly_counts_fill_empty_hours():
    frame = _timed(
        [
            "2024-05-01T10:05:00.000+00:00",
            "2024-05-01T10:59:59.000+00:00",
            "2024-05-01T12:00:00.000+00:00",
        ]
    )
    counts = hourly_counts(frame)
    assert counts.tolist() == [2, 0, 1]
    assert counts.index[0] == pd.Timestamp("2024-05-01T10:00Z")
    assert hourly_counts(frame.iloc[:0]).empty
