"""The report page: the same report as ``pairwise report``, with charts and downloads.

All figures come from :mod:`pairwise.report`; the page only lays them out. A report is kept for
the session until the judgments change, so switching pages does not recompute the bootstrap.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from pairwise import report
from pairwise.pages.common import require_admin
from pairwise.render import literal_markdown

ALL = "(all studies)"
NONE = "(none)"
ALL_SCALES = "(all scales)"


def page() -> None:
    ctx = require_admin()
    store = ctx.store
    st.title("Report")
    studies = store.studies(include_set_apart=False)[::-1]
    left, scales_column, middle, right = st.columns([2, 1, 1, 1])
    chosen = left.selectbox("Study", [*(s.name for s in studies), ALL], key="report.study")
    study = None if chosen == ALL else chosen
    scales = sorted({s.scale.points for s in studies if study is None or s.name == study})
    scale = scales_column.selectbox(
        "Scale",
        [None, *scales],
        format_func=lambda s: ALL_SCALES if s is None else f"{s}-point",
        key="report.scale",
        help="Rates, ratings and bias checks read every scale; graded scores are per scale.",
    )
    rounds = middle.number_input(
        "Bootstrap rounds", 100, 10_000, 1000, step=100, key="report.rounds"
    )
    seed = right.number_input("Seed", 0, 2**31 - 1, 0, key="report.seed")
    models = store.models()
    views = st.columns([1, 1, 1])
    baseline = views[0].selectbox("Baseline (leaderboard)", [NONE, *models], key="report.baseline")
    focus = views[1].selectbox("Focus model (always model A)", [NONE, *models], key="report.focus")
    style_control = views[2].checkbox("Style control for ratings", key="report.style")
    baseline = None if baseline == NONE else baseline
    focus = None if focus == NONE else focus

    version = (
        store.path,
        study,
        scale,
        store.counts()["judgments"],
        int(rounds),
        int(seed),
        baseline,
        focus,
        style_control,
    )
    cached = st.session_state.get("report.cached")
    if cached is None or cached[0] != version:
        with st.spinner("Computing the report…"):
            try:
                result = report.report_from_store(
                    store,
                    study,
                    rounds=int(rounds),
                    seed=int(seed),
                    baseline=baseline,
                    focus=focus,
                    style_control=style_control,
                    scale=scale,
                )
            except ValueError as e:  # say, a baseline the chosen study never judged
                st.error(str(e))
                return
        st.session_state["report.cached"] = (version, result)
    else:
        result = cached[1]
    show(result)


def show(result: report.Report) -> None:
    """Lay out one report: the same sections, tables and charts as the HTML and Markdown files,
    headlines and leaderboard first."""
    meta = result.meta
    counts = meta["counts"]
    if not counts["judgments"]:
        st.info("No judgments yet: the report fills in as annotators work.")
        return
    st.caption(
        f"{counts['judgments']:,} judgments · {counts['prompts']:,} prompts · "
        f"{counts['annotators']:,} annotators · {counts['models']} models · "
        f"{meta['rounds']:,} bootstrap rounds, seed {meta['seed']} · gold checks left out"
    )
    downloads = st.columns(3)
    stem = f"report-{meta['study'] or 'all'}"
    downloads[0].download_button(
        "Markdown", report.render(result, "md"), f"{stem}.md", "text/markdown"
    )
    downloads[1].download_button("HTML", report.report_html(result), f"{stem}.html", "text/html")
    downloads[2].download_button(
        "JSON",
        json.dumps(report.report_json(result), indent=2, ensure_ascii=False),
        f"{stem}.json",
        "application/json",
    )
    if _any_small(result):
        st.warning(
            report.SMALL_NOTE.removeprefix(report.SMALL_MARK + " ").capitalize()
            + f" Such rows are marked {report.SMALL_MARK} beside their count."
        )
    placed = report.charts_after(report.charts(result))
    for heading, prose, table in report.sections(result):
        if heading == "Summary":
            with st.expander("Methods and counts"):
                st.caption(str(prose))
            continue
        st.subheader(heading, anchor=False)
        if isinstance(prose, list):
            st.markdown("\n".join(f"- {literal_markdown(point)}" for point in prose))
        elif prose:
            st.caption(prose)
        if table:
            header, rows = table
            # a static table wraps long names and cells instead of running off the page
            st.table(pd.DataFrame(rows, columns=_unique(header)), hide_index=True)
        for _, chart in placed.pop(heading, []):
            st.altair_chart(chart, width="content")


def _unique(header: list[str]) -> list[str]:
    """Column names as a table needs them: a repeated name gets its position added."""
    seen: dict[str, int] = {}
    out = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _any_small(result: report.Report) -> bool:
    tables = [result.pairs, result.majority, result.scores, result.by_category, result.by_turns]
    if result.ratings is not None:
        tables.append(result.ratings.table)
    marked = any("small_sample" in t.columns and t["small_sample"].any() for t in tables)
    return marked or any(p is not None and p.small_sample for p in (result.position, result.length))
