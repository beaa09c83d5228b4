"""How far a study and an annotator have come.

Asked on every press of the annotate page, so a study's figures are read from the totals the
triggers keep (see :mod:`pairwise.store.schema`) and an annotator's are counted over their own
judgments and passes only.
"""

from __future__ import annotations

import math

from .base import StoreBase
from .dialect import join_in_order
from .records import Study


def expected_gold(golds: int, regular: int, rate: float) -> int:
    """How many gold items an annotator is expected to meet while rating ``regular`` items.

    Each new item is gold with probability ``rate`` while gold items are left, so ``regular``
    regular items come with ``regular * rate / (1 - rate)`` gold ones on average (rounded up),
    and never more than the study has.
    """
    if rate <= 0 or golds == 0:
        return 0
    if rate >= 1:
        return golds
    return min(golds, math.ceil(regular * rate / (1 - rate) - 1e-9))


class ProgressMixin(StoreBase):
    """Progress of a study and of one annotator in it."""

    def study_progress(self, study: Study) -> dict[str, int]:
        """Done and wanted judgments over the study's regular (non-gold) comparisons.

        Read from the totals the triggers keep. A comparison is open while it has fewer judgments
        than the overlap, so the done judgments (at most ``overlap`` per comparison) are
        ``overlap`` per complete comparison plus those of open ones.
        """
        totals = self._study_totals(study.id)
        return {
            "comparisons": totals["regular"],
            "complete": totals["complete"],
            "wanted": totals["regular"] * study.overlap,
            "done": totals["complete"] * study.overlap + totals["open_judgments"],
            "judgments": totals["judgments"],
        }

    def _study_totals(self, study_id: int) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT coalesce(sum(regular), 0), coalesce(sum(complete), 0),"
            " coalesce(sum(judgments), 0), coalesce(sum(open_judgments), 0) FROM study_totals"
            " WHERE study_id = ?",
            [study_id],
        ).fetchone()
        names = ("regular", "complete", "judgments", "open_judgments")
        return dict(zip(names, row or (0, 0, 0, 0), strict=True))

    def annotator_progress(self, study: Study, annotator_id: int) -> dict[str, int]:
        """This annotator's done count, and how many more the study could still give them.

        Gold items count like any other item, so that the bars move alike whichever kind was
        just rated: ``done`` holds every judgment of the study's comparisons, and ``total`` holds,
        besides the open regular comparisons the annotator has not judged or passed
        (``available``), the gold items they can still expect. That expectation is fixed for the
        whole study (the expected number of gold items among ``regular`` items at the study's gold
        rate, rounded up), so that rating a gold item moves ``done`` and leaves ``total`` as it
        was; it falls to nothing once no regular item is left, and the bar fills.

        Counted over the annotator's own judgments and passes, not over every open comparison,
        since the annotate page asks on each press (``CROSS JOIN`` keeps SQLite from walking the
        study's comparisons instead).
        """
        done, done_open, gold_done = self.conn.execute(
            "SELECT count(*), CAST(coalesce(sum(c.is_open * (1 - c.is_gold)), 0) AS BIGINT),"
            " CAST(coalesce(sum(c.is_gold), 0) AS BIGINT) FROM judgments j"
            f" {join_in_order(self.backend)} comparisons c ON c.id = j.comparison_id"
            " WHERE j.annotator_id = ? AND c.study_id = ?",
            [annotator_id, study.id],
        ).fetchone()
        passed, passed_open, gold_passed = self.conn.execute(
            "SELECT count(*), CAST(coalesce(sum(CASE WHEN c.is_open = 1 AND c.is_gold = 0"
            " AND NOT EXISTS"
            " (SELECT 1 FROM judgments j WHERE j.annotator_id = p.annotator_id"
            " AND j.comparison_id = c.id) THEN 1 ELSE 0 END), 0) AS BIGINT),"
            " CAST(coalesce(sum(c.is_gold), 0) AS BIGINT)"
            f" FROM passes p {join_in_order(self.backend)} comparisons c ON c.id = p.comparison_id"
            " WHERE p.annotator_id = ? AND c.study_id = ?",
            [annotator_id, study.id],
        ).fetchone()
        totals = self._study_totals(study.id)
        available = totals["regular"] - totals["complete"] - done_open - passed_open
        gold_left = 0
        if available > 0 and study.gold_rate > 0:
            golds = self.conn.execute(
                "SELECT count(*) FROM comparisons WHERE study_id = ? AND is_gold = 1", [study.id]
            ).fetchone()[0]
            regular = done - gold_done + available
            gold_left = max(
                0, expected_gold(golds, regular, study.gold_rate) - gold_done - gold_passed
            )
        return {
            "done": done,
            "passed": passed,
            "available": available,
            "total": done + available + gold_left,
        }
