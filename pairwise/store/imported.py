"""Judgments made elsewhere: an import checks them against what is stored, then writes them.

Unlike the annotate page's judgments they are not held to the study's overlap; a verdict stored
again the same is left as it is, and a different one for the same annotator is refused.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..scales import SHOWN_ORDERS, Scale
from .dialect import flag
from .records import DuplicateConflict, ImportedJudgment, StoreError, now_iso
from .texts import TextsMixin


class ImportedMixin(TextsMixin):
    """Judgments imported from files."""

    def stored_verdicts(
        self, study_id: int
    ) -> dict[tuple[int, int], tuple[int, float | None, int | None, int | None]]:
        """``(comparison_id, annotator_id)`` to ``(score, p_a, score_ab, score_ba)`` for a study."""
        rows = self.conn.execute(
            "SELECT j.comparison_id, j.annotator_id, j.score, j.p_a, j.score_ab, j.score_ba"
            " FROM judgments j JOIN comparisons c ON c.id = j.comparison_id WHERE c.study_id = ?",
            [study_id],
        )
        return {(row[0], row[1]): tuple(row[2:]) for row in rows}

    def add_judgments(self, judgments: Iterable[ImportedJudgment]) -> tuple[int, int]:
        """Insert judgments made elsewhere; returns ``(inserted, unchanged)``.

        Unlike :meth:`record_judgment` the overlap is not enforced: outside data may hold more
        judgments per comparison than the study wants. A judgment already stored for the same
        comparison and annotator with the same verdict is unchanged (one judgment per annotator and
        comparison); with another verdict it raises :class:`DuplicateConflict`. Comparisons' counts
        of judgments by people, which the overlap is about, are recomputed.
        """
        judgments = list(judgments)
        inserted = unchanged = 0
        touched: set[int] = set()
        created = now_iso()
        with self.transaction() as conn:
            wanted = list(dict.fromkeys(j.comparison_id for j in judgments))
            scales = {
                c: Scale(points)
                for c, points in self._where_in(
                    conn,
                    "SELECT c.id, s.scale FROM comparisons c JOIN studies s ON s.id = c.study_id",
                    "c.id",
                    wanted,
                )
            }
            stored = {
                (row[0], row[1]): tuple(row[2:])
                for row in self._where_in(
                    conn,
                    "SELECT comparison_id, annotator_id, score, p_a, score_ab, score_ba"
                    " FROM judgments",
                    "comparison_id",
                    wanted,
                )
            }
            models = {
                row[0]
                for row in conn.execute("SELECT id FROM annotators WHERE judge_kind = 'model'")
            }
            new = []
            for j in judgments:
                if j.comparison_id not in scales:
                    raise StoreError(f"no comparison {j.comparison_id}")
                try:
                    scales[j.comparison_id].check(j.score)
                except ValueError as e:
                    raise StoreError(str(e)) from None
                if j.shown_order is not None and j.shown_order not in SHOWN_ORDERS:
                    raise StoreError(
                        f"shown_order must be 'AB', 'BA' or None (unknown), not {j.shown_order!r}"
                    )
                if j.p_a is not None and not 0 <= j.p_a <= 1:
                    raise StoreError(f"p_a must be between 0 and 1, not {j.p_a!r}")
                verdict = (int(j.score), j.p_a, j.score_ab, j.score_ba)
                old = stored.get((j.comparison_id, j.annotator_id))
                if old is not None:
                    if old != verdict:
                        raise DuplicateConflict(
                            f"annotator {j.annotator_id} already judged comparison"
                            f" {j.comparison_id} differently"
                        )
                    unchanged += 1
                    continue
                stored[j.comparison_id, j.annotator_id] = verdict
                new.append(
                    (
                        j.comparison_id,
                        j.annotator_id,
                        int(j.score),
                        j.shown_order,
                        j.rationale,
                        j.seconds,
                        j.created_at or created,
                        j.p_a,
                        j.score_ab,
                        j.score_ba,
                    )
                )
                if j.annotator_id not in models:
                    touched.add(j.comparison_id)
                inserted += 1
            conn.executemany(
                "INSERT INTO judgments (comparison_id, annotator_id, score, shown_order,"
                " rationale, seconds, created_at, p_a, score_ab, score_ba)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                new,
            )
            # the overlap counts people: a model judge's verdict leaves the item as open as it was
            people = (
                "(SELECT count(*) FROM judgments j JOIN annotators a ON a.id = j.annotator_id"
                " WHERE j.comparison_id = :c AND a.judge_kind = 'human')"
            )
            conn.executemany(
                f"UPDATE comparisons SET n_judgments = {people}, is_open = "
                + flag(
                    f"{people} < (SELECT s.overlap FROM studies s WHERE s.id = comparisons.study_id)"
                )
                + " WHERE id = :c",
                [{"c": c} for c in sorted(touched)],
            )
        return inserted, unchanged
