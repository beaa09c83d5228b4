"""Pair reports broken down by prompt category and by single- versus multi-turn prompts.

An overall win rate can hide a model that wins at writing and loses at maths; the Llama 2 report
shows its win rates per category and for single- and multi-turn prompts for this reason. The
breakdown runs the ordinary pair report (``rates.pair_rates`` by default) within each group, so a
group's numbers mean exactly what the overall numbers mean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .frame import canonical_pairs, cell, describe_row, require_columns, require_values
from .rates import grouped_pair_rates, pair_rates

TURN_KINDS = ("single-turn", "multi-turn")


def breakdown(
    frame: pd.DataFrame,
    by: str | Sequence[str],
    *,
    report: Callable[..., pd.DataFrame] = pair_rates,
    **options: Any,
) -> pd.DataFrame:
    """``report(group, **options)`` for each group of ``by``, the group's values in front.

    Pairs are oriented once over the whole frame, so a pair reads the same way in every group.
    Groups are sorted; a pair missing from a group simply has no row there. With ``pair_rates``
    (the default) every group is done in one pass by ``grouped_pair_rates``: the same numbers.
    """
    columns = [by] if isinstance(by, str) else list(by)
    require_values(frame, columns, needed_by="breakdown")
    if report is pair_rates and len(frame):
        return grouped_pair_rates(frame, columns, **options)
    oriented = canonical_pairs(frame)
    pieces = []
    for key, group in oriented.groupby(columns, sort=True, observed=True):
        result = report(group, **options)
        for position, (column, value) in enumerate(zip(columns, key, strict=True)):
            result.insert(position, column, value)
        pieces.append(result)
    if not pieces:
        empty = report(oriented.iloc[:0], **options)
        return empty.reindex(columns=columns + list(empty.columns))
    return pd.concat(pieces, ignore_index=True)


def rates_by_category(frame: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """``pair_rates`` per prompt category; ``options`` go to ``pair_rates``."""
    return breakdown(frame, "category", **options)


def rates_by_turns(frame: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """``pair_rates`` for single-turn (``turns == 1``) and multi-turn (``turns > 1``) prompts.

    The group is in a ``turn_kind`` column: ``"single-turn"`` or ``"multi-turn"``.
    """
    return breakdown(with_turn_kind(frame), "turn_kind", **options)


def with_turn_kind(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``turn_kind`` column: ``"single-turn"`` or ``"multi-turn"``."""
    require_columns(frame, ["turns"], needed_by="with_turn_kind")
    turns = pd.to_numeric(frame["turns"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~(turns >= 1))
    if bad.size:
        raise ValueError(
            f"{describe_row(frame, bad[0])}: turns is {cell(frame, 'turns', bad[0])!r}; "
            "it counts user turns, so it must be a whole number of at least 1"
        )
    kind = pd.Categorical.from_codes((turns != 1).astype(np.int8), categories=TURN_KINDS)
    return frame.assign(turn_kind=kind)
