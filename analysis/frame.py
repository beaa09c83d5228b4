"""The judgments frame: checking it, reading outcomes from it, and orienting its pairs.

Every analysis function takes the tidy one-row-per-judgment DataFrame described in
``docs/judgments-frame.md``. This module is the one place that checks its columns, turns scores or
outcome labels into signs (+1 a win for model A, 0 a tie, -1 a loss) and decides which model of a
pair is "A", so that the statistics modules can trust their input and agree with each other.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

OUTCOMES = ("win", "tie", "loss")
OUTCOME_SIGNS = {"win": 1, "tie": 0, "loss": -1}
PAIR = ["model_a", "model_b"]
PAIR_AND_PROMPT = ["model_a", "model_b", "prompt_id"]

# Columns that describe model A and model B; turning a judgment around swaps each pair.
_SWAPPED_COLUMNS = (("model_a", "model_b"), ("len_a", "len_b"), ("response_a", "response_b"))


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, needed_by: str) -> None:
    """Raise a ``ValueError`` naming the first column ``needed_by`` needs that ``frame`` lacks.

    Failing early with the column's name beats a ``KeyError`` deep inside a groupby.
    """
    for column in columns:
        if column not in frame.columns:
            present = ", ".join(map(str, frame.columns)) or "none"
            raise ValueError(
                f"{needed_by} needs column {column!r} in the judgments frame (columns present: {present})"
            )


def require_values(frame: pd.DataFrame, columns: Iterable[str], *, needed_by: str) -> None:
    """Raise a ``ValueError`` naming the first judgment with no value in one of ``columns``.

    Grouping drops rows whose key is missing, so a judgment without a prompt or a category would
    silently fall out of every count; refusing it is the only way to keep counts honest.
    """
    columns = list(columns)
    require_columns(frame, columns, needed_by=needed_by)
    for column in columns:
        missing = np.flatnonzero(frame[column].isna().to_numpy())
        if missing.size:
            raise ValueError(
                f"{describe_row(frame, missing[0])}: {column} is missing ({needed_by})"
            )


def require_outcomes(frame: pd.DataFrame, *, needed_by: str) -> None:
    """Raise a ``ValueError`` unless ``frame`` has a ``score`` or an ``outcome`` column."""
    if "score" not in frame.columns and "outcome" not in frame.columns:
        raise ValueError(
            f"{needed_by} needs column 'score' or 'outcome' in the judgments frame; it has neither"
        )


def outcome_from_score(score: pd.Series) -> pd.Series:
    """Win / tie / loss for model A from signed scores: the sign decides, the margin does not."""
    values = _checked_scores(score)
    labels = np.array(["loss", "tie", "win"])
    return pd.Series(labels[np.sign(values).astype(int) + 1], index=score.index, name="outcome")


def outcome_signs(frame: pd.DataFrame) -> np.ndarray:
    """+1 / 0 / -1 per judgment (win / tie / loss for model A), from ``score`` or ``outcome``.

    When the frame has both columns they must agree, since a report built from one and a dataset
    exported from the other would otherwise tell different stories.
    """
    require_outcomes(frame, needed_by="outcome_signs")
    from_outcome = _signs_from_outcome(frame) if "outcome" in frame.columns else None
    if "score" not in frame.columns:
        return from_outcome
    from_score = np.sign(_checked_scores(frame["score"], frame)).astype(np.int8)
    if from_outcome is not None:
        disagree = np.flatnonzero(from_score != from_outcome)
        if disagree.size:
            at = disagree[0]
            raise ValueError(
                f"{describe_row(frame, at)}: outcome {cell(frame, 'outcome', at)!r} disagrees with "
                f"score {cell(frame, 'score', at)!r} (the outcome is the sign of the score)"
            )
    return from_score


def credits(frame: pd.DataFrame, signs: np.ndarray | None = None) -> np.ndarray:
    """The probability credited to model A by each judgment: its ``p_a`` where the frame has one,
    else 1 / 0.5 / 0 for a win / tie / loss (``signs``, from :func:`outcome_signs` by default).

    Their mean is the "win + ½ tie" rate, which for soft verdicts (a weighted judge's
    probabilities) is AlpacaEval's weighted win rate. A ``p_a`` must lie in [0, 1] and lean the
    way the judgment's outcome does.
    """
    signs = outcome_signs(frame) if signs is None else signs
    hard = (signs + 1) / 2
    if "p_a" not in frame.columns:
        return hard
    given = frame["p_a"]
    if not pd.api.types.is_numeric_dtype(given) or pd.api.types.is_bool_dtype(given):
        raise ValueError(f"column 'p_a' must hold numbers, not {given.dtype}")
    p = given.to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(p)
    bad = np.flatnonzero(known & ((p < 0) | (p > 1) | (np.sign(p - 0.5) != signs)))
    if bad.size:
        at = bad[0]
        raise ValueError(
            f"{describe_row(frame, at)}: p_a {p[at]!r} is not a probability that leans the way"
            f" the outcome does (sign {int(signs[at])})"
        )
    return np.where(known, p, hard)


def normalize_judgments(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with both ``score`` and ``outcome``, whichever one it came with.

    Outside data often carries only win/tie/loss labels; such a frame gets scores of +1 / 0 / -1
    (a three-point view), so that every function can read either column.
    """
    signs = outcome_signs(frame)
    out = frame.copy()
    if "score" not in out.columns:
        out["score"] = signs.astype(np.int64)
    if "outcome" not in out.columns:
        out["outcome"] = np.array(["loss", "tie", "win"])[signs + 1]
    return out


