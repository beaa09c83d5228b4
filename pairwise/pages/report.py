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

ALL = "(all studies)"
NONE = "(none)"


def page() -> None:
    ctx = require_admin()
    store = ctx.store
    st.title("Report")
    studies = [s.name for s in store.studies(include_set_apart=False)[::-1]]
    left, middle, right = st.columns([2, 1, 1])
    chosen = left.selectbox("Study", [*studies, ALL], key="report.study")
    rounds = middle.number_input(
        "Bootstrap rounds", 100, 10_000, 1000, step=100, key="report.rounds"
    )
    seed = right.number_input("Seed", 0, 2**31 - 1, 0, key="report.seed")
    study = None if chosen == ALL else chosen
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
                )
            except ValueError as e:  # say, a baseline the chosen study never judged
                st.error(str(e))
                return
        st.session_state["report.cached"] = (version, result)
    else:
        result = cached[1]
    show(result)


def show(result: report.Report) -> None:
    """Lay out one report: summary, charts, tables, downloads."""
    meta = result.meta
    counts = meta["counts"]
    if not counts["judgments"]:
        st.info("No judgments yet: the report fills in as annotators work.")
        return
    st.caption(
        f"{counts['judgments']} judgments · {counts['prompts']} prompts · "
        f"{counts['annotators']} annotators · {counts['models']} models · "
        f"{meta['rounds']} bootstrap rounds, seed {meta['seed']} · gold checks left out"
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

    st.subheader("Win / tie / loss per pair")
    st.caption(meta["method"]["intervals"] + "; p: " + meta["method"]["p_value"] + ".")
    charts = report.charts(result)
    if "win-tie-loss" in charts:
        st.altair_chart(charts["win-tie-loss"], width="stretch")
    st.dataframe(_rates_view(result.pairs), hide_index=True)
    with st.expander("Per-prompt majority view"):
        st.caption(meta["method"]["majority"])
        st.dataframe(_rates_view(result.majority), hide_index=True)

    if result.ratings is not None:
        st.subheader("Ratings (Bradley-Terry, Elo scale)")
        st.altair_chart(charts["ratings"], width="stretch")
        st.dataframe(result.ratings.table, hide_index=True)

    if len(result.leaderboard):
        st.subheader(f"Leaderboard against {meta['baseline']}")
        st.caption(meta["method"]["leaderboard"] + ".")
        st.dataframe(result.leaderboard, hide_index=True)

    if result.style is not None:
        st.subheader("Ratings with style control")
        st.caption(meta["method"]["style_control"] + ".")
        st.dataframe(result.style.table, hide_index=True)
        st.caption("Style coefficients (log-odds per standard deviation of the difference)")
        st.dataframe(result.style.coefficients, hide_index=True)

    if len(result.scores):
        st.subheader("Graded scores")
        st.dataframe(result.scores, hide_index=True)
        for points, mapping in result.mappings.items():
            st.caption(f"{points}-point scale mapping")
            st.dataframe(mapping, hide_index=True)

    if len(result.agreement):
        st.subheader("Agreement between annotators")
        st.dataframe(result.agreement, hide_index=True)

    if len(result.agreement_between):
        st.subheader("Agreement between judges")
        st.caption(meta["method"]["agreement_between"] + "; random is the chance level.")
        st.dataframe(result.agreement_between, hide_index=True)
    if len(result.position_consistency):
        st.subheader("Position consistency of model judges")
        st.dataframe(result.position_consistency, hide_index=True)
    if len(result.scorers):
        st.subheader("Scorers on human judgments")
        st.caption(meta["method"]["scorers"] + ".")
        st.dataframe(result.scorers, hide_index=True)

    st.subheader("Bias checks")
    bias = [
        {"check": name, **vars(p)}
        for name, p in (("position", result.position), ("length", result.length))
        if p is not None
    ]
    if bias:
        st.dataframe(pd.DataFrame(bias), hide_index=True)
    if len(result.length_buckets):
        st.caption("Rates of the longer response by relative length difference")
        st.dataframe(result.length_buckets, hide_index=True)
    if len(result.annotators):
        st.caption("Per annotator: tie propensity and left-side preference")
        st.dataframe(result.annotators, hide_index=True)

    if len(result.by_category) or len(result.by_turns):
        st.subheader("Breakdowns")
        if len(result.by_category):
            st.caption("By category")
            st.dataframe(_rates_view(result.by_category), hide_index=True)
        if len(result.by_turns):
            st.caption("Single- vs multi-turn")
            st.dataframe(_rates_view(result.by_turns), hide_index=True)


def _rates_view(rates: pd.DataFrame) -> pd.DataFrame:
    """Rates as percentages with their intervals in one readable column each."""
    view = rates.drop(columns=[c for c in rates.columns if c.endswith(("_low", "_high"))])
    for rate in report.RATE_NAMES:
        view[rate] = [
            f"{v:.1%} [{lo:.1%}, {hi:.1%}]"
            for v, lo, hi in zip(
                rates[rate], rates[f"{rate}_ci_low"], rates[f"{rate}_ci_high"], strict=True
            )
        ]
    return view
