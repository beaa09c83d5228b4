"""The win-rate report: every number of ``analysis/`` on one judgments frame, as JSON, Markdown or HTML.

A report is computed once (:func:`build_report`) and rendered many ways, so the app page, the CLI
and a file on disk always show the same figures. It records its inputs' counts, the methods, the
bootstrap rounds and the seed, so that anyone can reproduce it. The JSON schema is documented in
``docs/report-schema.md`` and kept stable (``meta.schema`` names its version).
"""

from __future__ import annotations

import html
import json
import math
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

import analysis

from . import glance, progress
from .escape import markdown_prose, markdown_text
from .files import write_bytes
from .formats import REPORT_FORMATS as FORMATS
from .store import Store

REPORT_SCHEMA = "pairwise-report/1"
RATE_NAMES = ("win_rate", "tie_rate", "loss_rate", "win_half_tie_rate")
AT_A_GLANCE = "At a glance"
LEADERBOARD = "Leaderboard (Bradley-Terry ratings)"
WIN_MATRIX = "Win-rate matrix"
WIN_TIE_LOSS = "Win / tie / loss per pair (all judgments)"
#: Where each chart goes: after the section of that title (HTML and Markdown reports, the page).
CHART_AFTER = {"ratings": LEADERBOARD, "win-rate-matrix": WIN_MATRIX, "win-tie-loss": WIN_TIE_LOSS}
#: How each interval method is named in tables.
METHOD_NAMES = {"wilson": "Wilson", "cluster_bootstrap": "bootstrap over prompts"}
OUTCOME_COLOURS = {"win": "#2b8a3e", "tie": "#adb5bd", "loss": "#c92a2a"}


@dataclass(frozen=True)
class Report:
    """All the figures of one report. DataFrames are empty (never None) when a section has no data."""

    pairs: pd.DataFrame
    majority: pd.DataFrame
    scores: pd.DataFrame
    distribution: pd.DataFrame
    mappings: dict[int, pd.DataFrame]
    ratings: analysis.Ratings | None
    agreement: pd.DataFrame
    position: analysis.Preference | None
    length: analysis.Preference | None
    length_buckets: pd.DataFrame
    annotators: pd.DataFrame
    by_category: pd.DataFrame
    by_turns: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    agreement_between: pd.DataFrame = field(default_factory=pd.DataFrame)
    position_consistency: pd.DataFrame = field(default_factory=pd.DataFrame)
    leaderboard: pd.DataFrame = field(default_factory=pd.DataFrame)
    style: analysis.StyleRatings | None = None
    scorers: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: rates over the judgments that had a winner (ties left out): the headlines and the matrix
    decisive: pd.DataFrame = field(default_factory=pd.DataFrame)