def canonical_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each pair of models in one orientation, so that its judgments pool.

    A pair judged in one orientation only (the app's case: a study fixes which model is A) keeps
    it. A pair that appears both ways (imported arena data) is turned to alphabetical order, which
    does not depend on row order. Turned rows get the opposite score and outcome, ``1 - p_a``,
    swapped lengths and the opposite ``shown_order``.
    """
    require_columns(frame, PAIR, needed_by="canonical_pairs")
    codes, _ = pd.factorize(
        pd.concat([frame["model_a"], frame["model_b"]], ignore_index=True), sort=True
    )
    code_a, code_b = codes[: len(frame)], codes[len(frame) :]
    unnamed = np.flatnonzero((code_a < 0) | (code_b < 0))
    if unnamed.size:
        raise ValueError(f"{describe_row(frame, unnamed[0])}: model_a or model_b is missing")
    same = np.flatnonzero(code_a == code_b)
    if same.size:
        raise ValueError(
            f"{describe_row(frame, same[0])}: model_a and model_b are both "
            f"{cell(frame, 'model_a', same[0])!r}; a comparison needs two different models"
        )
    forward = code_a < code_b
    pair_index, _ = pd.factorize(
        np.minimum(code_a, code_b) * (codes.max(initial=0) + 1) + np.maximum(code_a, code_b)
    )
    counts = np.bincount(pair_index, minlength=pair_index.max(initial=-1) + 1)
    forward_counts = np.bincount(pair_index, weights=forward, minlength=counts.size)
    mixed = (forward_counts > 0) & (forward_counts < counts)
    return _turn(frame, mixed[pair_index] & ~forward)


def orient_judgments(frame: pd.DataFrame, model: str) -> pd.DataFrame:
    """``frame`` with ``model`` as model A in every judgment that involves it.

    For reading results from one model's point of view ("how does ours do against each rival").
    """
    require_columns(frame, PAIR, needed_by="orient_judgments")
    return _turn(frame, (frame["model_b"] == model).to_numpy())


def _turn(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """Swap A and B in the rows where ``mask`` is true, keeping every fact about them true."""
    if not mask.any():
        return frame
    out = frame.copy()
    keep = pd.Series(~mask, index=frame.index)
    for left, right in _SWAPPED_COLUMNS:
        if left in frame.columns and right in frame.columns:
            a, b = frame[left], frame[right]
            if isinstance(a.dtype, pd.CategoricalDtype) or isinstance(b.dtype, pd.CategoricalDtype):
                a, b = a.astype(str), b.astype(str)  # categories may differ between the two
            out[left] = a.where(keep, b)
            out[right] = b.where(keep, a)
    for column in ("score", "gold_score"):
        if column in frame.columns:
            out[column] = frame[column].where(keep, -frame[column])
    if "p_a" in frame.columns:
        out["p_a"] = frame["p_a"].where(keep, 1 - frame["p_a"])
    if "score_ab" in frame.columns and "score_ba" in frame.columns:
        # A shown first becomes B shown first: the orders swap, the scores turn
        out["score_ab"] = frame["score_ab"].where(keep, -frame["score_ba"])
        out["score_ba"] = frame["score_ba"].where(keep, -frame["score_ab"])
    if "outcome" in frame.columns:
        turned = frame["outcome"].map({"win": "loss", "loss": "win", "tie": "tie"})
        out["outcome"] = frame["outcome"].where(keep, turned)
    if "shown_order" in frame.columns:
        turned = frame["shown_order"].map({"AB": "BA", "BA": "AB"})
        out["shown_order"] = frame["shown_order"].where(keep, turned)
    return out


def _checked_scores(score: pd.Series, frame: pd.DataFrame | None = None) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(score) or pd.api.types.is_bool_dtype(score):
        raise ValueError(f"column 'score' must hold numbers, not {score.dtype}")
    values = score.to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        where = (
            f"row {_plain(score.index[bad[0]])!r}" if frame is None else describe_row(frame, bad[0])
        )
        raise ValueError(f"{where}: score is missing or not finite")
    return values


def _signs_from_outcome(frame: pd.DataFrame) -> np.ndarray:
    codes, labels = pd.factorize(frame["outcome"], use_na_sentinel=True)
    label_signs = []
    for label in labels:
        if label not in OUTCOME_SIGNS:
            at = int(np.flatnonzero(frame["outcome"].to_numpy() == label)[0])
            raise ValueError(
                f"{describe_row(frame, at)}: outcome {label!r} is not one of {', '.join(OUTCOMES)}"
            )
        label_signs.append(OUTCOME_SIGNS[label])
    missing = np.flatnonzero(codes < 0)
    if missing.size:
        raise ValueError(f"{describe_row(frame, missing[0])}: outcome is missing")
    return np.asarray(label_signs, dtype=np.int8)[codes]


def describe_row(frame: pd.DataFrame, position: int) -> str:
    """How an error names the judgment at ``position``: its ``judgment_id``, else its row label."""
    if "judgment_id" in frame.columns:
        return f"judgment_id {cell(frame, 'judgment_id', position)!r}"
    return f"row {_plain(frame.index[position])!r}"


def cell(frame: pd.DataFrame, column: str, position: int) -> object:
    """The value at ``position`` of ``column`` as a plain Python value, for error messages."""
    return _plain(frame[column].iloc[position])


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value
