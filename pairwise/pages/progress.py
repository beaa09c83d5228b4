"""The progress page: how far a study is, how fast it goes, and how each annotator is doing.

Every number comes from :mod:`pairwise.quality` or the store; this page only lays them out.
Annotators' judgments are all shown here, excluded ones too (marked), so that an admin can
check someone before letting them back into reports.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import pair_progress
from pairwise.pages.common import MISSING, Context, as_admin, require_admin
from pairwise.pages.studies import select_study
from pairwise.quality import (
    MIN_PACE_HOURS,
    MIN_PACE_JUDGMENTS,
    annotator_quality,
    flagged_comparisons,
    hourly_counts,
    people_only,
    throughput,
)
from pairwise.store import Store, Study

WINDOWS = {1.0: "last hour", 6.0: "last 6 hours", 24.0: "last 24 hours"}

#: The annotators' work, shown apart from the quality figures so that each table fits the page.
WORK_COLUMNS = ("judgments", "median_seconds", "skips", "flags", "excluded")

COLUMN_HELP = {
    "judgments": st.column_config.NumberColumn("judgments", help="Judgments made, gold included"),
    "median_seconds": st.column_config.NumberColumn(
        "median s / item", format="%.1f", help="Median time spent on an item"
    ),
    "gold_accuracy": st.column_config.NumberColumn(
        "gold accuracy",
        format="percent",
        help="Share of gold items where the annotator's outcome (win / tie / loss) matches the"
        " known answer's",
    ),
    "gold_mae": st.column_config.NumberColumn(
        "gold error", format="%.2f", help="Mean absolute distance from the gold score, in points"
    ),
    "majority_agreement": st.column_config.NumberColumn(
        "agrees with others",
        format="percent",
        help="Leave-one-out: share of the annotator's judgments whose outcome equals the majority"
        " outcome of the OTHER annotators of the same comparison (the annotator's own vote left"
        " out; comparisons where the others have no clear majority are not counted). Excluded"
        " annotators do not vote.",
    ),
    "majority_items": st.column_config.NumberColumn(
        "items with a majority", help="Judgments that had a leave-one-out majority to compare with"
    ),
    "left_rate": st.column_config.NumberColumn(
        "left wins",
        format="percent",
        help="Of the non-tied judgments, the share where the response shown on the left won;"
        " about 50% without a position bias",
    ),
    "gold_items": st.column_config.NumberColumn("gold items", help="Gold items judged"),
    "tie_rate": st.column_config.NumberColumn("ties", format="percent"),
    "skips": st.column_config.NumberColumn("skips"),
    "flags": st.column_config.NumberColumn("flags"),
    "excluded": st.column_config.CheckboxColumn("excluded", help="Left out of reports"),
}


def page() -> None:
    ctx = require_admin()
    st.title("Progress")
    study = select_study(ctx.store, key="progress.study")
    if study is None:
        return
    judgments = people_only(ctx.store.judgments_frame(study.id, include_excluded=True))
    passes = ctx.store.passes_frame(study.id)
    _overview(ctx, study, judgments)
    st.subheader("Annotators")
    _annotators(ctx, judgments, passes)
    st.subheader("Flagged comparisons")
    flagged = flagged_comparisons(passes)
    if flagged.empty:
        st.caption("No comparison has been flagged.")
    else:
        st.dataframe(flagged, hide_index=True)
    st.subheader("Pairs")
    _pairs(ctx, study, judgments)


def _overview(ctx: Context, study: Study, judgments: pd.DataFrame) -> None:
    progress = ctx.store.study_progress(study)
    done, wanted = progress["done"], progress["wanted"]
    st.progress(
        min(1.0, done / wanted) if wanted else 1.0,
        text=f"{done:,} of {wanted:,} judgments wanted ({study.overlap} per comparison)",
    )
    window = st.segmented_control(
        "Recent window",
        list(WINDOWS),
        default=1.0,
        format_func=WINDOWS.__getitem__,
        key="progress.window",
    )
    pace = throughput(judgments, window_hours=window or 1.0)
    steady = pace.steady_per_hour()
    a, b, c, d = st.columns(4)
    a.metric("Judgments done", f"{done:,}", help="Towards the overlap; gold items not counted")
    b.metric("Comparisons complete", f"{progress['complete']:,} / {progress['comparisons']:,}")
    c.metric(
        f"Judgments, {WINDOWS[pace.window_hours]}",
        f"{pace.recent:,}",
        help="Judgments stored in that window before now, gold items included",
    )
    d.metric(
        "Pace",
        "not yet" if steady is None else f"{steady:,.0f} / hour",
        help="Judgments per hour while judging went on: one over the mean gap between"
        f" consecutive judgments, first to last. Shown once there are {MIN_PACE_JUDGMENTS}"
        f" judgments over at least {MIN_PACE_HOURS * 60:.0f} minutes.",
    )
    if pace.total:
        hourly = hourly_counts(judgments)
        # hours as labels, so that each bar is an hour wide rather than a line at an instant
        hourly.index = hourly.index.strftime("%m-%d %H:00")
        st.bar_chart(hourly, x_label="hour (UTC)", y_label="judgments", height=240)


PAIR_COLUMNS = {
    "judgments": st.column_config.NumberColumn("judgments", help="Judgments counted in reports"),
    "win_rate": st.column_config.NumberColumn(
        "win rate", format="percent", help="Share of judgments model A won"
    ),
    "interval": st.column_config.TextColumn(
        "95% interval", help="Fixed-size interval: right 95% of the time if looked at once"
    ),
    "anytime": st.column_config.TextColumn(
        "anytime interval",
        help="Anytime-valid confidence sequence: right 95% of the time however often it is"
        " looked at, so the study may stop as soon as it looks settled",
    ),
    "still_needed": st.column_config.NumberColumn(
        "judgments still needed", help="Until the anytime interval is narrower than the target"
    ),
    "status": st.column_config.TextColumn("settled"),
}


def _pairs(ctx: Context, study: Study, judgments: pd.DataFrame) -> None:
    """Per pair: the estimate, both intervals, the judgments still needed, a settled mark."""
    st.caption(
        "Assignment: adaptive, the least settled pair gets the next judgment."
        if study.adaptive
        else "Assignment: the study's random order."
    )
    target = st.number_input(
        "Target half-width of the win-rate interval",
        min_value=0.005,
        max_value=0.45,
        value=0.05,
        step=0.01,
        format="%.3f",
        key="progress.target",
    )
    counted = judgments[~judgments["excluded"] & ~judgments["is_gold"]]
    newest = int(counted["judgment_id"].max()) if len(counted) else 0
    table = _pair_table(ctx.store, study.id, newest, len(counted), float(target))
    if table.empty:
        st.caption("No judgments yet.")
        return
    st.dataframe(table, hide_index=True, column_config=PAIR_COLUMNS)
    settled = int(table["status"].str.len().gt(0).sum())
    st.caption(
        f"{settled} of {len(table)} pairs settled: the anytime interval excludes 50% or is"
        f" narrower than ±{target:.3f}. Methods: docs/study-design.md."
    )


@st.cache_data(ttl=300, max_entries=16, show_spinner="Computing the intervals…")
def _pair_table(
    _store: Store, study_id: int, newest: int, count: int, target: float
) -> pd.DataFrame:
    """The pairs table, computed again only when a judgment arrives or the target changes."""
    frame = people_only(_store.judgments_frame(study_id, include_gold=False))
    pairs = pair_progress(frame, target=target)
    if pairs.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "pair": pairs["model_a"] + " vs " + pairs["model_b"],
            "judgments": pairs["n"],
            "win_rate": pairs["win_rate"],
            "interval": [
                f"{low:.1%} – {high:.1%}"
                for low, high in zip(
                    pairs["win_rate_ci_low"], pairs["win_rate_ci_high"], strict=True
                )
            ],
            "anytime": [
                f"{low:.1%} – {high:.1%}"
                for low, high in zip(pairs["anytime_ci_low"], pairs["anytime_ci_high"], strict=True)
            ],
            "still_needed": pairs["still_needed"],
            "status": ["✔ " + why if why else "" for why in pairs["settled_by"]],
        }
    )


def _annotators(ctx: Context, judgments: pd.DataFrame, passes: pd.DataFrame) -> None:
    quality = annotator_quality(judgments, passes)
    if quality.empty:
        st.caption("Nobody has judged or skipped an item of this study yet.")
        return
    excluded = {a.name: a.excluded for a in ctx.store.annotators()}
    quality["excluded"] = [excluded.get(name, False) for name in quality.index]
    # two tables that each fit the page, rather than one that runs off its right edge; a figure
    # with nothing to go on (no time recorded, no gold item seen) shows a dash, not "None"
    for table in (quality[list(WORK_COLUMNS)], quality.drop(columns=list(WORK_COLUMNS))):
        st.dataframe(table, column_config=COLUMN_HELP, placeholder=MISSING)
    st.caption(
        "Agreement is leave-one-out: each judgment is compared with the majority of the *other*"
        " annotators of the same comparison, so nobody agrees with themselves."
    )
    names = list(quality.index)
    who = st.selectbox("Annotator", names, key="progress.annotator")
    if excluded.get(who, False):
        st.button(
            f"Include {who} in reports again",
            key="progress.include",
            on_click=_set_excluded,
            args=(who, False),
        )
    else:
        st.button(
            f"Exclude {who} from reports",
            key="progress.exclude",
            on_click=_set_excluded,
            args=(who, True),
            help="Their judgments stay stored and still count towards the overlap; reports,"
            " exports and the agreement of others leave them out. Applies to every study.",
        )


@as_admin
def _set_excluded(ctx: Context, who: str, excluded: bool) -> None:
    ctx.store.set_excluded(who, excluded)
