"""Judgments, passes and texts as pandas frames, for analysis, reports and exports.

A million judgments are read as columns (arrays, 100,000 rows at a time) with the strings behind
their keys looked up from the small tables, rather than as joined rows: the judgments frame is the
store's hottest read.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..lazy import LazyModule
from .studies import StudiesMixin

if TYPE_CHECKING:  # the data stack is imported by the first frame a store builds
    import numpy as np
    import pandas as pd
    import pyarrow as pa
else:
    np, pd, pa = LazyModule("numpy"), LazyModule("pandas"), LazyModule("pyarrow")


class FramesMixin(StudiesMixin):
    """The frames that analysis and exports read."""

    def judgments_frame(
        self,
        study: str | int | None = None,
        *,
        include_excluded: bool = False,
        include_gold: bool = True,
        with_text: bool = False,
    ) -> pd.DataFrame:
        """Judgments as the tidy frame described in ``docs/judgments-frame.md``.

        Excluded annotators are left out unless asked for. ``with_text=True`` adds the prompt
        ``messages`` (JSON) and the two responses' text, for exports.
        """
        # Read what varies per judgment, then the keys a comparison shares, then the names,
        # lengths and texts behind those keys from the small tables: a million judgments touch a
        # few hundred thousand comparisons and a few thousand prompts, and reading integers and
        # looking the strings up builds each string once rather than once per judgment. The
        # judgments are read without joins (a join costs a look-up per row) and filtered here.
        chosen = None if study is None else self.get_study(study).id
        span, span_params = "", []
        if chosen is not None:  # a study's comparisons are mostly one run of ids
            span = " WHERE comparison_id BETWEEN ? AND ?"
            span_params = list(
                self.conn.execute(
                    "SELECT min(id), max(id) FROM comparisons WHERE study_id = ?", [chosen]
                ).fetchone()
            )
        judged = self._read_columns(
            "SELECT id, comparison_id, annotator_id, score,"
            " CASE shown_order WHEN 'BA' THEN 1 WHEN 'AB' THEN 0 ELSE 2 END,"
            " seconds, created_at, rationale, p_a, score_ab, score_ba FROM judgments"
            + span
            + " ORDER BY id",
            span_params,
            kinds="iiiiiftt" + "fff",
        )
        keys = self._read_columns(
            "SELECT c.id, c.study_id, c.prompt_id, c.response_a, c.response_b, c.is_gold,"
            " c.gold_score FROM comparisons c"
            " WHERE c.id IN (SELECT DISTINCT comparison_id FROM judgments)"
            + ("" if chosen is None else " AND c.study_id = ?")
            + ("" if include_gold else " AND c.is_gold = 0"),
            [] if chosen is None else [chosen],
            kinds="iitiiif",
        )
        people = self.frame("SELECT id, name, excluded, judge_kind FROM annotators")
        at = pd.Index(keys[0]).get_indexer(judged[1])  # each judgment's comparison
        of_annotator = pd.Index(people["id"]).get_indexer(judged[2])
        kept = (at >= 0) & (of_annotator >= 0)
        if not include_excluded:
            kept &= people["excluded"].to_numpy()[of_annotator] == 0
        if not kept.all():
            judged = [column[kept] for column in judged]
            at, of_annotator = at[kept], of_annotator[kept]
        judgment, comparison, _, score, shown_ba, seconds, created_at, rationale = judged[:8]
        p_a, score_ab, score_ba = judged[8:]
        p_a = np.where(np.isnan(p_a), (np.sign(score) + 1) / 2, p_a)
        study_id, prompt_id, response_a, response_b, is_gold, gold_score = (
            column[at] for column in keys[1:]
        )
        prompt_codes, prompt_ids = pd.factorize(prompt_id)
        prompts = self._rows_by_id(
            "prompts", "id, category, turns" + (", messages" if with_text else ""), prompt_ids
        )
        responses = self._rows_by_id(
            "responses",
            "id, model, chars" + (", content" if with_text else ""),
            pd.unique(np.concatenate([keys[3], keys[4]])),
        )
        studies = self.frame("SELECT id, name, scale FROM studies")
        of_prompt = pd.Index(prompts["id"]).get_indexer(prompt_ids)[prompt_codes]
        of_a, of_b = (pd.Index(responses["id"]).get_indexer(r) for r in (response_a, response_b))
        of_study = pd.Index(studies["id"]).get_indexer(study_id)
        frame = pd.DataFrame(
            {
                "judgment_id": judgment,
                "study": _take(studies["name"], of_study),
                "comparison_id": comparison,
                "prompt_id": prompt_ids.take(prompt_codes),
                "category": _take(prompts["category"], of_prompt),
                "turns": _take(prompts["turns"], of_prompt),
                "model_a": _take(responses["model"], of_a),
                "model_b": _take(responses["model"], of_b),
                "scale": _take(studies["scale"], of_study),
                "score": score,
                "p_a": p_a,
                "shown_order": _take(pd.Series(["AB", "BA", None], dtype="str"), shown_ba),
                "annotator": _take(people["name"], of_annotator),
                "judge_kind": _take(people["judge_kind"], of_annotator),
                "seconds": seconds,
                "created_at": created_at,
                "len_a": _take(responses["chars"], of_a),
                "len_b": _take(responses["chars"], of_b),
                "is_gold": is_gold,
                "gold_score": gold_score,
                "rationale": rationale,
                "excluded": _take(people["excluded"], of_annotator),
                "score_ab": score_ab,
                "score_ba": score_ba,
            }
        )
        if with_text:
            frame["messages"] = _take(prompts["messages"], of_prompt)
            frame["response_a"] = _take(responses["content"], of_a)
            frame["response_b"] = _take(responses["content"], of_b)
        if frame.empty:  # text columns of no rows stay object, as an empty query gives them
            text = frame.select_dtypes(include="str").columns
            frame = frame.astype(dict.fromkeys(text, object))
        return _tidy(frame)

    def _judgment_filters(
        self, study: str | int | None, include_excluded: bool, include_gold: bool
    ) -> tuple[str, list[Any]]:
        """The WHERE clause (over ``j``, ``c``, ``a``) shared by the judgment frames."""
        where, params = [], []
        if study is not None:
            where.append("c.study_id = ?")
            params.append(self.get_study(study).id)
        if not include_excluded:
            where.append("a.excluded = 0")
        if not include_gold:
            where.append("c.is_gold = 0")
        return (" WHERE " + " AND ".join(where) if where else ""), params

    def passes_frame(self, study: str | int | None = None) -> pd.DataFrame:
        """Skips and flags, one row each, with the comparison's models (for admins)."""
        params: list[Any] = []
        where = ""
        if study is not None:
            where = " WHERE c.study_id = ?"
            params.append(self.get_study(study).id)
        return self.frame(
            "SELECT x.id AS pass_id, s.name AS study, x.comparison_id, c.prompt_id,"
            " ra.model AS model_a, rb.model AS model_b, a.name AS annotator, x.reason, x.note,"
            " x.created_at FROM passes x JOIN comparisons c ON c.id = x.comparison_id"
            " JOIN studies s ON s.id = c.study_id JOIN annotators a ON a.id = x.annotator_id"
            " JOIN responses ra ON ra.id = c.response_a JOIN responses rb ON rb.id = c.response_b"
            + where
            + " ORDER BY x.id",
            params,
        )

    def comparison_texts(self, study: str | int | None = None) -> pd.DataFrame:
        """Every judged comparison with its study, prompt category, models and text.

        Columns: ``comparison_id``, ``study``, ``prompt_id``, ``category``, ``model_a``,
        ``model_b``, ``messages`` (JSON), ``response_a``, ``response_b``. One row per comparison
        rather than per judgment, and each prompt's and response's text is read once and shared
        by every comparison that shows it, so that an export of a million judgments holds each
        text once and joins it on ``comparison_id``.
        """
        params: list[Any] = []
        in_study = ""
        if study is not None:
            in_study = " WHERE c.study_id = ?"
            params.append(self.get_study(study).id)
        frame = self._read_in_slices(
            "SELECT c.id AS comparison_id, s.name AS study, c.prompt_id, p.category,"
            " ra.model AS model_a, rb.model AS model_b, c.response_a, c.response_b"
            " FROM comparisons c JOIN studies s ON s.id = c.study_id"
            " JOIN prompts p ON p.id = c.prompt_id JOIN responses ra ON ra.id = c.response_a"
            " JOIN responses rb ON rb.id = c.response_b"
            " WHERE EXISTS (SELECT 1 FROM judgments j WHERE j.comparison_id = c.id)"
            + in_study.replace("WHERE", "AND")
            + " ORDER BY c.id",
            params,
        )
        prompts = self.frame(
            "SELECT id, messages FROM prompts WHERE id IN"
            " (SELECT c.prompt_id FROM comparisons c" + in_study + ")",
            params,
        )
        responses = self.frame(
            "SELECT id, content FROM responses WHERE id IN"
            " (SELECT c.response_a FROM comparisons c" + in_study + ") OR id IN"
            " (SELECT c.response_b FROM comparisons c" + in_study + ")",
            params * 2,
        )
        frame["messages"] = _look_up(prompts["id"], prompts["messages"], frame["prompt_id"])
        for side in ("response_a", "response_b"):
            frame[side] = _look_up(responses["id"], responses["content"], frame[side])
        return frame

    def judgment_scores(
        self,
        study: str | int | None = None,
        *,
        include_excluded: bool = False,
        include_gold: bool = True,
    ) -> pd.DataFrame:
        """``judgment_id``, ``comparison_id``, ``score``, ``p_a``, ``annotator`` (categorical)
        and ``judge_kind`` of each judgment (``p_a`` from the score for a hard verdict).

        The narrow part of :meth:`judgments_frame` (same rows, same order) that preference
        exports need; joined to :meth:`comparison_texts` it gives the judgments-frame columns an
        export reads, at a fraction of the cost of reading every column per judgment.
        """
        where, params = self._judgment_filters(study, include_excluded, include_gold)
        frame = self._read_in_slices(
            "SELECT j.id AS judgment_id, j.comparison_id, j.score,"
            " coalesce(j.p_a, CASE WHEN j.score > 0 THEN 1.0 WHEN j.score < 0 THEN 0.0"
            " ELSE 0.5 END) AS p_a, j.annotator_id AS annotator, a.judge_kind"
            " FROM judgments j JOIN comparisons c ON c.id = j.comparison_id"
            " JOIN annotators a ON a.id = j.annotator_id" + where + " ORDER BY j.id",
            params,
        )
        names = self.frame("SELECT id, name FROM annotators")
        frame["annotator"] = pd.Categorical.from_codes(
            pd.Index(names["id"]).get_indexer(frame["annotator"]), categories=names["name"]
        )
        return frame.astype(
            {"judgment_id": "int64", "comparison_id": "int64", "score": "int64", "p_a": "float64"}
        )

    def _read_columns(self, sql: str, params: Sequence[Any], kinds: str) -> list[Any]:
        """A query's columns, read 100,000 rows at a time and kept as arrays rather than rows.

        ``kinds`` has a letter per column: ``i`` integer, ``f`` number or NULL (NaN), ``t`` text.
        Text comes back as a pandas string array. Only one slice at a time is held as tuples.
        """
        batches = self.conn.stream(sql, params)
        next(batches)  # the columns' description
        slices = []
        with collector_paused():
            for rows in batches:
                columns = zip(*rows, strict=True)
                slices.append([_column(v, kind) for v, kind in zip(columns, kinds, strict=True)])
        parts = zip(*slices, strict=True) if slices else ([_column((), kind)] for kind in kinds)
        return [_concat(part, kind) for part, kind in zip(parts, kinds, strict=True)]

    def _rows_by_id(self, table: str, columns: str, ids: Sequence[Any]) -> pd.DataFrame:
        """Rows of ``table`` whose ``id`` is in ``ids``, asked for 500 ids at a time."""
        ids = [value.item() if isinstance(value, np.generic) else value for value in ids]
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows += self.conn.execute(
                f"SELECT {columns} FROM {table} WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            ).fetchall()
        return pd.DataFrame.from_records(rows, columns=[c.strip() for c in columns.split(",")])

    def _read_in_slices(self, sql: str, params: Sequence[Any]) -> pd.DataFrame:
        """A query's rows as a frame, read 100,000 at a time: a million-row read never holds every
        row as Python tuples at once."""
        batches = self.conn.stream(sql, params)
        names = [column[0] for column in next(batches)]
        slices = [pd.DataFrame.from_records(r, columns=names, coerce_float=True) for r in batches]
        return pd.concat(slices, ignore_index=True) if slices else pd.DataFrame(columns=names)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a large read or import builds millions of objects.

    They hold no cycles, yet every few hundred of them start a collection, and the larger ones
    walk them all again: a quarter of the time of a million-row read. It is switched back on if
    it was on before.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _column(values: Sequence[Any], kind: str) -> Any:
    """One slice of a query's column as an array of its kind (see ``Store._read_columns``)."""
    if kind == "t":
        return pa.array(values, type=pa.string())
    return np.array(values, dtype=np.int64 if kind == "i" else float)


def _concat(parts: Sequence[Any], kind: str) -> Any:
    if kind == "t":
        return pd.array(pa.chunked_array(parts, type=pa.string()), dtype="str")
    return np.concatenate(parts)


def _take(values: pd.Series, positions: np.ndarray) -> Any:
    """``values`` at ``positions``: a lookup of a small table's column for every judgment."""
    return values.array.take(positions)


def _look_up(keys: pd.Series, values: pd.Series, wanted: pd.Series) -> pd.Series:
    """``values`` at ``wanted`` keys, sharing the value objects rather than copying them."""
    found = values.to_numpy(dtype=object)[pd.Index(keys).get_indexer(wanted)]
    return pd.Series(found, index=wanted.index, dtype=object)


_FRAME_TYPES = {
    "judgment_id": "int64",
    "comparison_id": "int64",
    "turns": "int64",
    "scale": "int64",
    "score": "int64",
    "seconds": "float64",
    "len_a": "int64",
    "len_b": "int64",
    "gold_score": "float64",
    "p_a": "float64",
    "score_ab": "float64",
    "score_ba": "float64",
}


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Give the frame its documented types, and the derived ``outcome`` and ``margin``."""
    for column, dtype in _FRAME_TYPES.items():
        frame[column] = frame[column].astype(dtype)
    for column in ("is_gold", "excluded"):
        frame[column] = frame[column].astype(bool)
    score = frame["score"].to_numpy()
    frame["outcome"] = np.where(score > 0, "win", np.where(score < 0, "loss", "tie")).astype(object)
    frame["margin"] = frame["score"].abs()
    frame["rationale"] = frame["rationale"].fillna("")
    return frame