def build_report(
    frame: pd.DataFrame,
    *,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    study: str | None = None,
    scale: int | None = None,
    counts: dict[str, int] | None = None,
    baseline: str | None = None,
    focus: str | None = None,
    style_control: bool = False,
    scores: pd.DataFrame | None = None,
) -> Report:
    """Compute the report on a judgments frame (see ``docs/judgments-frame.md``).

    Gold checks are for annotator quality, not model quality: rows with ``is_gold`` are left out.
    ``scale`` keeps only judgments on that scale. Judgments on different scales report together:
    sections on outcomes (rates, ratings, agreement on outcomes, bias checks, breakdowns) take
    them all, since a win is a win on any scale; graded sections (mean scores, their spread,
    agreement on scores) are computed per scale, with a ``scale`` column.
    ``counts`` are the store's table sizes, recorded in ``meta`` next to the frame's own counts.
    ``baseline`` adds a leaderboard of every model against it; ``focus`` turns every pair so that
    the named model is model A; ``style_control`` adds ratings with style covariates, which need
    the response texts (``response_a`` / ``response_b``) in the frame. ``scores`` (prompt_id,
    model, scorer, score) adds each scorer's accuracy on the human judgments.
    """
    if "is_gold" in frame.columns:
        frame = frame[~frame["is_gold"].astype(bool)]
    if scale is not None:
        if "scale" not in frame.columns:
            raise ValueError("the judgments have no scale column to filter by")
        frame = frame[frame["scale"].to_numpy() == scale]
    for role, model in (("focus", focus), ("baseline", baseline)):
        if model is not None and not _has_model(frame, model):
            raise ValueError(f"{role} model {model!r} does not appear in the judgments")
    if focus is not None:
        frame = analysis.orient_judgments(frame, focus)
    if {"score", "outcome"} <= set(frame.columns):
        analysis.outcome_signs(frame)  # raises unless they agree; then scores say it all
        frame = frame.drop(columns="outcome")
    frame = _compact(frame)
    options = {"rounds": rounds, "seed": seed, "confidence": confidence}
    empty = pd.DataFrame()
    has_rows = len(frame) > 0
    models = (
        sorted(set(frame["model_a"].unique()) | set(frame["model_b"].unique())) if has_rows else []
    )
    graded = has_rows and "score" in frame.columns
    scales = sorted(int(s) for s in frame["scale"].unique()) if "scale" in frame.columns else []
    has_annotator_columns = {"annotator", "shown_order", "seconds"} <= set(frame.columns)
    several_categories = "category" in frame.columns and frame["category"].nunique() > 1

    # Agreement between annotators and their habits are about people; model judges have their
    # own sections.
    humans = (
        frame[(frame["judge_kind"] == "human").to_numpy()] if _has_model_judges(frame) else frame
    )

    def majority() -> pd.DataFrame:
        return analysis.pair_rates(analysis.majority_outcomes(frame), **options)

    # Sections are independent; their bootstraps draw with numpy outside the GIL, so two
    # threads keep both cores busy. Each section seeds its own generators: same numbers.
    sections = {
        "pairs": (
            has_rows,
            lambda: analysis.with_anytime(
                analysis.pair_rates(frame, **options), frame, confidence=confidence
            ),
        ),
        "decisive": (has_rows, lambda: _decisive_rates(frame, **options)),
        "majority": (has_rows, majority),
        "scores": (graded, lambda: _per_scale(analysis.mean_scores, frame, scales, **options)),
        "distribution": (graded, lambda: _per_scale(analysis.score_distribution, frame, scales)),
        "ratings": (len(models) >= 2, lambda: analysis.bradley_terry(frame, **options)),
        "agreement": (True, lambda: _agreement(humans, scales)),
        "position": (
            True,
            lambda: _maybe(analysis.position_preference, frame, "shown_order", **options),
        ),
        "length": (True, lambda: _maybe(analysis.length_preference, frame, "len_a", **options)),
        "buckets": (True, lambda: _maybe(analysis.length_buckets, frame, "len_a", **options)),
        "annotators": (
            has_rows and has_annotator_columns and len(humans) > 0,
            lambda: analysis.annotator_summary(humans),
        ),
        "by_category": (
            has_rows and several_categories,
            lambda: analysis.rates_by_category(frame, **options),
        ),
        "by_turns": (
            has_rows and "turns" in frame.columns,
            lambda: analysis.rates_by_turns(frame, **options),
        ),
        "agreement_between": (
            has_rows and "annotator" in frame.columns,
            lambda: _agreement_between(frame),
        ),
        "position_consistency": (
            has_rows and _has_model_judges(frame),
            lambda: analysis.position_consistency(frame, confidence=confidence),
        ),
        "leaderboard": (
            has_rows and baseline is not None,
            lambda: analysis.leaderboard(frame, baseline, **options),
        ),
        "style": (
            style_control and len(models) >= 2,
            lambda: analysis.style_controlled_ratings(frame, **options),
        ),
        "scorers": (
            has_rows and scores is not None and len(scores) > 0,
            lambda: analysis.scorer_accuracy(frame, scores, **options),
        ),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {pool.submit(run): name for name, (wanted, run) in sections.items() if wanted}
        done: dict[str, Any] = {}
        progress.report("computing the report", 0, len(futures))
        for future in as_completed(futures):
            done[futures[future]] = _decategorize(future.result())
            progress.report("computing the report", len(done), len(futures))

    meta = {
        "schema": REPORT_SCHEMA,
        "study": study,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "counts": {
            "judgments": int(len(frame)),
            "prompts": _distinct(frame, "prompt_id"),
            "comparisons": _distinct(frame, "comparison_id"),
            "annotators": _distinct(frame, "annotator"),
            "models": len(models),
            "unknown_shown_order": _missing(frame, "shown_order"),
            "store": counts,
        },
        "method": {
            "intervals": "Wilson when every prompt of a pair has one judgment, else a cluster "
            "bootstrap that resamples prompts (expanded percentile interval); with fewer than "
            f"{analysis.MIN_PROMPTS} prompts, Wilson over the prompts (marked small sample)",
            "min_prompts": analysis.MIN_PROMPTS,
            "confidence": confidence,
            "p_value": "two-sided sign test over prompts that lean one way (non-tied outcomes)",
            "anytime": "anytime-valid confidence sequence for the win rate (hedged betting,"
            " Waudby-Smith & Ramdas 2023) over prompts in order of arrival, holding the fixed"
            " interval; valid however often it is looked at",
            "ratings": "Bradley-Terry, ties as half wins, Elo scale 1000 + 400/ln(10) * strength, "
            "bootstrap over prompts",
            "majority": "per prompt, the outcome most annotators chose; no clear majority is a tie",
            "gold": "gold-check comparisons are left out",
            "agreement_between": "share of vote pairs that agree, pooled over items (prompt and "
            "pair of models), every vote of one judge group with every vote of the other; without "
            "ties drops pairs where either vote is a tie (as FastChat's compute_agreement)",
            "leaderboard": "each model against the baseline from its own side; win + ½ tie is the "
            "mean preference; lc_win_rate from a logistic model with tanh of the normalised length "
            "difference, predicted at equal lengths (AlpacaEval 2.0), bootstrap over prompts",
            "scorers": "share of human judgments (ties left out) where the response a scorer "
            "scores higher is the one preferred, per preference strength; equal scores and "
            "unscored responses left out and counted; Wilson, or a bootstrap over prompts when "
            "prompts repeat",
            "style_control": "Bradley-Terry with standardised (a - b) / (a + b + 1) differences in "
            "length, Markdown headers, list items and bold as covariates (Chatbot Arena)",
        },
        "baseline": baseline,
        "focus": focus,
        "rounds": rounds,
        "seed": seed,
        "scales": scales,
        "scale": scale,
    }
    return Report(
        pairs=done.get("pairs", empty),
        majority=done.get("majority", empty),
        scores=done.get("scores", empty),
        distribution=done.get("distribution", empty),
        mappings={s: analysis.outcome_mapping(s) for s in scales},
        ratings=done.get("ratings"),
        agreement=done["agreement"],
        position=done["position"],
        length=done["length"],
        length_buckets=empty if done["buckets"] is None else done["buckets"],
        annotators=done.get("annotators", empty),
        by_category=done.get("by_category", empty),
        by_turns=done.get("by_turns", empty),
        meta=meta,
        agreement_between=done.get("agreement_between", empty),
        position_consistency=done.get("position_consistency", empty),
        leaderboard=done.get("leaderboard", empty),
        style=done.get("style"),
        scorers=done.get("scorers", empty),
        decisive=done.get("decisive", empty),
    )


def report_from_store(
    store: Store,
    study: str | None = None,
    *,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    baseline: str | None = None,
    focus: str | None = None,
    style_control: bool = False,
    scale: int | None = None,
) -> Report:
    """The report on a study (or every study in use) of a store, excluded annotators left out;
    ``scale`` keeps the judgments on that scale only.

    Over every study, set-apart ones (the demo, once sign-in is on) are left out; name one to
    report on it.
    """
    progress.report("loading judgments", 0, 1)
    frame = store.judgments_frame(study, include_gold=False, with_text=style_control)
    if style_control:  # only the responses' texts are needed, not the prompts'
        frame = frame.drop(columns="messages")
    if study is None:
        frame = store.drop_set_apart(frame)
    progress.report("loading judgments", 1, 1)
    report = build_report(
        frame,
        rounds=rounds,
        seed=seed,
        confidence=confidence,
        study=study,
        scale=scale,
        counts=store.counts(),
        baseline=baseline,
        focus=focus,
        style_control=style_control,
        scores=store.scores_frame(),
    )
    if study is not None:
        report.meta["assignment"] = "adaptive" if store.get_study(study).adaptive else "random"
    return report


def _decategorize(result: Any) -> Any:
    """Categorical columns back to plain values, so that results read like any table."""
    if not isinstance(result, pd.DataFrame):
        return result
    categorical = [c for c in result.columns if isinstance(result[c].dtype, pd.CategoricalDtype)]
    return result.astype({c: object for c in categorical}) if categorical else result


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    """Repeated strings as categoricals: every section groups by them, and codes group fast.

    Model A and model B share one set of categories, so that the two columns stacked (to orient
    pairs, or to list the models) stay codes rather than a million strings.
    """
    columns = ("study", "prompt_id", "category", "model_a", "model_b", "annotator", "shown_order")
    types: dict[str, Any] = {
        c: "category" for c in columns if c in frame.columns and frame[c].dtype != "category"
    }
    models = ("model_a", "model_b")
    if set(models) <= set(frame.columns):
        names = pd.concat([frame[c].drop_duplicates() for c in models]).dropna().unique()
        shared = pd.CategoricalDtype(pd.Categorical(names).categories)
        types |= {c: shared for c in models if frame[c].dtype != shared}
    if types.get("shown_order") == "category":  # both orders, so that a turned pair can swap them
        seen = frame["shown_order"].dropna().unique()
        types["shown_order"] = pd.CategoricalDtype(sorted({"AB", "BA", *seen}, key=str))
    return frame.astype(types) if types else frame


def _decisive_rates(frame: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """Pair rates over the judgments that had a winner: the share of non-tied judgments each
    model won, with the report's intervals and sign test."""
    decided = frame[analysis.outcome_signs(frame) != 0]
    return analysis.pair_rates(decided, **options) if len(decided) else pd.DataFrame()


def _missing(frame: pd.DataFrame, column: str) -> int | None:
    return int(frame[column].isna().sum()) if column in frame.columns else None


def _distinct(frame: pd.DataFrame, column: str) -> int | None:
    return int(frame[column].nunique()) if column in frame.columns else None


def _maybe(function, frame: pd.DataFrame, needs: str, **options):
    """Run a bias check when the frame has what it needs and at least one decided judgment."""
    if len(frame) == 0 or needs not in frame.columns:
        return None
    try:
        found = function(frame, **options)
    except ValueError:
        return None
    return None if isinstance(found, analysis.Preference) and found.n == 0 else found


def _has_model(frame: pd.DataFrame, model: str) -> bool:
    return bool(((frame["model_a"] == model) | (frame["model_b"] == model)).any())


def _has_model_judges(frame: pd.DataFrame) -> bool:
    return "judge_kind" in frame.columns and bool((frame["judge_kind"] == "model").any())


def _agreement_between(frame: pd.DataFrame) -> pd.DataFrame:
    """Agreement between judge groups; empty when no two votes share an item."""
    table = analysis.agreement_between(frame)
    return table if table["n_pairs_with_ties"].notna().any() else pd.DataFrame()


def _per_scale(function, frame: pd.DataFrame, scales: list[int], **options) -> pd.DataFrame:
    """A graded section on each scale's judgments, stacked: scores compare within a scale only."""
    if len(scales) <= 1:
        return function(frame, **options)
    scale = frame["scale"].to_numpy()
    return pd.concat([function(frame[scale == s], **options) for s in scales], ignore_index=True)


def _agreement(frame: pd.DataFrame, scales: list[int]) -> pd.DataFrame:
    """Agreement needs items judged more than once; without any there is nothing to report.

    On one scale, every coefficient is on the scores; across scales, on outcomes over all
    judgments, then on scores within each scale (a ``scale`` column says which).
    """
    if len(frame) == 0 or "annotator" not in frame.columns:
        return pd.DataFrame()
    item = "comparison_id" if "comparison_id" in frame.columns else "prompt_id"
    if frame.groupby(item, observed=True)["annotator"].nunique().max() < 2:
        return pd.DataFrame()
    if len(scales) <= 1:
        return analysis.agreement_summary(
            frame, on="score" if "score" in frame.columns else "outcome"
        )
    tables = [analysis.agreement_summary(frame, on="outcome").assign(scale=None)]
    scale = frame["scale"].to_numpy()
    for s in scales:
        alone = frame[scale == s]
        if alone.groupby(item, observed=True)["annotator"].nunique().max() >= 2:
            tables.append(analysis.agreement_summary(alone, on="score").assign(scale=s))
    return pd.concat(tables, ignore_index=True)


# -- JSON ----------------------------------------------------------------------------------------


def report_json(report: Report) -> dict[str, Any]:
    """The report as plain JSON-able data, in the schema of ``docs/report-schema.md``."""
    ratings = None
    if report.ratings is not None:
        r = report.ratings
        ratings = {
            "method": r.method,
            "rounds": r.rounds,
            "seed": r.seed,
            "resample": r.resample,
            "anchor": r.anchor,
            "models": [
                {
                    "model": row.model,
                    "rating": _num(row.rating),
                    "ci": [_num(row.ci_low), _num(row.ci_high)],
                    "rank": int(row.rank),
                    "rank_ci": [int(row.rank_low), int(row.rank_high)],
                    "n": int(row.n),
                    "n_prompts": int(row.n_prompts),
                    "small_sample": bool(row.small_sample),
                }
                for row in r.table.itertuples()
            ],
        }
    return {
        "meta": report.meta,
        "pairs": _pair_records(report.pairs),
        "majority": _pair_records(report.majority),
        "scores": _records(report.scores),
        "ratings": ratings,
        "agreement": _records(report.agreement),
        "bias": {
            "position": _preference(report.position),
            "length": _preference(report.length),
            "length_buckets": _records(report.length_buckets),
            "annotators": _records(report.annotators),
        },
        "breakdowns": {
            "category": _pair_records(report.by_category, extra=("category",)),
            "turns": _pair_records(report.by_turns, extra=("turn_kind",)),
        },
        "agreement_between": _records(report.agreement_between),
        "position_consistency": [
            {
                key: _plain(row[key])
                for key in ("judge", "n", "consistent", "favours_first", "favours_second")
            }
            | {
                "consistency": _num(row["consistency"]),
                "consistency_ci": [
                    _num(row["consistency_ci_low"]),
                    _num(row["consistency_ci_high"]),
                ],
                "favours_first_rate": _num(row["favours_first_rate"]),
                "favours_second_rate": _num(row["favours_second_rate"]),
            }
            for row in report.position_consistency.to_dict("records")
        ],
        "leaderboard": [
            {
                "model": row["model"],
                **{k: int(row[k]) for k in ("n", "n_prompts", "wins", "ties", "losses")},
                "win_rate": _num(row["win_rate"]),
                "win_half_tie_rate": _num(row["win_half_tie_rate"]),
                "standard_error": _num(row["standard_error"]),
                "ci": [_num(row["ci_low"]), _num(row["ci_high"])],
                "lc_win_rate": _num(row["lc_win_rate"]),
                "lc_ci": [_num(row["lc_ci_low"]), _num(row["lc_ci_high"])],
                "method": row["method"],
            }
            for row in report.leaderboard.to_dict("records")
        ],
        "style_control": _style_json(report.style),
        "scorers": [
            {
                key: _plain(row[key])
                for key in ("scorer", "strength", "scale", "margin", "n", "correct")
            }
            | {
                "accuracy": _num(row["accuracy"]),
                "ci": [_num(row["ci_low"]), _num(row["ci_high"])],
                "method": row["method"],
            }
            | {key: int(row[key]) for key in ("human_ties", "score_ties", "unscored")}
            for row in report.scorers.to_dict("records")
        ],
    }


def _style_json(style: analysis.StyleRatings | None) -> dict[str, Any] | None:
    if style is None:
        return None
    return {
        "rounds": style.rounds,
        "seed": style.seed,
        "anchor": style.anchor,
        "ridge": style.ridge,
        "models": [
            {
                "model": row.model,
                "rating": _num(row.rating),
                "ci": [_num(row.ci_low), _num(row.ci_high)],
                "n": int(row.n),
            }
            for row in style.table.itertuples()
        ],
        "coefficients": [
            {
                "feature": row.feature,
                "coefficient": _num(row.coefficient),
                "ci": [_num(row.ci_low), _num(row.ci_high)],
            }
            for row in style.coefficients.itertuples()
        ],
    }


def _pair_records(rates: pd.DataFrame, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    records = []
    for row in rates.to_dict("records"):
        record = {key: _plain(row[key]) for key in extra}
        record |= {
            "model_a": row["model_a"],
            "model_b": row["model_b"],
            "n": int(row["n"]),
            "n_prompts": int(row["n_prompts"]),
            "wins": int(row["wins"]),
            "ties": int(row["ties"]),
            "losses": int(row["losses"]),
        }
        for rate in RATE_NAMES:
            record[rate] = _num(row[rate])
            record[f"{rate}_ci"] = [_num(row[f"{rate}_ci_low"]), _num(row[f"{rate}_ci_high"])]
        if "anytime_ci_low" in row:
            record["anytime_ci"] = [_num(row["anytime_ci_low"]), _num(row["anytime_ci_high"])]
        record["p_value"] = _num(row["p_value"])
        record["method"] = row["method"]
        record["small_sample"] = bool(row["small_sample"])
        records.append(record)
    return records


def _preference(p: analysis.Preference | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "favoured": p.favoured,
        "n": p.n,
        "wins": p.wins,
        "share": _num(p.share),
        "ci": [_num(p.ci_low), _num(p.ci_high)],
        "p_value": _num(p.p_value),
        "method": p.method,
        "small_sample": p.small_sample,
        "unknown_side": p.unknown_side,
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _num(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NA or value is None:
        return None
    return value


def _num(value: Any) -> float | None:
    """A float for JSON: NaN (no data) becomes null, and 6 decimals are plenty."""
    value = float(value)
    return None if math.isnan(value) else round(value, 6)


# -- charts ------------------------------------------------------------------------------------


def outcome_chart(rates: pd.DataFrame) -> alt.LayerChart:
    """Stacked win / tie / loss bars per pair with error bars, as in Llama 2's figure."""
    label = rates["model_a"] + " vs " + rates["model_b"]
    long = pd.concat(
        [
            pd.DataFrame(
                {"pair": label, "outcome": name, "rate": rates[f"{name}_rate"], "order": i}
            )
            for i, name in enumerate(("win", "tie", "loss"))
        ]
    )
    bars = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("sum(rate):Q", title="share of judgments", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("pair:N", title=None, axis=alt.Axis(labelLimit=0)),
            color=alt.Color(
                "outcome:N",
                scale=alt.Scale(domain=list(OUTCOME_COLOURS), range=list(OUTCOME_COLOURS.values())),
                title="model A",
            ),
            order=alt.Order("order:Q"),
            tooltip=["pair", "outcome", alt.Tooltip("rate:Q", format=".1%")],
        )
    )
    # The win interval sits on the win bar's end; the loss interval on the loss bar's start.
    errors = pd.DataFrame(
        {
            "pair": pd.concat([label, label]),
            "low": pd.concat([rates["win_rate_ci_low"], 1 - rates["loss_rate_ci_high"]]),
            "high": pd.concat([rates["win_rate_ci_high"], 1 - rates["loss_rate_ci_low"]]),
        }
    )
    whiskers = (
        alt.Chart(errors)
        .mark_errorbar(ticks=True, color="black")
        .encode(x=alt.X("low:Q", title="share of judgments"), x2="high:Q", y="pair:N")
    )
    return (bars + whiskers).properties(width=520, height=alt.Step(28))


def ratings_chart(ratings: analysis.Ratings) -> alt.LayerChart:
    """Elo-scaled Bradley-Terry ratings with their bootstrap intervals, best at the top."""
    table = ratings.table
    order = list(table.sort_values("rating", ascending=False)["model"])
    base = alt.Chart(table).encode(
        y=alt.Y("model:N", sort=order, title=None, axis=alt.Axis(labelLimit=0))
    )
    points = base.mark_point(filled=True, size=70, color="#1c7ed6").encode(
        x=alt.X("rating:Q", scale=alt.Scale(zero=False), title="rating (Elo scale)"),
        tooltip=["model", alt.Tooltip("rating:Q", format=".0f"), "rank"],
    )
    whiskers = base.mark_errorbar(ticks=True).encode(
        x=alt.X("ci_low:Q", title="rating (Elo scale)"), x2="ci_high:Q"
    )
    return (whiskers + points).properties(width=520, height=alt.Step(28))


def chart_svg(chart: alt.TopLevelMixin) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(chart.to_json())


def chart_png(chart: alt.TopLevelMixin) -> bytes:
    import vl_convert

    return vl_convert.vegalite_to_png(chart.to_json(), scale=2)


# -- Markdown and HTML -----------------------------------------------------------------------


def _pct(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):.1%}"


def _interval(low: Any, high: Any, fmt=_pct) -> str:
    return f"[{fmt(low)}, {fmt(high)}]"


SMALL_MARK = "†"
SMALL_NOTE = (
    f"{SMALL_MARK} fewer than {analysis.MIN_PROMPTS} prompts (small sample): the interval is "
    "Wilson over the prompts, which holds there but is wide; read with care."
)


def _n(n: Any, small: Any) -> str:
    """A count, marked when its row rests on a small sample."""
    return f"{n} {SMALL_MARK}" if bool(small) else str(n)


def _noted(prose: str, table: pd.DataFrame) -> str:
    """``prose``, with the small-sample note when a row of ``table`` is marked."""
    if "small_sample" in table.columns and table["small_sample"].astype(bool).any():
        return f"{prose} {SMALL_NOTE}".strip()
    return prose


def _scale_cell(scale: Any) -> str:
    return "all" if scale is None or pd.isna(scale) else f"{int(scale)}-point"


def _p(value: Any) -> str:
    if value is None or pd.isna(value):
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _pair_table(
    rates: pd.DataFrame, extra: tuple[str, ...] = ()
) -> tuple[list[str], list[list[str]]]:
    header = [
        *extra,
        "model A",
        "model B",
        "n",
        "win",
        "tie",
        "loss",
        "win + ½ tie",
        "p",
        "interval method",
    ]
    anytime = "anytime_ci_low" in rates.columns
    if anytime:
        header.insert(header.index("win") + 1, "win, anytime-valid")
    rows = []
    for r in rates.to_dict("records"):
        cells = [Name(r[e]) for e in extra] + [Name(r["model_a"]), Name(r["model_b"])]
        cells.append(_n(r["n"], r.get("small_sample", False)))
        for rate in RATE_NAMES:
            cells.append(f"{_pct(r[rate])} {_interval(r[f'{rate}_ci_low'], r[f'{rate}_ci_high'])}")
            if rate == "win_rate" and anytime:
                cells.append(_interval(r["anytime_ci_low"], r["anytime_ci_high"]))
        cells += [_p(r["p_value"]), METHOD_NAMES.get(r["method"], r["method"])]
        rows.append(cells)
    return header, rows


Table = tuple[list[str], list[list[str]]]


def sections(report: Report) -> list[tuple[str, str | list[str], Table | None]]:
    """(title, prose, table) in reading order: shared by the Markdown and HTML renderers and the
    report page. Prose given as a list is a list of points (the headlines)."""
    meta = report.meta
    c = meta["counts"]
    intro = (
        f"{c['judgments']} judgments of {c['prompts']} prompts by {c['annotators']} annotators, "
        f"{c['models']} models. Intervals: {int(meta['method']['confidence'] * 100)}%, "
        f"{meta['method']['intervals']} ({meta['rounds']} rounds, seed {meta['seed']}). "
        f"p: {meta['method']['p_value']}. Win + ½ tie counts a tie as half a win."
    )
    if meta.get("assignment") == "adaptive":
        intro += (
            " Comparisons were assigned adaptively: the pair whose interval was widest got the"
            " next judgment, and within a pair the prompts are a random sample."
        )
    if meta.get("scale") is not None:
        intro = f"Judgments on the {meta['scale']}-point scale only. {intro}"
    if not c["judgments"]:
        intro = "No judgments yet: nothing to report."
    out: list[tuple[str, Any, Any]] = [("Summary", intro, None)]
    confidence = meta["method"]["confidence"]
    if len(report.decisive):
        out.append(
            (
                AT_A_GLANCE,
                [
                    h.text
                    for h in glance.headlines(report.decisive, report.pairs, confidence=confidence)
                ],
                None,
            )
        )
    if report.ratings is not None:
        r = report.ratings
        rows = [
            [
                str(t.rank),
                Name(t.model),
                f"{t.rating:.0f}",
                _interval(t.ci_low, t.ci_high, lambda v: f"{v:.0f}"),
                f"{t.rank_low}–{t.rank_high}",
                _n(t.n, t.small_sample),
            ]
            for t in r.table.itertuples()
        ]
        ratings_note = (
            f"{SMALL_MARK} judged on fewer than {analysis.MIN_PROMPTS} prompts: read with care."
            if r.table["small_sample"].any()
            else ""
        )
        out.append(
            (
                LEADERBOARD,
                f"{meta['method']['ratings']}; {r.rounds} rounds, seed {r.seed}, "
                f"resampling {r.resample}. {ratings_note}".strip(),
                (["rank", "model", "rating", "interval", "rank interval", "n"], rows),
            )
        )
    if len(report.decisive):
        out.append(
            (
                WIN_MATRIX,
                "Share of non-tied judgments the row model won against the column model.",
                _named_matrix(glance.matrix_table(_win_matrix(report))),
            )
        )
    if len(report.pairs):
        out.append((WIN_TIE_LOSS, _noted("", report.pairs), _pair_table(report.pairs)))
        out.append(
            (
                "Per-prompt majority view",
                _noted(meta["method"]["majority"] + ".", report.majority),
                _pair_table(report.majority),
            )
        )
    if len(report.scores):
        rows = [
            [
                Name(r["model_a"]),
                Name(r["model_b"]),
                str(r.get("scale", "")),
                _n(r["n"], r.get("small_sample", False)),
                f"{r['mean_score']:+.2f}",
                _interval(r["mean_score_ci_low"], r["mean_score_ci_high"], lambda v: f"{v:+.2f}"),
            ]
            for r in report.scores.to_dict("records")
        ]
        mapping = "; ".join(
            f"{s}-point: "
            + ", ".join(f"{m.score:+d} {m.label} → {m.outcome}" for m in table.itertuples())
            for s, table in report.mappings.items()
        )
        out.append(
            (
                "Graded scores",
                _noted(
                    "Mean signed score for model A, per scale (means compare within one scale "
                    f"only). Outcome mapping: {mapping}.",
                    report.scores,
                ),
                (["model A", "model B", "scale", "n", "mean score", "interval"], rows),
            )
        )
    if len(report.agreement):
        per_scale = "scale" in report.agreement.columns
        rows = [
            [a["method"], a["on"]]
            + ([_scale_cell(a["scale"])] if per_scale else [])
            + [f"{a['value']:.3f}", str(a["n_items"]), str(a["n_ratings"])]
            for a in report.agreement.to_dict("records")
        ]
        header = ["coefficient", "on", *(["scale"] if per_scale else [])]
        prose = "Computed on items judged by two or more annotators."
        if per_scale:
            prose += " On outcomes over every scale; on scores within each scale."
        out.append(
            (
                "Agreement between annotators",
                prose,
                ([*header, "value", "items", "ratings"], rows),
            )
        )
    bias_rows = []
    for name, p in (("position", report.position), ("length", report.length)):
        if p is not None:
            bias_rows.append(
                [
                    name,
                    p.favoured,
                    _n(p.n, p.small_sample),
                    _pct(p.share),
                    _interval(p.ci_low, p.ci_high),
                    _p(p.p_value),
                ]
            )
    unknown = c.get("unknown_shown_order") or 0
    if bias_rows or unknown:
        small = any(p is not None and p.small_sample for p in (report.position, report.length))
        left_out = (
            f" Position check: {unknown} judgment(s) left out, because the side each response "
            "was shown on is unknown (judgments imported without it, e.g. Chatbot Arena or "
            "MT-Bench records); the left/right share is never computed from a guess."
            if unknown
            else ""
        )
        out.append(
            (
                "Bias checks",
                "Share of non-tied judgments won by the favoured side; 50% means no preference."
                + left_out
                + (f" {SMALL_NOTE}" if small else ""),
                (["check", "favoured", "n", "share", "interval", "p"], bias_rows)
                if bias_rows
                else None,
            )
        )
    if len(report.length_buckets):
        rows = [
            [
                str(b["length_bucket"]),
                _n(b["n"], b.get("small_sample", False)),
                _pct(b["win_rate"]),
                _pct(b["tie_rate"]),
                _pct(b["loss_rate"]),
            ]
            for b in report.length_buckets.to_dict("records")
        ]
        out.append(
            (
                "Longer response by length difference",
                _noted(
                    "Rates of the longer response, by how much longer it is.",
                    report.length_buckets,
                ),
                (["longer by", "n", "win", "tie", "loss"], rows),
            )
        )
    if len(report.annotators):
        rows = [
            [
                Name(a["annotator"]),
                str(a["n"]),
                _pct(a["tie_rate"]),
                _pct(a["left_win_share"]),
                _p(a["left_p_value"]),
                "–" if pd.isna(a["mean_seconds"]) else f"{a['mean_seconds']:.1f}",
            ]
            for a in report.annotators.to_dict("records")
        ]
        out.append(
            (
                "Annotators",
                "Tie propensity and left-side preference per annotator.",
                (["annotator", "n", "tie rate", "left wins", "left p", "mean seconds"], rows),
            )
        )
    if len(report.by_category):
        out.append(
            (
                "By category",
                _noted("", report.by_category),
                _pair_table(report.by_category, ("category",)),
            )
        )
    if len(report.by_turns):
        out.append(
            (
                "Single- vs multi-turn",
                _noted("", report.by_turns),
                _pair_table(report.by_turns, ("turn_kind",)),
            )
        )
    return out + _judge_sections(report)


def _judge_sections(report: Report) -> list[tuple[str, str, Any]]:
    """Leaderboard, style control, and human and model judges side by side."""
    out: list[tuple[str, str, Any]] = []
    method = report.meta["method"]
    if len(report.leaderboard):
        rows = [
            [
                Name(r["model"]),
                str(r["n"]),
                f"{r['wins']}/{r['ties']}/{r['losses']}",
                _pct(r["win_rate"]),
                f"{_pct(r['win_half_tie_rate'])} {_interval(r['ci_low'], r['ci_high'])}",
                _pct(r["standard_error"]),
                f"{_pct(r['lc_win_rate'])} {_interval(r['lc_ci_low'], r['lc_ci_high'])}",
            ]
            for r in report.leaderboard.to_dict("records")
        ]
        out.append(
            (
                f"Leaderboard against {report.meta['baseline']}",
                method["leaderboard"] + ".",
                (["model", "n", "w/t/l", "win", "win + ½ tie", "s.e.", "length-controlled"], rows),
            )
        )
    if report.style is not None:
        rows = [
            [Name(t.model), f"{t.rating:.0f}", _interval(t.ci_low, t.ci_high, lambda v: f"{v:.0f}")]
            for t in report.style.table.itertuples()
        ]
        rows += [
            [
                f"style: {c.feature}",
                "–" if pd.isna(c.coefficient) else f"{c.coefficient:+.3f}",
                _interval(c.ci_low, c.ci_high, lambda v: "–" if pd.isna(v) else f"{v:+.3f}"),
            ]
            for c in report.style.coefficients.itertuples()
        ]
        out.append(
            (
                "Ratings with style control",
                method["style_control"]
                + "; style coefficients in log-odds per standard deviation.",
                (["model / covariate", "rating / coefficient", "interval"], rows),
            )
        )
    if len(report.agreement_between):
        rows = [
            [
                Name(a["group_a"]),
                Name(a["group_b"]),
                "all" if pd.isna(a["turn"]) else str(a["turn"]),
                _pct(a["with_ties"]),
                "–" if pd.isna(a["n_pairs_with_ties"]) else str(a["n_pairs_with_ties"]),
                _pct(a["without_ties"]),
                "–" if pd.isna(a["n_pairs_without_ties"]) else str(a["n_pairs_without_ties"]),
            ]
            for a in report.agreement_between.to_dict("records")
        ]
        out.append(
            (
                "Agreement between judges",
                method["agreement_between"] + "; random is the chance level (MT-Bench).",
                (
                    [
                        "judges",
                        "with",
                        "turn",
                        "with ties",
                        "vote pairs",
                        "without ties",
                        "vote pairs, no tie",
                    ],
                    rows,
                ),
            )
        )
    if len(report.scorers):
        rows = [
            [
                Name(r["scorer"]),
                r["strength"] if pd.isna(r["scale"]) else f"{r['strength']} ({r['scale']}-point)",
                str(r["n"]),
                f"{_pct(r['accuracy'])} {_interval(r['ci_low'], r['ci_high'])}",
                str(r["human_ties"]),
                str(r["score_ties"]),
                str(r["unscored"]),
            ]
            for r in report.scorers.to_dict("records")
        ]
        out.append(
            (
                "Scorers on human judgments",
                method["scorers"] + ".",
                (
                    [
                        "scorer",
                        "strength",
                        "n",
                        "accuracy",
                        "human ties",
                        "equal scores",
                        "unscored",
                    ],
                    rows,
                ),
            )
        )
    if len(report.position_consistency):
        rows = [
            [
                Name(r["judge"]),
                str(r["n"]),
                f"{_pct(r['consistency'])} "
                f"{_interval(r['consistency_ci_low'], r['consistency_ci_high'])}",
                _pct(r["favours_first_rate"]),
                _pct(r["favours_second_rate"]),
            ]
            for r in report.position_consistency.to_dict("records")
        ]
        out.append(
            (
                "Position consistency of model judges",
                "Comparisons a model judge saw in both orders: consistent when its verdict "
                "survives the swap; otherwise it favoured the response shown first or second.",
                (["judge", "n", "consistent", "favours first", "favours second"], rows),
            )
        )
    return out


def _named_matrix(table: tuple[list[str], list[list[str]]]) -> tuple[list[str], list[list[str]]]:
    """The win matrix with its model names marked as names, for escaping."""
    header, rows = table
    return [header[0], *map(Name, header[1:])], [[Name(row[0]), *row[1:]] for row in rows]


class Name(str):
    """A table cell that holds a name from the data (model, category, study, annotator).

    Names are untrusted: the Markdown report escapes their HTML and Markdown syntax, so that a
    model called ``<img onerror=...>`` or ``[sign in](https://...)`` shows as that text.
    """


def _md_escape(text: str) -> str:
    """A cell or line of the Markdown report: no raw HTML in any, no Markdown syntax in names."""
    if isinstance(text, Name):
        return markdown_text(text)
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def report_markdown(report: Report, *, chart_files: dict[str, str] | None = None) -> str:
    """The report in Markdown; ``chart_files`` maps chart names to image paths to link."""
    study = report.meta.get("study")
    title = f"# Win-rate report{': ' + markdown_text(study) if study else ''}"
    lines = [title, "", f"Created {report.meta['created_at']} · schema `{REPORT_SCHEMA}`", ""]
    placed = charts_after(chart_files or {})
    for name, path in placed.pop(None, []):
        lines += [f"![{name}]({path})", ""]
    for heading, prose, table in sections(report):
        lines += [f"## {markdown_text(heading)}", ""]
        if isinstance(prose, list):
            lines += [f"- {markdown_prose(point)}" for point in prose] + [""]
        elif prose:
            lines += [_md_escape(prose), ""]
        if table:
            header, rows = table
            lines.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
            lines.append("")
        for name, path in placed.pop(heading, []):
            lines += [f"![{name}]({path})", ""]
    return "\n".join(lines)


def charts_after(charts_by_name: dict[str, Any]) -> dict[str | None, list[tuple[str, Any]]]:
    """Charts grouped by the section they follow (``None``: before the first section)."""
    placed: dict[str | None, list[tuple[str, Any]]] = {}
    for name, chart in charts_by_name.items():
        placed.setdefault(CHART_AFTER.get(name), []).append((name, chart))
    return placed


def report_html(report: Report) -> str:
    """A self-contained HTML page: escaped tables and inline SVG charts."""
    title = "Win-rate report" + (f": {report.meta['study']}" if report.meta.get("study") else "")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
        "td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left}th{background:#f3f3f3}"
        "</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Created {html.escape(report.meta['created_at'])} · schema {REPORT_SCHEMA}</p>",
    ]
    placed = charts_after(_chart_svgs(report))
    for _, svg in placed.pop(None, []):
        parts.append(f"<figure>{svg}</figure>")
    for heading, prose, table in sections(report):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(prose, list):
            parts.append("<ul>" + "".join(f"<li>{html.escape(p)}</li>" for p in prose) + "</ul>")
        elif prose:
            parts.append(f"<p>{html.escape(prose)}</p>")
        if table:
            header, rows = table
            parts.append(
                "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
            )
            parts += [
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                for row in rows
            ]
            parts.append("</table>")
        for _, svg in placed.pop(heading, []):
            parts.append(f"<figure>{svg}</figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def charts(report: Report) -> dict[str, alt.TopLevelMixin]:
    """The report's charts by name: win/tie/loss per pair, and the ratings and the win-rate
    matrix when there are any."""
    out: dict[str, alt.TopLevelMixin] = {}
    if len(report.pairs):
        out["win-tie-loss"] = outcome_chart(report.pairs)
    if report.ratings is not None:
        out["ratings"] = ratings_chart(report.ratings)
    if len(report.decisive):
        out["win-rate-matrix"] = glance.win_matrix_chart(_win_matrix(report))
    return out


def _win_matrix(report: Report) -> pd.DataFrame:
    """The win-rate matrix with the models in leaderboard order (by name without ratings)."""
    order = None
    if report.ratings is not None:
        order = list(report.ratings.table.sort_values("rating", ascending=False)["model"])
    return glance.win_matrix(report.decisive, order)


def _chart_svgs(report: Report) -> dict[str, str]:
    return {name: chart_svg(chart) for name, chart in charts(report).items()}


def write_report(report: Report, path: str | Path, fmt: str | None = None) -> list[Path]:
    """Write the report to ``path`` (format from ``fmt`` or the file's suffix); returns files written.

    Markdown gets its charts as PNG files beside it (``<stem>-<chart>.png``); HTML embeds them.
    Each file is written to a temporary name and renamed, so a crash never leaves half a report.
    """
    path = Path(path)
    fmt = fmt or {".md": "md", ".json": "json", ".html": "html", ".htm": "html"}.get(
        path.suffix.lower()
    )
    if fmt not in FORMATS:
        raise ValueError(f"report format must be one of {FORMATS}, not {fmt!r}")
    written = []
    if fmt == "json":
        text = json.dumps(report_json(report), indent=2, ensure_ascii=False)
    elif fmt == "html":
        text = report_html(report)
    else:
        chart_files = {}
        for name, chart in charts(report).items():
            image = path.with_name(f"{path.stem}-{name}.png")
            write_bytes(image, chart_png(chart))
            chart_files[name] = image.name
            written.append(image)
        text = report_markdown(report, chart_files=chart_files)
    write_bytes(path, text.encode("utf-8"))
    return [path, *written]


def render(report: Report, fmt: str) -> str:
    """The report as text in ``fmt`` (json, md or html), for standard output."""
    if fmt == "json":
        return json.dumps(report_json(report), indent=2, ensure_ascii=False)
    if fmt == "html":
        return report_html(report)
    if fmt == "md":
        return report_markdown(report)
    raise ValueError(f"report format must be one of {FORMATS}, not {fmt!r}")
