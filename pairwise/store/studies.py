"""Studies and their comparisons: creating, changing, setting apart and removing them.

A study made here pairs every prompt that both models of a pair answered; one registered for
judgments made elsewhere (:meth:`StudiesMixin.add_study`) holds only the judged comparisons.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..lazy import LazyModule
from ..scales import Scale
from .assignment import AssignmentMixin
from .dialect import flag
from .progress import ProgressMixin
from .records import Assignment, StoreError, Study, now_iso

if TYPE_CHECKING:  # the data stack is imported by the first frame a store builds
    import pandas as pd
else:
    pd = LazyModule("pandas")


def _check_study_settings(scale: int, overlap: int, gold_rate: float) -> None:
    Scale(scale)
    if overlap < 1:
        raise StoreError("overlap must be at least 1")
    if not 0 <= gold_rate <= 1:
        raise StoreError("gold_rate must lie between 0 and 1")


class StudiesMixin(AssignmentMixin, ProgressMixin):
    """Studies, their settings and their comparisons."""

    def create_study(
        self,
        name: str,
        *,
        pairs: Sequence[tuple[str, str]],
        overlap: int = 3,
        scale: int = 7,
        question: str = "Which response is more helpful?",
        guidelines: str = "",
        gold_rate: float = 0.0,
        pair_plan: dict[str, Any] | None = None,
        prompt_ids: Iterable[str] | None = None,
        seed: int | None = None,
        adaptive: bool = False,
    ) -> Study:
        """Create a study with one comparison per prompt and model pair that both models answered.

        ``pairs`` are ``(model_a, model_b)``; A/B is a fixed orientation for analysis, not the side
        shown (that is drawn per annotator). Comparisons are handed out in a random order drawn
        from ``seed``; an ``adaptive`` study hands out the least settled pair's first
        (see :meth:`next_comparison`).
        """
        _check_study_settings(scale, overlap, gold_rate)
        if not pairs:
            raise StoreError("a study needs at least one model pair")
        models = sorted({m for pair in pairs for m in pair})
        known = set(self.models())
        missing = [m for m in models if m not in known]
        if missing:
            raise StoreError(f"no responses stored for model(s): {', '.join(missing)}")
        for a, b in pairs:
            if a == b:
                raise StoreError(f"a pair needs two different models, not {a!r} twice")
        wanted = None if prompt_ids is None else set(prompt_ids)
        rng = random.Random(seed)
        with self.transaction() as conn:
            study_id = self._insert_study(
                name,
                question=question,
                guidelines=guidelines,
                scale=scale,
                overlap=overlap,
                models=models,
                pair_plan=pair_plan or {"kind": "list", "pairs": [list(p) for p in pairs]},
                gold_rate=gold_rate,
                adaptive=adaptive,
            )
            rows = []
            for a, b in pairs:
                pair_id = conn.execute(
                    "INSERT INTO study_pairs (study_id, model_a, model_b) VALUES (?, ?, ?)"
                    " RETURNING id",
                    [study_id, a, b],
                ).fetchone()[0]
                rows += [(*row, pair_id) for row in self._pair_rows([(a, b)], wanted)]
            if not rows:
                raise StoreError("no prompt has responses from both models of any pair")
            keys = rng.sample(range(len(rows) * 4), len(rows))
            conn.executemany(
                "INSERT INTO comparisons (study_id, prompt_id, response_a, response_b, sort_key,"
                " pair_id) VALUES (?, ?, ?, ?, ?, ?)",
                [(study_id, *row[:3], k, row[3]) for row, k in zip(rows, keys, strict=True)],
            )
        return self.get_study(name)

    def _insert_study(
        self,
        name: str,
        *,
        question: str,
        guidelines: str,
        scale: int,
        overlap: int,
        models: Sequence[str],
        pair_plan: dict[str, Any],
        gold_rate: float,
        adaptive: bool = False,
    ) -> int:
        """Insert the study row (inside the caller's transaction); a taken name is refused."""
        if self.conn.execute("SELECT 1 FROM studies WHERE name = ?", [name]).fetchone():
            raise StoreError(f"a study named {name!r} exists already")
        (study_id,) = self.conn.execute(
            "INSERT INTO studies (name, question, guidelines, scale, overlap, models, pair_plan,"
            " gold_rate, created_at, adaptive) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [
                name,
                question,
                guidelines,
                scale,
                overlap,
                json.dumps(list(models)),
                json.dumps(pair_plan),
                gold_rate,
                now_iso(),
                int(adaptive),
            ],
        ).fetchone()
        return study_id

    def _pair_rows(
        self, pairs: Sequence[tuple[str, str]], prompt_ids: set[str] | None
    ) -> list[tuple[str, int, int]]:
        """``(prompt_id, response_a, response_b)`` for each prompt both models of a pair answered."""
        rows = []
        for a, b in pairs:
            found = self.conn.execute(
                "SELECT ra.prompt_id, ra.id, rb.id FROM responses ra"
                " JOIN responses rb ON rb.prompt_id = ra.prompt_id AND rb.model = ?"
                " WHERE ra.model = ? ORDER BY ra.prompt_id",
                [b, a],
            ).fetchall()
            rows.extend(r for r in found if prompt_ids is None or r[0] in prompt_ids)
        return rows

    def count_comparisons(
        self, pairs: Sequence[tuple[str, str]], prompt_ids: Iterable[str] | None = None
    ) -> int:
        """How many comparisons :meth:`create_study` would make, to show before creating."""
        return len(self._pair_rows(pairs, None if prompt_ids is None else set(prompt_ids)))

    def _study_from_row(self, row: Sequence[Any]) -> Study:
        return Study(
            id=row[0],
            name=row[1],
            question=row[2],
            guidelines=row[3],
            scale=Scale(row[4]),
            overlap=row[5],
            models=json.loads(row[6]),
            pair_plan=json.loads(row[7]),
            gold_rate=row[8],
            created_at=row[9],
            adaptive=bool(row[10]),
            demo=bool(row[11]),
            set_apart_at=row[12],
            read_only=bool(row[13]),
        )

    _STUDY_COLUMNS = (
        "id, name, question, guidelines, scale, overlap, models, pair_plan, gold_rate, created_at,"
        " adaptive, demo, set_apart_at, read_only"
    )

    def get_study(self, name_or_id: str | int) -> Study:
        column = "id" if isinstance(name_or_id, int) else "name"
        row = self.conn.execute(
            f"SELECT {self._STUDY_COLUMNS} FROM studies WHERE {column} = ?", [name_or_id]
        ).fetchone()
        if row is None:
            raise StoreError(f"no study {name_or_id!r}")
        return self._study_from_row(row)

    def studies(self, *, include_set_apart: bool = True) -> list[Study]:
        """Every study, oldest first; ``include_set_apart=False`` leaves set-apart ones out (what
        annotators, reports and Progress see by default)."""
        where = "" if include_set_apart else " WHERE set_apart_at IS NULL"
        rows = self.conn.execute(
            f"SELECT {self._STUDY_COLUMNS} FROM studies{where} ORDER BY id"
        ).fetchall()
        return [self._study_from_row(r) for r in rows]

    def drop_set_apart(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of a frame with a ``study`` column (judgments, scores) outside set-apart
        studies: what views over every study show by default."""
        apart = [s.name for s in self.studies() if s.set_apart]
        if not apart or frame.empty:
            return frame
        return frame[~frame["study"].isin(apart)].reset_index(drop=True)

    def mark_demo(self, name_or_id: str | int) -> Study:
        """Mark a study as the demo, to be set apart when sign-in turns on."""
        study = self.get_study(name_or_id)
        with self.transaction() as conn:
            conn.execute("UPDATE studies SET demo = 1 WHERE id = ?", [study.id])
        return self.get_study(study.id)

    def set_apart(self, name_or_id: str | int, apart: bool = True) -> Study:
        """Set a study apart (``apart=False`` puts it back). Nothing is deleted: a set-apart study
        is no longer handed out, and views over all studies leave it out unless asked for it."""
        study = self.get_study(name_or_id)
        if study.set_apart != apart:
            with self.transaction() as conn:
                conn.execute(
                    "UPDATE studies SET set_apart_at = ? WHERE id = ?",
                    [now_iso() if apart else None, study.id],
                )
        return self.get_study(study.id)

    def remove_study(self, name_or_id: str | int, *, unused_texts: bool = False) -> dict[str, int]:
        """Delete a set-apart study with everything that refers to it (comparisons, judgments,
        passes, leases...), in one transaction; returns the rows removed per table.

        A study in use must be set apart first: removing judgments cannot be undone. Prompts and
        responses stay unless ``unused_texts``: then those of the study's that no other study
        compares go too (the demo's, whose files can seed them again).
        """
        with self.transaction() as conn:
            study = self.get_study(name_or_id)
            if not study.set_apart:
                raise StoreError(
                    f"study {study.name!r} is in use: set it apart first, then remove it"
                )
            prompts = [
                row[0]
                for row in conn.execute(
                    "SELECT DISTINCT prompt_id FROM comparisons WHERE study_id = ?", [study.id]
                )
            ]
            removed = self._delete_with_dependents("studies", "id = ?", [study.id])
            if unused_texts:
                # the study's prompts that no comparison uses any more, with their responses
                still_used = {row[0] for row in conn.execute("SELECT prompt_id FROM comparisons")}
                unused = [p for p in prompts if p not in still_used]
                removed["responses"] = removed["prompts"] = 0
                for start in range(0, len(unused), 500):
                    chunk = unused[start : start + 500]
                    marks = ", ".join("?" * len(chunk))
                    for table, column in (("responses", "prompt_id"), ("prompts", "id")):
                        removed[table] += conn.execute(
                            f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk
                        ).rowcount
        return {table: count for table, count in removed.items() if count}

    def _delete_with_dependents(
        self, table: str, where: str, params: Sequence[Any]
    ) -> dict[str, int]:
        """Delete ``table`` rows matching ``where`` after every row that refers to them by a
        foreign key, found in the schema itself (so tables added later are covered too)."""
        removed: dict[str, int] = {}
        for child, column, parent_column in self._foreign_keys_to(table):
            sub_where = f"{column} IN (SELECT {parent_column} FROM {table} WHERE {where})"
            for name, count in self._delete_with_dependents(child, sub_where, params).items():
                removed[name] = removed.get(name, 0) + count
        count = self.conn.execute(f"DELETE FROM {table} WHERE {where}", params).rowcount
        removed[table] = removed.get(table, 0) + count
        return removed

    def _foreign_keys_to(self, table: str) -> list[tuple[str, str, str]]:
        """``(child table, its column, the referenced column)`` for each key referring to ``table``."""
        return [
            (child, column, parent_column)
            for child, column, parent, parent_column in self.conn.foreign_keys()
            if parent == table
        ]

    def study_to_annotate(self, annotator_id: int) -> Study | None:
        """The study an annotator starts on: the oldest (not set apart) with something left for
        them to rate, else the oldest (``None`` without studies). A study created later does not
        take over people who are still working through an earlier one. Read-only studies
        (imported without texts) are never annotated."""
        studies = [s for s in self.studies(include_set_apart=False) if not s.read_only]
        for study in studies:
            if self.annotator_progress(study, annotator_id)["available"] > 0:
                return study
        return studies[0] if studies else None

    def update_study(
        self,
        name_or_id: str | int,
        *,
        question: str | None = None,
        guidelines: str | None = None,
        overlap: int | None = None,
        gold_rate: float | None = None,
        adaptive: bool | None = None,
    ) -> Study:
        """Change a study's settings; a new overlap reopens or closes comparisons to match."""
        study = self.get_study(name_or_id)
        changes: dict[str, Any] = {}
        if question is not None:
            changes["question"] = question
        if guidelines is not None:
            changes["guidelines"] = guidelines
        if overlap is not None:
            if overlap < 1:
                raise StoreError("overlap must be at least 1")
            changes["overlap"] = overlap
        if gold_rate is not None:
            if not 0 <= gold_rate <= 1:
                raise StoreError("gold_rate must lie between 0 and 1")
            changes["gold_rate"] = gold_rate
        if adaptive is not None:
            changes["adaptive"] = int(adaptive)
        with self.transaction() as conn:
            for column, value in changes.items():
                conn.execute(f"UPDATE studies SET {column} = ? WHERE id = ?", [value, study.id])
            if overlap is not None:
                conn.execute(
                    f"UPDATE comparisons SET is_open = {flag('n_judgments < ?')} WHERE study_id = ?",
                    [overlap, study.id],
                )
        return self.get_study(study.id)

    def set_gold(self, comparison_id: int, gold_score: int | None) -> None:
        """Mark a comparison as a gold check with a known answer (``None`` unmarks it)."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT s.scale FROM comparisons c JOIN studies s ON s.id = c.study_id WHERE c.id = ?",
                [comparison_id],
            ).fetchone()
            if row is None:
                raise StoreError(f"no comparison {comparison_id}")
            if gold_score is not None:
                Scale(row[0]).check(gold_score)
            conn.execute(
                "UPDATE comparisons SET is_gold = ?, gold_score = ? WHERE id = ?",
                [int(gold_score is not None), gold_score, comparison_id],
            )

    def comparisons_frame(self, study: str | int) -> pd.DataFrame:
        """One row per comparison of a study, with model names: for admins and set-up pages."""
        s = self.get_study(study)
        return self.frame(
            "SELECT c.id AS comparison_id, c.prompt_id, p.category, ra.model AS model_a,"
            " rb.model AS model_b, c.is_gold, c.gold_score, c.n_judgments"
            " FROM comparisons c JOIN prompts p ON p.id = c.prompt_id"
            " JOIN responses ra ON ra.id = c.response_a JOIN responses rb ON rb.id = c.response_b"
            " WHERE c.study_id = ? ORDER BY c.id",
            [s.id],
        )

    def get_comparison(self, comparison_id: int) -> Assignment:
        """A comparison with its prompt and both texts, model A on the left: for admins' pages."""
        found = self._assignment(self.conn, comparison_id, "AB")
        if found is None:
            raise StoreError(f"no comparison {comparison_id}")
        return found

    def add_study(
        self,
        name: str,
        *,
        scale: int,
        overlap: int,
        models: Sequence[str],
        pair_plan: dict[str, Any],
        question: str = "Which response is better?",
        guidelines: str = "",
        gold_rate: float = 0.0,
    ) -> Study:
        """Register a study without generating comparisons.

        For judgments made elsewhere, whose comparisons are the judged ones
        (:meth:`add_comparisons`), not every prompt that both models answered.
        """
        _check_study_settings(scale, overlap, gold_rate)
        with self.transaction():
            study_id = self._insert_study(
                name,
                question=question,
                guidelines=guidelines,
                scale=scale,
                overlap=overlap,
                models=sorted(set(models)),
                pair_plan=pair_plan,
                gold_rate=gold_rate,
            )
        return self.get_study(study_id)

    def add_comparisons(
        self, study_id: int, items: Iterable[tuple[str, str, str]], *, seed: int | None = None
    ) -> list[tuple[int, bool]]:
        """Find or create the comparison for each ``(prompt_id, model_a, model_b)`` of a study.

        Returns ``(comparison_id, flipped)`` per item; ``flipped`` is true when the study holds the
        two responses the other way round, so that the caller can orient its scores to the stored
        model A (one comparison per pair and prompt, whatever order the records name them in).
        New models join the study's model list.
        """
        rng = random.Random(seed)
        items = list(items)
        with self.transaction() as conn:
            study = self.get_study(study_id)
            models = set(study.models)
            prompt_ids = list(dict.fromkeys(item[0] for item in items))
            response_ids = {
                (row[1], row[2]): row[0]
                for row in self._where_in(
                    conn, "SELECT id, prompt_id, model FROM responses", "prompt_id", prompt_ids
                )
            }

            def response_id(prompt_id: str, model: str) -> int:
                if (prompt_id, model) not in response_ids:
                    raise StoreError(f"no response of {model!r} to prompt {prompt_id!r}")
                return response_ids[prompt_id, model]

            def stored() -> dict[tuple[int, int], int]:
                rows = conn.execute(
                    "SELECT id, response_a, response_b FROM comparisons WHERE study_id = ?",
                    [study_id],
                )
                return {(a, b): c for c, a, b in rows}

            existing = stored()
            pairs, new = [], {}
            for prompt_id, model_a, model_b in items:
                ra, rb = response_id(prompt_id, model_a), response_id(prompt_id, model_b)
                forward = (ra, rb) in existing or (ra, rb) in new
                if not forward and ((rb, ra) in existing or (rb, ra) in new):
                    pairs.append((rb, ra, True))
                    continue
                if not forward:
                    new[ra, rb] = (study_id, prompt_id, ra, rb, rng.randrange(2**31))
                    models.update((model_a, model_b))
                pairs.append((ra, rb, False))
            conn.executemany(
                "INSERT INTO comparisons (study_id, prompt_id, response_a, response_b, sort_key)"
                " VALUES (?, ?, ?, ?, ?)",
                list(new.values()),
            )
            ids = stored() if new else existing
            out = [(ids[a, b], flipped) for a, b, flipped in pairs]
            if models != set(study.models):
                conn.execute(
                    "UPDATE studies SET models = ? WHERE id = ?",
                    [json.dumps(sorted(models)), study_id],
                )
        return out
