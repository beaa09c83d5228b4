"""Annotator quality and study pace: the numbers an admin watches while a study runs.

Pure functions over the judgments frame (``docs/judgments-frame.md``) and the passes frame
(:meth:`pairwise.store.Store.passes_frame`): frames in, frames or small result objects out, no SQL
and no Streamlit, so that the progress page only shows what these functions compute and tests can
check them on hand-made tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

OUTCOMES = ("win", "tie", "loss")
SKIP = "skip"

QUALITY_COLUMNS = (
    "judgments",
    "median_seconds",
    "gold_items",
    "gold_accuracy",
    "gold_mae",
    "majority_items",
    "majority_agreement",
    "left_rate",
    "tie_rate",
    "skips",
    "flags",
)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], needed_by: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{needed_by} needs column {missing[0]!r} in the frame it is given")


def people_only(judgments: pd.DataFrame) -> pd.DataFrame:
    """The judgments of people: a model judge is no annotator to follow, rate or pace.

    A frame without ``judge_kind`` (built outside the app) is taken to hold people only.
    """
    if "judge_kind" not in judgments.columns:
        return judgments
    return judgments[judgments["judge_kind"].to_numpy() != "model"]


def _signs(frame: pd.DataFrame) -> np.ndarray:
    """+1 / 0 / -1 per judgment: model A won, tied or lost."""
    if "score" in frame.columns:
        return np.sign(frame["score"].to_numpy(dtype=float)).astype(int)
    _require(frame, ("outcome",), "quality")
    return frame["outcome"].map({"win": 1, "tie": 0, "loss": -1}).to_numpy(dtype=int)


def leave_one_out_majority(judgments: pd.DataFrame) -> pd.Series:
    """For each judgment, the outcome most of the *other* annotators gave the same comparison.

    Leaving the judgment's own annotator out keeps an annotator from agreeing with themselves, which
    would inflate agreement most on comparisons with few judgments. The reference is the outcome with
    strictly more votes than each other outcome; when the others have no judgment, or their top
    outcomes tie (one win and one loss), there is no reference and the value is missing. Annotators
    marked ``excluded`` (when the frame has that column) do not vote, but their own judgments still
    get a reference, so an excluded annotator can be checked before being let back in.
    """
    _require(judgments, ("comparison_id", "annotator"), "leave_one_out_majority")
    signs = _signs(judgments)
    votes = np.zeros((len(judgments), 3), dtype=int)  # columns: win, tie, loss
    votes[np.arange(len(judgments)), 1 - signs] = 1
    if "excluded" in judgments.columns:
        votes[judgments["excluded"].to_numpy(dtype=bool)] = 0
    per_comparison = (
        pd.DataFrame(votes, index=judgments["comparison_id"].to_numpy())
        .groupby(level=0)
        .sum()
        .reindex(judgments["comparison_id"].to_numpy())
        .to_numpy()
    )
    others = per_comparison - votes
    top = others.max(axis=1)
    settled = (top > 0) & ((others == top[:, None]).sum(axis=1) == 1)
    labels = np.array(OUTCOMES, dtype=object)[others.argmax(axis=1)]
    return pd.Series(
        np.where(settled, labels, None), index=judgments.index, name="majority", dtype=object
    )


def annotator_quality(judgments: pd.DataFrame, passes: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per annotator: how much, how fast and how reliably they judge.

    Columns, in :data:`QUALITY_COLUMNS` order:

    - ``judgments``: judgments made (gold items included); ``median_seconds``: median time per item.
    - ``gold_items``, ``gold_accuracy``: gold comparisons judged, and the share whose outcome (the
      score's sign) matches the gold answer's; ``gold_mae``: mean absolute distance between their
      score and the gold score, in scale points.
    - ``majority_items``, ``majority_agreement``: judgments whose comparison has a leave-one-out
      reference (see :func:`leave_one_out_majority`), and the share of them that match it.
    - ``left_rate``: of the judgments that were not ties and whose shown side is known, the share
      where the response shown on the left won; about 0.5 for an annotator without position bias. ``tie_rate``: share of ties.
    - ``skips`` and ``flags``: passes with reason ``skip``, and with any other reason.

    A rate with nothing to count is NaN, not 0: "no gold items yet" is not "every gold item wrong".
    Annotators who only passed get a row with zero judgments. Model judges are left out (see
    :func:`people_only`): they are neither rated nor part of anyone's majority.
    """
    _require(judgments, ("comparison_id", "annotator", "shown_order"), "annotator_quality")
    judgments = people_only(judgments)
    signs = _signs(judgments)
    majority = leave_one_out_majority(judgments)
    outcome = np.array(["loss", "tie", "win"], dtype=object)[signs + 1]
    order = judgments["shown_order"]
    left_won = (signs > 0) == (order.to_numpy() == "AB")
    side_known = order.notna().to_numpy()  # imported judgments may not say which side was left
    gold = np.zeros(len(judgments), dtype=bool)
    gold_score = np.full(len(judgments), np.nan)
    if "gold_score" in judgments.columns:
        gold_score = judgments["gold_score"].to_numpy(dtype=float)
        gold = ~np.isnan(gold_score)
        if "is_gold" in judgments.columns:
            gold &= judgments["is_gold"].to_numpy(dtype=bool)
    score = judgments["score"].to_numpy(dtype=float) if "score" in judgments else signs
    seconds = (
        judgments["seconds"].to_numpy(dtype=float)
        if "seconds" in judgments.columns
        else np.full(len(judgments), np.nan)
    )
    has_majority = majority.notna().to_numpy()
    decided = signs != 0
    work = pd.DataFrame(
        {
            "annotator": judgments["annotator"].to_numpy(),
            "one": 1,
            "seconds": seconds,
            "gold": gold.astype(int),
            "gold_hit": np.where(gold, np.sign(score) == np.sign(gold_score), np.nan),
            "gold_error": np.where(gold, np.abs(score - gold_score), np.nan),
            "has_majority": has_majority.astype(int),
            "agrees": np.where(has_majority, outcome == majority.to_numpy(), np.nan),
            "left_won": np.where(decided & side_known, left_won, np.nan),
            "tie": (~decided).astype(float),
        }
    )
    grouped = work.groupby("annotator", sort=True)
    table = pd.DataFrame(
        {
            "judgments": grouped["one"].sum(),
            "median_seconds": grouped["seconds"].median(),
            "gold_items": grouped["gold"].sum(),
            "gold_accuracy": grouped["gold_hit"].mean(),
            "gold_mae": grouped["gold_error"].mean(),
            "majority_items": grouped["has_majority"].sum(),
            "majority_agreement": grouped["agrees"].mean(),
            "left_rate": grouped["left_won"].mean(),
            "tie_rate": grouped["tie"].mean(),
        }
    )
    table = table.join(pass_counts(passes), how="outer")
    for column in ("judgments", "gold_items", "majority_items", "skips", "flags"):
        table[column] = table[column].fillna(0).astype("int64")
    table.index.name = "annotator"
    return table[list(QUALITY_COLUMNS)]


