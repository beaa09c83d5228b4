"""Annotators, their invite tokens and their browser sessions.

A person (``judge_kind="human"``) signs in and is assigned work; a model judge is a name that
imported verdicts belong to. Tokens and sessions are stored as hashes only: the secrets never reach
the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..lazy import LazyModule
from .base import StoreBase
from .records import JUDGE_KINDS, ROLES, Annotator, StoreError, now_iso

if TYPE_CHECKING:  # the data stack is imported by the first frame a store builds
    import pandas as pd
else:
    pd = LazyModule("pandas")

_ANNOTATOR_COLUMNS = "id, name, role, email, excluded, judge_kind"


def _annotator_from(row: Sequence[Any]) -> Annotator:
    return Annotator(row[0], row[1], row[2], row[3], bool(row[4]), row[5])


class PeopleMixin(StoreBase):
    """Annotators, tokens and sessions."""

    def add_annotator(
        self,
        name: str,
        *,
        role: str = "annotator",
        email: str | None = None,
        judge_kind: str = "human",
    ) -> Annotator:
        """Add a person (``judge_kind="human"``) or an automatic judge (``"model"``, by its name)."""
        if role not in ROLES:
            raise StoreError(f"role must be one of {ROLES}, not {role!r}")
        if judge_kind not in JUDGE_KINDS:
            raise StoreError(f"judge kind must be one of {JUDGE_KINDS}, not {judge_kind!r}")
        if judge_kind == "model" and (role != "annotator" or email):
            raise StoreError(f"model judge {name!r} cannot be an admin or have an e-mail")
        if not name.strip():
            raise StoreError("an annotator needs a name")
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM annotators WHERE name = ?", [name]).fetchone():
                raise StoreError(f"an annotator named {name!r} exists already")
            conn.execute(
                "INSERT INTO annotators (name, role, email, created_at, judge_kind)"
                " VALUES (?, ?, ?, ?, ?)",
                [name, role, email, now_iso(), judge_kind],
            )
        return self.get_annotator(name)

    def ensure_annotator(
        self, name: str, *, role: str = "annotator", judge_kind: str = "human"
    ) -> Annotator:
        """The annotator called ``name``, created with ``role`` and ``judge_kind`` if new.

        An existing one of the other judge kind is an error: a person and a model judge never
        share a name, so that every judgment keeps its kind.
        """
        try:
            found = self.get_annotator(name)
        except StoreError:
            try:
                return self.add_annotator(name, role=role, judge_kind=judge_kind)
            except StoreError:  # created meanwhile by another process
                found = self.get_annotator(name)
        if found.judge_kind != judge_kind:
            raise StoreError(
                f"{name!r} is stored as a {found.judge_kind} judge, not a {judge_kind} one"
            )
        return found

    def _annotator(self, where: str, value: Any) -> Annotator | None:
        row = self.conn.execute(
            f"SELECT {_ANNOTATOR_COLUMNS} FROM annotators WHERE {where} = ?", [value]
        ).fetchone()
        return None if row is None else _annotator_from(row)

    def get_annotator(self, name_or_id: str | int) -> Annotator:
        found = self._annotator("id" if isinstance(name_or_id, int) else "name", name_or_id)
        if found is None:
            raise StoreError(f"no annotator {name_or_id!r}")
        return found

    def annotator_by_email(self, email: str) -> Annotator | None:
        return self._annotator("lower(email)", email.strip().lower())

    def annotators(self, judge_kind: str | None = None) -> list[Annotator]:
        """Everyone who judged or may judge; only people (``"human"``) or model judges (``"model"``)."""
        where, params = ("", []) if judge_kind is None else (" WHERE judge_kind = ?", [judge_kind])
        rows = self.conn.execute(
            f"SELECT {_ANNOTATOR_COLUMNS} FROM annotators{where} ORDER BY id", params
        ).fetchall()
        return [_annotator_from(r) for r in rows]

    def set_excluded(self, name_or_id: str | int, excluded: bool = True) -> None:
        """Leave an annotator's judgments out of reports and exports; they stay stored."""
        a = self.get_annotator(name_or_id)
        with self.transaction() as conn:
            conn.execute("UPDATE annotators SET excluded = ? WHERE id = ?", [int(excluded), a.id])

    def add_token(self, annotator_id: int, token_hash: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO tokens (token_hash, annotator_id, created_at) VALUES (?, ?, ?)",
                [token_hash, annotator_id, now_iso()],
            )

    def annotator_for_token(self, token_hash: str) -> Annotator | None:
        """The annotator a live (not revoked) token hash belongs to."""
        row = self.conn.execute(
            "SELECT annotator_id FROM tokens WHERE token_hash = ? AND revoked_at IS NULL",
            [token_hash],
        ).fetchone()
        return None if row is None else self.get_annotator(int(row[0]))

    def revoke_tokens(self, annotator_id: int) -> int:
        """Revoke every live token of an annotator, which ends every browser session opened with
        them (see :meth:`annotator_for_session`); returns how many tokens were live."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE annotator_id = ? AND revoked_at IS NULL",
                [now_iso(), annotator_id],
            )
        return cursor.rowcount

    def add_session(self, session_hash: str, token_hash: str, days: float) -> None:
        """Remember a browser session opened with the live link ``token_hash`` for ``days``."""
        now = datetime.now(timezone.utc)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO sessions (session_hash, token_hash, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                [
                    session_hash,
                    token_hash,
                    now.isoformat(timespec="milliseconds"),
                    (now + timedelta(days=days)).isoformat(timespec="milliseconds"),
                ],
            )

    def annotator_for_session(self, session_hash: str) -> Annotator | None:
        """Whom a browser session belongs to while it is neither ended nor expired and the link
        it was opened with is not revoked."""
        row = self.conn.execute(
            "SELECT t.annotator_id FROM sessions s JOIN tokens t USING (token_hash)"
            " WHERE s.session_hash = ? AND s.ended_at IS NULL AND s.expires_at > ?"
            " AND t.revoked_at IS NULL",
            [session_hash, now_iso()],
        ).fetchone()
        return None if row is None else self.get_annotator(int(row[0]))

    def end_session(self, session_hash: str) -> bool:
        """Sign one browser session out; whether it was still open."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL",
                [now_iso(), session_hash],
            )
        return cursor.rowcount > 0

    def token_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM tokens").fetchone()[0]

    def annotators_frame(self) -> pd.DataFrame:
        """Annotators with their live and revoked invite tokens and judgment counts: the people list.

        Model judges are not people: they are left out.
        """
        return self.frame(
            "SELECT a.id, a.name, a.role, a.email, a.excluded,"
            " (SELECT count(*) FROM tokens t WHERE t.annotator_id = a.id"
            "   AND t.revoked_at IS NULL) AS live_tokens,"
            " (SELECT count(*) FROM tokens t WHERE t.annotator_id = a.id"
            "   AND t.revoked_at IS NOT NULL) AS revoked_tokens,"
            " (SELECT count(*) FROM judgments j WHERE j.annotator_id = a.id) AS judgments,"
            " a.created_at FROM annotators a WHERE a.judge_kind = 'human' ORDER BY a.id"
        ).astype({"excluded": bool})
