"""The progress page: how far a study is, how fast it goes, and how each annotator is doing.

Every number comes from :mod:`pairwise.quality` or the store; this page only lays them out.
Annotators' judgments are all shown here, excluded ones too (marked), so that an admin can
check someone before letting them back into reports.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pairwise.pages.common import Context, as_admin, require_admin
from pairwise.pages.studies import select_study
from pairwise.quality import (
    annotator_quality,
    flagged_comparisons,
    hourly_counts,
    people_only,
    throughput,
)
from pairwise.store import Study

WINDOWS = {1.0: "last hour", 6.0: "last 6 hours", 24.0: "last 24 hours"}

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
    a, b, c, d = st.columns(4)
    a.metric("Judgments done", f"{done:,}", help="Towards the overlap; gold items not counted")
    b.metric("Comparisons complete", f"{progress['complete']:,} / {progress['comparisons']:,}")
    c.metric(f"Per hour, {WINDOWS[pace.window_hours]}", f"{pace.recent_per_hour:,.1f}")
    d.metric(
        "Per hour, overall",
        "–" if pd.isna(pace.overall_per_hour) else f"{pace.overall_per_hour:,.1f}",
        help="One over the mean gap between consecutive judgments, first to last",
    )
    if pace.total:
        st.bar_chart(hourly_counts(judgments), y_label="judgments per hour (UTC)", height=160)


def _annotators(ctx: Context, judgments: pd.DataFrame, passes: pd.DataFrame) -> None:
    quality = annotator_quality(judgments, passes)
    if quality.empty:
        st.caption("Nobody has judged or skipped an item of this study yet.")
        return
    excluded = {a.name: a.excluded for a in ctx.store.annotators()}
    quality["excluded"] = [excluded.get(name, False) for name in quality.index]
    st.dataframe(quality, column_config=COLUMN_HELP)
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
