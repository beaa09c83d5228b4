"""A report read at a glance: one sentence per model pair and a pairwise win-rate matrix.

Both are read off the decisive rates of a report: :func:`analysis.pair_rates` on the judgments that
had a winner (ties left out), so each share comes with the report's own interval (Wilson with one
judgment per prompt, else the bootstrap over prompts) and its sign test. Nothing here computes a
statistic; it only says what the report holds, the way a researcher would say it:

    atlas-7b-chat beats cirrus-70b-chat: 62% [55%, 68%] of non-tied judgments, p < 0.001

A pair is said to have a winner only when the sign test rejects equal chances at the report's level
(``1 - confidence``); otherwise the sentence says the two are not told apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import pandas as pd


@dataclass(frozen=True)
class Headline:
    """One pair's result. ``share`` and its interval are ``first``'s share of the non-tied
    judgments; ``first`` is the winner when ``decided``, else model A of the pair."""

    first: str
    second: str
    decided: bool
    share: float
    ci_low: float
    ci_high: float
    p_value: float
    decisive: int
    judgments: int

    @property
    def text(self) -> str:
        figures = (
            f"{_pct(self.share)} [{_pct(self.ci_low)}, {_pct(self.ci_high)}] of non-tied"
            f" judgments, {p_text(self.p_value)} ({self.decisive:,} of {self.judgments:,} not tied)"
        )
        if self.decided:
            return f"{self.first} beats {self.second}: {figures}"
        return f"{self.first} and {self.second} are not told apart: {self.first} wins {figures}"


def headlines(decisive: pd.DataFrame, pairs: pd.DataFrame, *, confidence: float) -> list[Headline]:
    """A headline per pair of ``pairs`` (the report's rates over all judgments), strongest
    results first; pairs whose judgments are all ties are left out (the rates table shows them)."""
    judged = {(r.model_a, r.model_b): int(r.n) for r in pairs.itertuples()}
    out = []
    for r in decisive.itertuples():
        share, low, high = float(r.win_rate), float(r.win_rate_ci_low), float(r.win_rate_ci_high)
        decided = bool(r.p_value < 1 - confidence)
        a_wins = share >= 0.5
        first, second = (r.model_a, r.model_b) if a_wins or not decided else (r.model_b, r.model_a)
        if not a_wins and decided:
            share, low, high = 1 - share, 1 - high, 1 - low
        out.append(
            Headline(
                first=str(first),
                second=str(second),
                decided=decided,
                share=share,
                ci_low=low,
                ci_high=high,
                p_value=float(r.p_value),
                decisive=int(r.n),
                judgments=judged.get((r.model_a, r.model_b), int(r.n)),
            )
        )
    return sorted(out, key=lambda h: (not h.decided, h.p_value, -abs(h.share - 0.5)))


def win_matrix(decisive: pd.DataFrame, models: list[str] | None = None) -> pd.DataFrame:
    """Rows beat columns: the share of non-tied judgments the row model won against the column
    model, as Chatbot Arena shows it; NaN where the two were not compared (or only tied).
    Models are ordered by ``models`` (best first, say), else by name."""
    names = models or sorted(set(decisive["model_a"]) | set(decisive["model_b"]))
    matrix = pd.DataFrame(float("nan"), index=names, columns=names)
    for r in decisive.itertuples():
        if r.model_a in matrix.index and r.model_b in matrix.index:
            matrix.loc[r.model_a, r.model_b] = float(r.win_rate)
            matrix.loc[r.model_b, r.model_a] = 1 - float(r.win_rate)
    matrix.index.name = "model"
    return matrix


def win_matrix_chart(matrix: pd.DataFrame) -> alt.LayerChart:
    """The win-rate matrix as a heatmap with the share written in each cell."""
    order = list(matrix.index)
    long = (
        matrix.rename_axis(index="model", columns="opponent")
        .stack(future_stack=True)
        .rename("share")
        .reset_index()
        .dropna(subset=["share"])
    )
    long["label"] = [_pct(v) for v in long["share"]]
    base = alt.Chart(long).encode(
        x=alt.X(
            "opponent:N", sort=order, title="against", axis=alt.Axis(labelLimit=0, labelAngle=-30)
        ),
        y=alt.Y("model:N", sort=order, title="model", axis=alt.Axis(labelLimit=0)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "share:Q",
            scale=alt.Scale(domain=[0, 1], scheme="redblue"),
            title="share won",
            legend=alt.Legend(format=".0%"),
        ),
        tooltip=["model", "opponent", alt.Tooltip("share:Q", format=".1%")],
    )
    text = base.mark_text(fontSize=13).encode(
        text="label:N",
        color=alt.condition("abs(datum.share - 0.5) > 0.3", alt.value("white"), alt.value("black")),
    )
    side = max(60, min(110, 520 // max(1, len(order))))
    return (cells + text).properties(
        width=alt.Step(side),
        height=alt.Step(side * 0.6),
        title="Share of non-tied judgments the row model won against the column model",
    )


def matrix_table(matrix: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The matrix as a table of strings for Markdown and HTML reports."""
    header = ["model beats →", *matrix.columns]
    rows = [
        [name, *(_pct(v) if pd.notna(v) else "–" for v in row)] for name, row in matrix.iterrows()
    ]
    return header, rows


def p_text(p: float) -> str:
    """``p < 0.001`` or ``p = 0.034``."""
    if pd.isna(p):
        return "p not computed"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _pct(value: float) -> str:
    return f"{value:.0%}"
