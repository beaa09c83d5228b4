"""Pair plans: which model pairs a study compares.

Three plans cover what studies do: every pair of the chosen models (a round robin, needed for
ratings), one baseline against each other model (how Llama 2 reported against ChatGPT), or an explicit
list. The first model of each pair is the comparison's model A.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

PLAN_KINDS = ("all", "baseline", "list")


def plan_pairs(
    models: list[str],
    kind: str = "all",
    *,
    baseline: str | None = None,
    pairs: list[tuple[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """Expand a plan into ``(model_a, model_b)`` pairs, in a stable order."""
    if kind not in PLAN_KINDS:
        raise ValueError(f"pair plan must be one of {PLAN_KINDS}, not {kind!r}")
    if kind == "list":
        if not pairs:
            raise ValueError("a 'list' plan needs at least one pair")
        out = [(str(a), str(b)) for a, b in pairs]
    else:
        unique = list(dict.fromkeys(models))
        if len(unique) < 2:
            raise ValueError("a study needs at least two different models")
        if kind == "all":
            out = list(combinations(unique, 2))
        else:
            if baseline not in unique:
                raise ValueError(f"baseline {baseline!r} is not one of the models {unique}")
            out = [(m, baseline) for m in unique if m != baseline]
    for a, b in out:
        if a == b:
            raise ValueError(f"a pair needs two different models, not {a!r} twice")
    if len(set(out)) != len(out) or len({frozenset(p) for p in out}) != len(out):
        raise ValueError("the pair list names the same pair twice")
    return out


def describe_plan(kind: str, *, baseline: str | None = None, pairs=None) -> dict[str, Any]:
    """The plan as stored with the study, so a report can say how pairs were chosen."""
    plan: dict[str, Any] = {"kind": kind}
    if kind == "baseline":
        plan["baseline"] = baseline
    if kind == "list":
        plan["pairs"] = [list(p) for p in pairs or []]
    return plan
