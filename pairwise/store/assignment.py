"""Which comparison an annotator sees next, and recording what they answered.

Leases keep concurrent annotators off each other's items; picking and leasing happen in one write
transaction, so that no comparison is handed out beyond its overlap. A judgment or pass is stored at
most once per annotator and comparison, whatever the browser resends.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from ..scales import SHOWN_ORDERS, Scale
from .connection import Connection, retried
from .dialect import flag, lock_row, skip_locked
from .records import (
    DEFAULT_LEASE_SECONDS,
    PASS_REASONS,
    Assignment,
    Recorded,
    StoreError,
    Study,
    check_note,
    now_iso,
)
from .texts import TextsMixin

_BEFORE_ALL, _AFTER_ALL = -(2**63), 2**63 - 1  # scan starts before or after every sort_key

# A pair's squared win-rate half-width up to a constant, p (1 - p) / (n + 2), with p shrunk
# towards one half as (wins + 1) / (n + 2) so that no pair looks settled at once; in SQL, as
# (w + 1) (n - w + 1) / (n + 2)³.
_UNSETTLED = (
    "CAST(wins + 1 AS DOUBLE PRECISION) * (judgments - wins + 1)"
    " / (CAST(judgments + 2 AS DOUBLE PRECISION) * (judgments + 2) * (judgments + 2))"
)


class AssignmentMixin(TextsMixin):
    """Leases, the next comparison, judgments and passes from the annotate page."""

    @retried
    def next_comparison(
        self,
        study: Study,
        annotator_id: int,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        gold: bool | None = None,
        rng: random.Random | None = None,
        clock: float | None = None,
    ) -> Assignment | None:
        """Lease the next comparison for an annotator, or ``None`` when nothing is left for them.

        An annotator's live lease is handed back first, so a reload shows the same item in the same
        order. Otherwise the first comparison in the study's random order that the annotator has not
        judged or passed and that still has room: judgments plus other annotators' live leases below
        the overlap. Picking and leasing happen in one write transaction, so two annotators cannot
        both take the last slot. ``gold=True`` asks for a gold item (any not yet seen, overlap
        ignored); when none is left a regular item is given. By default (``gold=None``) a new item
        is a gold one with the study's ``gold_rate``, drawn from ``rng``. A read-only study
        (imported without texts) is refused with a :class:`StoreError`.
        """
        if not lease_seconds > 0:  # a lease must be live when it is read back
            raise StoreError(f"lease_seconds must be positive, not {lease_seconds!r}")
        rng = rng or random
        now = time.time() if clock is None else clock
        params = {
            "s": study.id,
            "a": annotator_id,
            "now": now,
            "until": now + lease_seconds,
            "k": study.overlap,
            "before": _BEFORE_ALL,
        }
        with self.transaction(side_by_side=True) as conn:
            # the study, the person, their live lease, their scan start and the first comparison
            # from it that they have not seen: one round trip
            read_only, judge, start, unseen, comparison_id, shown_order = conn.execute(
                "SELECT (SELECT read_only FROM studies WHERE id = :s),"
                f" {self._MODEL_JUDGE}, ({self._SCAN_START}),"
                " (SELECT c.sort_key FROM comparisons c WHERE c.study_id = :s AND c.is_gold = 0"
                f"  AND c.is_open = 1 AND c.sort_key >= COALESCE(({self._SCAN_START}), :before)"
                f"  {self._UNSEEN} ORDER BY c.sort_key, c.id LIMIT 1),"
                f" ({self._LIVE_LEASE.format('comparison_id')}),"
                f" ({self._LIVE_LEASE.format('shown_order')})",
                params,
            ).fetchone()
            self._check_person(judge)
            if read_only:
                raise StoreError(
                    f"study {study.name!r} was imported without the texts of its prompts or "
                    "responses: it can be reported on, not annotated until they are imported"
                )

            def lease(comparison_id: int, *, room: bool) -> Assignment | None:
                nonlocal shown_order
                if shown_order is None:  # drawn once a comparison is found, and kept
                    shown_order = rng.choice(SHOWN_ORDERS)
                return self._lease(conn, comparison_id, shown_order, params, room=room)

            if comparison_id is not None:
                return lease(comparison_id, room=False)
            if gold is None:
                gold = study.gold_rate > 0 and rng.random() < study.gold_rate
            if gold:
                row = conn.execute(
                    "SELECT c.id FROM comparisons c WHERE c.study_id = :s AND c.is_gold = 1"
                    + self._UNSEEN
                    + " ORDER BY c.sort_key, c.id LIMIT 1",
                    params,
                ).fetchone()
                if row is not None:  # a gold item is shown whatever its overlap
                    return lease(row[0], room=False)
            # The scan walks the index in sort_key order (is_open as an equality, so no sort) from
            # the annotator's scan start: every open comparison before it is one they judged or
            # passed, so one far ahead of the others does not step over thousands on each call.
            old_start = _BEFORE_ALL if start is None else start
            start = _AFTER_ALL if unseen is None else unseen
            if start != old_start:
                conn.execute_later(
                    "INSERT INTO scan_starts (study_id, annotator_id, sort_key)"
                    " VALUES (:s, :a, :start) ON CONFLICT (study_id, annotator_id)"
                    " DO UPDATE SET sort_key = excluded.sort_key",
                    {**params, "start": start},
                )
            if unseen is None:
                return None
            if study.adaptive:
                return self._first_open_adaptive(conn, {**params, "start": start}, lease, rng)
            return self._take_with_room(conn, self._REGULAR, {**params, "start": start}, lease)

    # the name of annotator :a when it is a model judge (NULL for a person), as a column
    _MODEL_JUDGE = "(SELECT name FROM annotators WHERE id = :a AND judge_kind = 'model')"

    # a column of annotator :a's first live lease in study :s (NULL: none)
    _LIVE_LEASE = (
        "SELECT l.{} FROM leases l JOIN comparisons c ON c.id = l.comparison_id"
        " WHERE l.annotator_id = :a AND l.expires_at > :now AND c.study_id = :s"
        " ORDER BY l.leased_at, l.comparison_id LIMIT 1"
    )

    # where annotator :a's scan of study :s starts (NULL: at the beginning)
    _SCAN_START = "SELECT sort_key FROM scan_starts WHERE study_id = :s AND annotator_id = :a"

    _UNSEEN = (
        " AND NOT EXISTS (SELECT 1 FROM judgments j"
        "   WHERE j.annotator_id = :a AND j.comparison_id = c.id)"
        " AND NOT EXISTS (SELECT 1 FROM passes p"
        "   WHERE p.annotator_id = :a AND p.comparison_id = c.id)"
    )

    # the open regular comparisons of study :s from sort key :start that :a has not seen
    _REGULAR = (
        "SELECT c.id FROM comparisons c"
        " WHERE c.study_id = :s AND c.is_gold = 0 AND c.is_open = 1 AND c.sort_key >= :start"
        + _UNSEEN
    )

    # room: judgments plus other annotators' live leases below the overlap
    _ROOM = (
        " AND c.n_judgments + (SELECT count(*) FROM leases l WHERE l.comparison_id = c.id"
        " AND l.expires_at > :now AND l.annotator_id != :a) < :k"
    )

    def _take_with_room(
        self,
        conn: Connection,
        scan: str,
        params: dict[str, Any],
        lease: Callable[..., Assignment | None],
    ) -> Assignment | None:
        """Lease the first comparison of ``scan`` (a query on ``comparisons c``) with room.

        Where rows are locked (PostgreSQL) the scan locks the row it picks and passes over those
        that other transactions hold. It reads from a snapshot taken when it started, so a lease
        that another transaction wrote and committed while the scan ran (and then let the row
        go) is not in its count: the lease is written only if the room, counted again by the
        insert (a new statement, which sees every lease on the row; leases are written under
        its lock), is still there, and a comparison found full is passed over.
        """
        passed: list[int] = []
        while True:
            besides = f" AND c.id NOT IN ({', '.join(map(str, passed))})" if passed else ""
            row = conn.execute(
                scan
                + self._ROOM
                + besides
                + " ORDER BY c.sort_key, c.id LIMIT 1"
                + skip_locked(self.backend, "c"),
                params,
            ).fetchone()
            if row is None:
                return None
            found = lease(row[0], room=True)
            if found is not None:
                return found
            passed.append(int(row[0]))

    def _lease(
        self,
        conn: Connection,
        comparison_id: int,
        shown_order: str,
        params: dict[str, Any],
        *,
        room: bool,
    ) -> Assignment | None:
        """Lease a comparison to annotator ``:a`` (only while it has room, when ``room``) and
        read what the page shows of it: one round trip. ``None`` when it had no room."""
        values = {**params, "c": comparison_id, "o": shown_order}
        conn.execute_later(
            "INSERT INTO leases (comparison_id, annotator_id, shown_order, leased_at, expires_at)"
            " SELECT c.id, :a, :o, :now, :until FROM comparisons c WHERE c.id = :c"
            + (self._ROOM if room else "")
            + " ON CONFLICT (comparison_id, annotator_id) DO UPDATE SET"
            " shown_order = excluded.shown_order, leased_at = excluded.leased_at,"
            " expires_at = excluded.expires_at",
            values,
        )
        return self._assignment(conn, comparison_id, shown_order, leased_by=values)

    def _first_open_adaptive(
        self,
        conn: Connection,
        params: dict[str, Any],
        lease: Callable[..., Assignment | None],
        rng: random.Random | Any,
    ) -> Assignment | None:
        """Lease the first comparison with room, in the random order, of the least settled pair.

        Pairs are tried from the widest win-rate interval down: the half-width of a pair with n
        judgments, w of them wins, grows with p (1 - p) / (n + 2) where p = (w + 1) / (n + 2), so
        a pair without judgments comes first, then those whose rate is nearest one half per
        judgment. Equal pairs are taken in a random order. The pair depends on earlier outcomes;
        the comparison within the pair does not (the study's random order), so each pair's
        prompts stay a random sample. The pairs are ranked in SQL from their counts, which
        triggers keep current, and read one at a time: usually the first has a comparison, found
        by one probe of the pair's index from the annotator's scan start.
        """
        ranked = conn.execute(
            f"SELECT id FROM study_pairs WHERE study_id = :s ORDER BY {_UNSETTLED} DESC,"
            " (id * :salt) % 2147483647",  # equal pairs in an order drawn from rng
            {"s": params["s"], "salt": rng.randrange(1, 2147483647)},
        )
        scan = (
            "SELECT c.id FROM comparisons c WHERE c.pair_id = :p AND c.is_gold = 0"
            " AND c.is_open = 1 AND c.sort_key >= :start" + self._UNSEEN
        )
        for (pair_id,) in ranked:
            found = self._take_with_room(conn, scan, {**params, "p": pair_id}, lease)
            if found is not None:
                return found
        return None

    def _assignment(
        self,
        conn: Connection,
        comparison_id: int,
        shown_order: str,
        *,
        leased_by: dict[str, Any] | None = None,
    ) -> Assignment | None:
        """What the page shows of a comparison; with ``leased_by`` (annotator ``:a`` at time
        ``:now``) only if that annotator holds a live lease on it (``None`` otherwise)."""
        held = (
            " AND EXISTS (SELECT 1 FROM leases l WHERE l.comparison_id = c.id"
            " AND l.annotator_id = :a AND l.expires_at > :now)"
            if leased_by
            else ""
        )
        row = conn.execute(
            "SELECT c.study_id, c.is_gold, ra.model, ra.content, rb.model, rb.content,"
            f" {self.PROMPT_COLUMNS} FROM comparisons c"
            " JOIN responses ra ON ra.id = c.response_a JOIN responses rb ON rb.id = c.response_b"
            " JOIN prompts p ON p.id = c.prompt_id WHERE c.id = :c" + held,
            {**(leased_by or {}), "c": comparison_id},
        ).fetchone()
        if row is None:
            return None
        study_id, is_gold, model_a, text_a, model_b, text_b = row[:6]
        left, right = (text_a, text_b) if shown_order == "AB" else (text_b, text_a)
        return Assignment(
            comparison_id=comparison_id,
            study_id=study_id,
            prompt=self.prompt_from_row(row[6:]),
            shown_order=shown_order,
            left=left,
            right=right,
            model_a=model_a,
            model_b=model_b,
            is_gold=bool(is_gold),
        )

    @staticmethod
    def _check_person(model_judge: str | None) -> None:
        """Work is assigned to people only; a model judge's verdicts come in by import."""
        if model_judge is not None:
            raise StoreError(f"{model_judge!r} is a model judge: it is not assigned comparisons")

    @retried
    def release(self, comparison_id: int, annotator_id: int) -> None:
        """Give a leased comparison back to the pool."""
        with self.transaction(side_by_side=True) as conn:
            conn.execute(
                "DELETE FROM leases WHERE comparison_id = ? AND annotator_id = ?",
                [comparison_id, annotator_id],
            )

    def purge_expired_leases(self, clock: float | None = None) -> int:
        now = time.time() if clock is None else clock
        with self.transaction(side_by_side=True) as conn:
            return conn.execute("DELETE FROM leases WHERE expires_at <= ?", [now]).rowcount

    @retried
    def record_judgment(
        self,
        comparison_id: int,
        annotator_id: int,
        *,
        score: int,
        shown_order: str,
        rationale: str = "",
        seconds: float | None = None,
    ) -> Recorded:
        """Store one judgment, at most once per annotator and comparison.

        ``score`` is already oriented to model A (see :func:`pairwise.scales.orient`). A second
        submit of the same item (double click, rerun, retry after a crash) returns ``duplicate``
        and changes nothing. A regular comparison that reached its overlap while the annotator's
        lease had lapsed returns ``full`` and is not stored, so no comparison is judged more often
        than the study wants.
        """
        if shown_order not in SHOWN_ORDERS:
            raise StoreError(f"shown_order must be 'AB' or 'BA', not {shown_order!r}")
        check_note(rationale, "rationale")
        with self.transaction(side_by_side=True) as conn:
            # the comparison (locked), the person, and their earlier answer: one round trip
            row = conn.execute(
                f"SELECT s.scale, s.overlap, c.n_judgments, c.is_gold, {self._MODEL_JUDGE},"
                " (SELECT id FROM judgments WHERE comparison_id = :c AND annotator_id = :a),"
                " (SELECT count(*) FROM passes WHERE comparison_id = :c AND annotator_id = :a)"
                " FROM comparisons c JOIN studies s ON s.id = c.study_id WHERE c.id = :c"
                + lock_row(self.backend, "c"),
                {"c": comparison_id, "a": annotator_id},
            ).fetchone()
            if row is None:
                raise StoreError(f"no comparison {comparison_id}")
            points, overlap, n, is_gold, judge, judged, passed = row
            self._check_person(judge)
            try:
                Scale(points).check(score)
            except ValueError as e:
                raise StoreError(str(e)) from None
            if judged is not None:
                return Recorded("duplicate", judged)
            if passed:
                self._drop_lease(conn, comparison_id, annotator_id)
                return Recorded("duplicate")
            if not is_gold and n >= overlap:
                self._drop_lease(conn, comparison_id, annotator_id)
                return Recorded("full")
            (judgment_id,) = conn.execute(
                "INSERT INTO judgments (comparison_id, annotator_id, score, shown_order, rationale,"
                " seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [
                    comparison_id,
                    annotator_id,
                    int(score),
                    shown_order,
                    rationale or "",
                    seconds,
                    now_iso(),
                ],
            ).fetchone()
            conn.execute_later(
                "UPDATE comparisons SET n_judgments = n_judgments + 1,"
                f" is_open = {flag('n_judgments + 1 < ?')} WHERE id = ?",
                [overlap, comparison_id],
            )
            self._drop_lease(conn, comparison_id, annotator_id)
            return Recorded("stored", judgment_id)

    @retried
    def record_pass(
        self, comparison_id: int, annotator_id: int, *, reason: str = "skip", note: str = ""
    ) -> Recorded:
        """Skip or flag (``unsafe``, ``broken``, ``unanswerable``) a comparison for this annotator.

        A pass does not count towards the overlap; the annotator is not shown the item again.
        A person gives one answer per comparison: a pass after their judgment (a stale second
        tab) is a ``duplicate`` and changes nothing, as is a judgment after their pass.
        """
        if reason not in PASS_REASONS:
            raise StoreError(f"reason must be one of {PASS_REASONS}, not {reason!r}")
        check_note(note, "note")
        with self.transaction(side_by_side=True) as conn:
            judged = conn.execute(
                "SELECT id FROM judgments WHERE comparison_id = ? AND annotator_id = ?",
                [comparison_id, annotator_id],
            ).fetchone()
            if judged is not None:
                self._drop_lease(conn, comparison_id, annotator_id)
                return Recorded("duplicate", judged[0])
            cursor = conn.execute(
                "INSERT INTO passes (comparison_id, annotator_id, reason, note, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (comparison_id, annotator_id) DO NOTHING",
                [comparison_id, annotator_id, reason, note or "", now_iso()],
            )
            self._drop_lease(conn, comparison_id, annotator_id)
        return Recorded("stored" if cursor.rowcount else "duplicate")

    @staticmethod
    def _drop_lease(conn: Connection, comparison_id: int, annotator_id: int) -> None:
        conn.execute_later(
            "DELETE FROM leases WHERE comparison_id = ? AND annotator_id = ?",
            [comparison_id, annotator_id],
        )