def pass_counts(passes: pd.DataFrame | None) -> pd.DataFrame:
    """Skips and flags per annotator (index ``annotator``, columns ``skips`` and ``flags``)."""
    if passes is None or passes.empty:
        return pd.DataFrame(
            {"skips": pd.Series(dtype="int64"), "flags": pd.Series(dtype="int64")},
            index=pd.Index([], name="annotator", dtype=object),
        )
    _require(passes, ("annotator", "reason"), "pass_counts")
    skip = (passes["reason"] == SKIP).to_numpy()
    counts = pd.DataFrame(
        {"annotator": passes["annotator"].to_numpy(), "skips": skip, "flags": ~skip}
    )
    return counts.groupby("annotator").sum().astype("int64")


def flagged_comparisons(passes: pd.DataFrame) -> pd.DataFrame:
    """Comparisons that annotators flagged (any pass reason but ``skip``), most flagged first.

    One row per comparison: ``flags``, ``reasons`` (each reason with its count) and ``notes`` (the
    annotators' non-empty notes, ``annotator: note``), plus the comparison's prompt and models when
    the passes frame carries them.
    """
    keys = [c for c in ("comparison_id", "prompt_id", "model_a", "model_b") if c in passes.columns]
    columns = [*keys, "flags", "reasons", "notes"]
    if passes.empty:
        return pd.DataFrame(columns=columns)
    _require(passes, ("comparison_id", "annotator", "reason"), "flagged_comparisons")
    flags = passes[passes["reason"] != SKIP]
    if flags.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for key, group in flags.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        reasons = group["reason"].value_counts().sort_index()
        notes = [
            f"{who}: {note.strip()}"
            for who, note in zip(group["annotator"], _notes(group), strict=True)
            if note.strip()
        ]
        rows.append(
            [
                *key,
                len(group),
                ", ".join(f"{reason} ×{n}" if n > 1 else reason for reason, n in reasons.items()),
                " | ".join(notes),
            ]
        )
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["flags", "comparison_id"], ascending=[False, True], kind="stable")


