"""The export page: preference datasets (TRL, HH-RLHF, Parquet) and raw judgments to download.

Every number and row comes from :mod:`pairwise.export`; the page only collects the options,
shows what the export will hold and offers its files. Exports name the models, which is why
this page is for admins only.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from pairwise import export
from pairwise.pages.common import require_admin

ALL = "(all studies)"
PREVIEW_ROWS = 20
_MIME = {".jsonl": "application/jsonl", ".parquet": "application/vnd.apache.parquet"}


def page() -> None:
    ctx = require_admin()
    store = ctx.store
    st.title("Export")
    st.caption("Preference datasets for reward models and DPO, with a dataset card for each.")
    options = _options([s.name for s in store.studies(include_set_apart=False)[::-1]])
    if options is None:
        return
    version = (store.path, store.counts()["judgments"], repr(options))
    cached = st.session_state.get("export.cached")
    if cached is None or cached[0] != version:
        with st.spinner("Preparing the export…"):
            built = export.build_export(store, options)
        st.session_state["export.cached"] = (version, built)
        st.session_state.pop("export.files", None)
    else:
        built = cached[1]
    _summary(built)
    _downloads(built, version)


def _options(studies: list[str]) -> export.ExportOptions | None:
    """The export options from the widgets, or ``None`` (with the reason shown) when invalid."""
    left, right = st.columns(2)
    study = left.selectbox("Study", [*studies, ALL], key="export.study")
    fmt = right.selectbox(
        "Format", list(export.FORMATS), key="export.format", help="See the description below."
    )
    st.caption(export.FORMATS[fmt])
    settings: dict = {}
    if fmt not in export.RAW_FORMATS:
        a, b, c = st.columns(3)
        settings["aggregation"] = a.radio(
            "Records",
            list(export.AGGREGATIONS),
            format_func=lambda k: export.AGGREGATIONS[k],
            key="export.aggregation",
            index=1,
        )
        settings["keep_ties"] = b.checkbox(
            "Keep ties (flagged `tie`, chosen/rejected arbitrary)", key="export.keep_ties"
        )
        settings["min_agreement"] = b.slider(
            "Minimum agreement",
            0.0,
            1.0,
            0.0,
            0.05,
            key="export.min_agreement",
            help="Share of a comparison's judgments that give its most common outcome.",
        )
        custom = c.checkbox(
            "Custom margins", key="export.custom_margins", help="Default: margin = |score|."
        )
        if custom:
            settings["margins"] = {
                level: c.number_input(
                    f"Margin for level {level} ({label})",
                    0.0,
                    100.0,
                    float(level),
                    0.1,
                    key=f"export.margin.{level}",
                )
                for level, label in ((1, "slightly better"), (2, "better"), (3, "much better"))
            }
    a, b, c = st.columns(3)
    settings["exclude_flagged"] = a.checkbox(
        "Drop comparisons flagged unsafe, broken or unanswerable", True, key="export.flagged"
    )
    settings["include_excluded"] = a.checkbox(
        "Include annotators marked excluded", key="export.excluded"
    )
    settings["include_gold"] = a.checkbox("Include gold check items", True, key="export.gold")
    settings["judges"] = a.radio(
        "Judges",
        list(export.JUDGES),
        format_func=lambda k: export.JUDGES[k],
        key="export.judges",
        help="People annotate in the app; model judges' verdicts were imported.",
    )
    settings["test_fraction"] = b.number_input(
        "Test share of prompts", 0.0, 0.9, 0.0, 0.05, key="export.test_fraction"
    )
    settings["seed"] = int(c.number_input("Split seed", 0, 2**31 - 1, 0, key="export.seed"))
    try:
        return export.ExportOptions(format=fmt, study=None if study == ALL else study, **settings)
    except ValueError as error:
        st.error(str(error))
        return None


def _summary(built: export.Export) -> None:
    counts = built.counts
    if not counts["judgments"]:
        st.info("No judgments yet: there is nothing to export.")
        return
    shown = [
        ("records", "Records"),
        ("record_comparisons", "Comparisons"),
        ("record_prompts", "Prompts"),
        ("flagged_comparisons", "Flagged dropped"),
        ("dropped_by_agreement", "Dropped by agreement"),
        ("dropped_ties", "Ties dropped"),
        ("kept_ties", "Ties kept"),
        ("train_records", "Train records"),
        ("test_records", "Test records"),
    ]
    present = [(key, label) for key, label in shown if key in counts]
    for column, (key, label) in zip(st.columns(len(present)), present, strict=True):
        column.metric(label, f"{counts[key]:,}")
    st.caption(f"From {counts['judgments']:,} judgments of {counts['comparisons']:,} comparisons.")
    st.subheader("Models")
    st.dataframe(built.models, hide_index=True)
    st.subheader(f"Preview (first {min(PREVIEW_ROWS, len(built))} records)")
    st.dataframe(_readable(built.frame(slice(0, PREVIEW_ROWS))), hide_index=True)


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Message lists as JSON text, so that the preview table shows them as they are written."""
    out = frame.copy()
    for column in out.columns:
        if out[column].map(lambda v: isinstance(v, list)).any():
            out[column] = out[column].map(lambda v: json.dumps(v, ensure_ascii=False))
    return out


def _downloads(built: export.Export, version: tuple) -> None:
    if not built.counts["judgments"]:
        return
    files = st.session_state.get("export.files")
    if files is None or files[0] != version:
        st.caption(
            "The files are prepared in memory for download; for exports of millions of"
            " judgments, `pairwise export` writes them straight to disk."
        )
        name = st.text_input("File name", "preferences", key="export.name")
        if not st.button("Prepare files", key="export.prepare", type="primary"):
            return
        try:
            export.check_file_name(name)
        except ValueError as error:
            st.error(str(error))
            return
        with tempfile.TemporaryDirectory(prefix="pairwise-export-") as folder:
            written = export.write_export_into(built, folder, name)
            paths = [*written.files.values(), written.card]
            files = (version, [(p.name, p.read_bytes()) for p in paths])
        st.session_state["export.files"] = files
    for column, (filename, data) in zip(st.columns(len(files[1])), files[1], strict=True):
        column.download_button(
            filename,
            data,
            filename,
            _MIME.get(Path(filename).suffix, "text/markdown"),
            key=f"export.download.{filename}",
        )
