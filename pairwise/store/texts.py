"""Prompts, responses and per-response scores: the texts that comparisons are made of.

Imports write them in a few queries per file (``executemany``, ids asked for 500 at a time), and an
id stored again with other content is refused rather than overwritten, with one exception: a
placeholder (stored for judgments imported without their texts) gives way to the real text, and
a study whose texts are then all real is offered for annotation again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..lazy import LazyModule
from .base import StoreBase
from .connection import Connection
from .records import (
    DuplicateConflict,
    Prompt,
    StoreError,
    content_hash,
    is_placeholder_prompt,
    is_placeholder_response,
    now_iso,
)

if TYPE_CHECKING:  # the data stack is imported by the first frame a store builds
    import pandas as pd
else:
    pd = LazyModule("pandas")


class TextsMixin(StoreBase):
    """Prompts, responses and the scores of responses."""

    def add_prompts(self, prompts: Iterable[Prompt | dict[str, Any]]) -> tuple[int, int]:
        """Insert prompts; an id already stored with the same content is skipped.

        Returns ``(inserted, unchanged)``; a prompt that replaces a placeholder counts as
        inserted. An id stored with different content (not a placeholder) raises
        :class:`DuplicateConflict` and, inside the caller's transaction, writes nothing.
        """
        inserted = unchanged = filled = 0
        created = now_iso()
        with self.transaction() as conn:
            for item in prompts:
                p = item if isinstance(item, Prompt) else Prompt(**item)
                digest = content_hash([p.category, p.messages, p.tags])
                old = conn.execute(
                    "SELECT content_hash FROM prompts WHERE id = ?", [p.id]
                ).fetchone()
                if old is not None and old[0] == digest:
                    unchanged += 1
                    continue
                if old is not None and not self._placeholder_prompt(conn, p.id):
                    raise DuplicateConflict(f"prompt {p.id!r} is already stored with other content")
                values = [
                    p.category,
                    json.dumps(p.messages, ensure_ascii=False),
                    json.dumps(p.tags, ensure_ascii=False),
                    p.turns,
                    digest,
                ]
                if old is None:
                    conn.execute(
                        "INSERT INTO prompts (category, messages, tags, turns, content_hash,"
                        " id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [*values, p.id, created],
                    )
                else:
                    conn.execute(
                        "UPDATE prompts SET category = ?, messages = ?, tags = ?, turns = ?,"
                        " content_hash = ? WHERE id = ?",
                        [*values, p.id],
                    )
                    filled += 1
                inserted += 1
            if filled:
                self.mark_read_only_studies()
        return inserted, unchanged

    @staticmethod
    def _placeholder_prompt(conn: Connection, prompt_id: str) -> bool:
        """Whether the stored prompt ``prompt_id`` is a placeholder that a real text may replace."""
        row = conn.execute("SELECT messages FROM prompts WHERE id = ?", [prompt_id]).fetchone()
        return is_placeholder_prompt(json.loads(row[0]))

    def add_responses(self, responses: Iterable[tuple[str, str, str]]) -> tuple[int, int]:
        """Insert ``(prompt_id, model, content)`` rows; same rules as :meth:`add_prompts`.

        The stored responses of the rows' prompts are read in a few queries and the new rows
        written with one ``executemany``, so that a large import costs no query per row. A
        response that replaces a placeholder counts as inserted.
        """
        rows = list(responses)
        inserted = unchanged = 0
        fills = []
        created = now_iso()
        with self.transaction() as conn:
            prompt_ids = list(dict.fromkeys(r[0] for r in rows))
            known = {
                row[0] for row in self._where_in(conn, "SELECT id FROM prompts", "id", prompt_ids)
            }
            stored = {
                (row[0], row[1]): row[2]
                for row in self._where_in(
                    conn,
                    "SELECT prompt_id, model, content_hash FROM responses",
                    "prompt_id",
                    prompt_ids,
                )
            }
            new = []
            for prompt_id, model, content in rows:
                digest = content_hash(content)
                old = stored.get((prompt_id, model))
                if old == digest:
                    unchanged += 1
                    continue
                if old is not None and not is_placeholder_response(old):
                    raise DuplicateConflict(
                        f"a response of {model!r} to prompt {prompt_id!r} is already stored"
                        " with other content"
                    )
                if prompt_id not in known:
                    raise StoreError(f"unknown prompt id {prompt_id!r}")
                stored[prompt_id, model] = digest
                if old is None:
                    new.append((prompt_id, model, content, len(content), digest, created))
                else:
                    fills.append((content, len(content), digest, prompt_id, model))
                inserted += 1
            conn.executemany(
                "INSERT INTO responses (prompt_id, model, content, chars, content_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                new,
            )
            if fills:
                conn.executemany(
                    "UPDATE responses SET content = ?, chars = ?, content_hash = ?"
                    " WHERE prompt_id = ? AND model = ?",
                    fills,
                )
                self.mark_read_only_studies()
        return inserted, unchanged

    @staticmethod
    def _where_in(
        conn: Connection, select: str, column: str, values: Sequence[Any]
    ) -> Iterator[tuple]:
        """Rows of ``select`` whose ``column`` is one of ``values``, asked for 500 at a time."""
        for start in range(0, len(values), 500):
            chunk = list(values[start : start + 500])
            yield from conn.execute(
                f"{select} WHERE {column} IN ({', '.join('?' * len(chunk))})", chunk
            )

    def response_ids(self) -> dict[tuple[str, str], int]:
        """Every stored response's id by ``(prompt_id, model)``."""
        rows = self.conn.execute("SELECT prompt_id, model, id FROM responses")
        return {(prompt_id, model): rid for prompt_id, model, rid in rows}

    def response_hashes(self) -> dict[tuple[str, str], str]:
        """``(prompt_id, model)`` to the content hash of every stored response.

        An import checks a whole file against it before writing, so that it can report every
        conflicting duplicate with its line instead of stopping at the first.
        """
        rows = self.conn.execute("SELECT prompt_id, model, content_hash FROM responses")
        return {(p, m): h for p, m, h in rows}

    def add_scores(self, scores: Iterable[tuple[str, str, str, float]]) -> tuple[int, int]:
        """Insert ``(prompt_id, model, scorer, score)`` rows; returns ``(inserted, unchanged)``.

        A response a scorer already scored the same is skipped; with another score it raises
        :class:`DuplicateConflict`, and an unknown response :class:`StoreError` (inside the
        caller's transaction, nothing is written).
        """
        inserted = unchanged = 0
        created = now_iso()
        with self.transaction() as conn:
            ids = self.response_ids()
            for prompt_id, model, scorer, score in scores:
                rid = ids.get((prompt_id, model))
                if rid is None:
                    raise StoreError(f"no response of {model!r} to prompt {prompt_id!r}")
                old = conn.execute(
                    "SELECT score FROM scores WHERE response_id = ? AND scorer = ?", [rid, scorer]
                ).fetchone()
                if old is not None:
                    if old[0] != score:
                        raise DuplicateConflict(
                            f"{scorer!r} already scored the response of {model!r} to prompt "
                            f"{prompt_id!r} as {old[0]!r}"
                        )
                    unchanged += 1
                    continue
                conn.execute(
                    "INSERT INTO scores (response_id, scorer, score, created_at) VALUES (?, ?, ?, ?)",
                    [rid, scorer, score, created],
                )
                inserted += 1
        return inserted, unchanged

    def scores_frame(self) -> pd.DataFrame:
        """Scores of responses, one row each: prompt_id, model, scorer, score."""
        return self.frame(
            "SELECT r.prompt_id, r.model, s.scorer, s.score FROM scores s"
            " JOIN responses r ON r.id = s.response_id ORDER BY s.scorer, r.prompt_id, r.model"
        )

    def prompt_ids(self, categories: Iterable[str] | None = None) -> set[str]:
        """Every stored prompt id, or those in ``categories``."""
        rows = self.conn.execute("SELECT id, category FROM prompts")
        wanted = None if categories is None else set(categories)
        return {r[0] for r in rows if wanted is None or r[1] in wanted}

    def categories(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT category FROM prompts ORDER BY 1")]

    PROMPT_COLUMNS = "p.id, p.category, p.messages, p.tags, p.turns"
    """The columns of ``prompts p`` that :meth:`prompt_from_row` reads, in its order."""

    def get_prompt(self, prompt_id: str) -> Prompt:
        row = self.conn.execute(
            f"SELECT {self.PROMPT_COLUMNS} FROM prompts p WHERE p.id = ?", [prompt_id]
        ).fetchone()
        if row is None:
            raise StoreError(f"unknown prompt id {prompt_id!r}")
        return self.prompt_from_row(row)

    @staticmethod
    def prompt_from_row(row: Sequence[Any]) -> Prompt:
        """A prompt from :attr:`PROMPT_COLUMNS`, as another query read them alongside."""
        return Prompt(row[0], row[1], json.loads(row[2]), json.loads(row[3]), row[4])

    def models(self) -> list[str]:
        """Every model with at least one stored response."""
        return [
            r[0] for r in self.conn.execute("SELECT DISTINCT model FROM responses ORDER BY model")
        ]