def _notes(passes: pd.DataFrame) -> pd.Series:
    if "note" not in passes.columns:
        return pd.Series("", index=passes.index)
    return passes["note"].fillna("").astype(str)


#: A pace needs this long a stretch of judging, and this many judgments, to be shown.
MIN_PACE_HOURS = 0.25
MIN_PACE_JUDGMENTS = 10


@dataclass(frozen=True)
class Throughput:
    """How fast judgments arrive.

    ``recent_per_hour`` counts the judgments stored in the last ``window_hours`` before ``now``,
    scaled to an hour. ``overall_per_hour`` is one over the mean gap between consecutive judgments
    (``total - 1`` gaps from the first to the last one): the pace while judging went on, which a
    pause after the last judgment does not dilute; NaN with fewer than two judgments.
    """

    total: int
    recent: int
    window_hours: float
    recent_per_hour: float
    overall_per_hour: float
    first: pd.Timestamp | None
    last: pd.Timestamp | None

    def steady_per_hour(
        self, min_hours: float = MIN_PACE_HOURS, min_judgments: int = MIN_PACE_JUDGMENTS
    ) -> float | None:
        """``overall_per_hour`` once it means something, else ``None``.

        Four judgments in seven seconds make "2,000 an hour", which no one will keep up: a pace
        is only given once the judgments span ``min_hours`` and number ``min_judgments``.
        """
        if self.total < min_judgments or self.first is None or self.last is None:
            return None
        if (self.last - self.first).total_seconds() < min_hours * 3600:
            return None
        return self.overall_per_hour


def judgment_times(judgments: pd.DataFrame) -> pd.Series:
    """``created_at`` as UTC timestamps (the store writes ISO 8601 with an offset)."""
    _require(judgments, ("created_at",), "judgment_times")
    return pd.to_datetime(judgments["created_at"], utc=True, format="ISO8601")


def throughput(
    judgments: pd.DataFrame, now: datetime | None = None, window_hours: float = 1.0
) -> Throughput:
    """Judgments per hour, recently and overall; see :class:`Throughput`."""
    if window_hours <= 0:
        raise ValueError(f"window_hours must be positive, not {window_hours!r}")
    times = judgment_times(judgments).sort_values()
    now_ts = pd.Timestamp(now or datetime.now(timezone.utc))
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    start = now_ts - timedelta(hours=window_hours)
    recent = int(((times > start) & (times <= now_ts)).sum())
    total = len(times)
    first = times.iloc[0] if total else None
    last = times.iloc[-1] if total else None
    span_hours = (last - first).total_seconds() / 3600 if total else 0.0
    overall = (total - 1) / span_hours if total >= 2 and span_hours > 0 else float("nan")
    return Throughput(
        total=total,
        recent=recent,
        window_hours=float(window_hours),
        recent_per_hour=recent / window_hours,
        overall_per_hour=overall,
        first=first,
        last=last,
    )


def hourly_counts(judgments: pd.DataFrame) -> pd.Series:
    """Judgments per clock hour (UTC), with empty hours as 0: the data for a pace chart."""
    times = judgment_times(judgments)
    if times.empty:
        return pd.Series(dtype="int64", name="judgments")
    counts = pd.Series(1, index=pd.DatetimeIndex(times)).resample("1h").sum().astype("int64")
    counts.index.name = "hour"
    return counts.rename("judgments")
