"""Human and model judges side by side: how often they agree, and whether a model judge is swayed
by the order it reads the two responses in.

Judges come in groups: every human annotator together is the group ``human`` (a judgment is human
when its ``judge_kind`` is ``"human"``, or when the frame has no ``judge_kind`` column at all); each
model judge is a group of its own, named by its ``annotator``.

Agreement follows FastChat's ``llm_judge/compute_agreement.py``, the code behind the MT-Bench paper's
Table 1 ("GPT-4 agrees with humans 66% of the time"). Votes are win / tie / loss for the pair's
first model, on items that are one prompt and one pair of models (at one turn). Between two groups,
every vote of one on an item pairs with every vote of the other on it; within the human group, every
two votes on an item pair up. A pair agrees when both votes are the same; "without ties" drops the
pairs where either vote is a tie. Shares are pooled over all pairs, not averaged over items. A model
judge that judged an item in both orders casts one vote there, as in MT-Bench's published judgments:
its verdict when both orders agree, else a tie. The chance level ("random" in the paper's table) is
one in three with ties and one half without.

Position consistency is the MT-Bench paper's Table 2: a model judge that saw a comparison in both
orders is consistent when it names the same winner (or a tie) both times; otherwise it leaned
towards the response shown first or the one shown second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .frame import canonical_pairs, outcome_signs, require_columns, require_values
from .intervals import wilson_interval

HUMAN = "human"
RANDOM = "random"
# The MT-Bench paper's chance agreement: three outcomes with ties, two without.
CHANCE_WITH_TIES = 1 / 3
CHANCE_WITHOUT_TIES = 1 / 2
AGREEMENT_COLUMNS = [
    "group_a",
    "group_b",
    "turn",
    "with_ties",
    "without_ties",
    "n_pairs_with_ties",
    "n_pairs_without_ties",
]


def judge_groups(frame: pd.DataFrame) -> pd.Series:
    """Each judgment's judge group: ``"human"`` for annotators, the judge's name for model judges."""
    if "judge_kind" not in frame.columns:
        return pd.Series(HUMAN, index=frame.index, name="group", dtype=object)
    kind = frame["judge_kind"].astype(object)
    unknown = ~kind.isin(["human", "model"])
    if unknown.any():
        at = frame.index[unknown.to_numpy()][0]
        raise ValueError(f"row {at!r}: judge_kind {kind[at]!r} is not 'human' or 'model'")
    is_model = (kind == "model").to_numpy()
    if is_model.any():
        require_columns(frame, ["annotator"], needed_by="judge_groups")
    names = frame["annotator"].astype(object) if "annotator" in frame.columns else HUMAN
    return pd.Series(np.where(is_model, names, HUMAN), index=frame.index, name="group")


def agreement_between(frame: pd.DataFrame) -> pd.DataFrame:
    """Agreement with and without ties for every two judge groups, per turn and over all turns.

    One row per pair of groups that share at least one vote pair (the ``human`` group with itself
    included), first per turn when the frame has a ``turns`` column, then over all turns (``turn``
    missing), and last the chance level as a row whose groups are ``"random"`` and whose pair counts
    are missing. Columns: group_a, group_b, turn, with_ties, without_ties, n_pairs_with_ties,
    n_pairs_without_ties. Groups run ``human`` first, then model judges by name.
    """
    votes = _votes(frame)
    rows = []
    if "turn" in votes.columns:
        for turn, at_turn in votes.groupby("turn", sort=True):
            rows += _agreement_rows(at_turn, int(turn))
    rows += _agreement_rows(votes, None)
    table = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    chance = [RANDOM, RANDOM, None, CHANCE_WITH_TIES, CHANCE_WITHOUT_TIES, None, None]
    table = pd.concat([table, pd.DataFrame([chance], columns=AGREEMENT_COLUMNS)], ignore_index=True)
    return table.astype(
        {"turn": "Int64", "n_pairs_with_ties": "Int64", "n_pairs_without_ties": "Int64"}
    )


def position_consistency(frame: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per model judge, how often its verdict survives swapping the two responses (MT-Bench Table 2).

    A comparison counts when the judge saw it in both orders: one judgment with both ``score_ab``
    (A shown first) and ``score_ba`` (B shown first), as MT-Bench's ``g1_winner`` / ``g2_winner``
    import, or two judgments of the comparison, one shown ``AB`` and one ``BA`` (judgments whose
    ``shown_order`` is unknown are left out). Consistent: the same verdict for model A both times.
    Otherwise the judge favoured the first-shown side when its two verdicts, read as "the response
    shown first is better", lean that way on balance, and the second-shown side when they lean the
    other. Columns: judge, n, consistent, favours_first, favours_second (counts), consistency,
    favours_first_rate, favours_second_rate (shares of n), consistency_ci_low / _high (Wilson).
    Frames without ``judge_kind`` treat every annotator as a possible model judge.
    """
    require_columns(frame, ["annotator"], needed_by="position_consistency")
    if "judge_kind" in frame.columns:
        frame = frame[(frame["judge_kind"].astype(object) == "model").to_numpy()]
    both = pd.concat([_both_in_one(frame), _both_in_two(frame)], ignore_index=True)
    consistent = both["sign_ab"] == both["sign_ba"]
    # Read as "the response shown first is better": A's verdict shown AB, B's shown BA.
    lean = both["sign_ab"] - both["sign_ba"]
    per_item = pd.DataFrame(
        {
            "judge": both["judge"],
            "n": 1,
            "consistent": consistent.astype(int),
            "favours_first": (~consistent & (lean > 0)).astype(int),
            "favours_second": (~consistent & (lean < 0)).astype(int),
        }
    )
    counts = per_item.groupby("judge", sort=True).sum().reset_index()
    return _consistency_table(counts, confidence)


def _both_in_one(frame: pd.DataFrame) -> pd.DataFrame:
    """judge, sign_ab, sign_ba of judgments that carry both orders' scores."""
    if not {"score_ab", "score_ba"} <= set(frame.columns):
        return pd.DataFrame(columns=["judge", "sign_ab", "sign_ba"])
    ab = pd.to_numeric(frame["score_ab"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ba = pd.to_numeric(frame["score_ba"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    seen = ~np.isnan(ab) & ~np.isnan(ba)
    return pd.DataFrame(
        {
            "judge": frame["annotator"].astype(object).to_numpy()[seen],
            "sign_ab": np.sign(ab[seen]).astype(int),
            "sign_ba": np.sign(ba[seen]).astype(int),
        }
    )


def _both_in_two(frame: pd.DataFrame) -> pd.DataFrame:
    """judge, sign_ab, sign_ba of comparisons a judge judged twice, once in each order."""
    empty = pd.DataFrame(columns=["judge", "sign_ab", "sign_ba"])
    if "shown_order" not in frame.columns:
        return empty
    if {"score_ab", "score_ba"} <= set(frame.columns):  # those are read whole by _both_in_one
        frame = frame[frame["score_ab"].isna().to_numpy() | frame["score_ba"].isna().to_numpy()]
    frame = frame[frame["shown_order"].notna().to_numpy()]
    if len(frame) == 0:
        return empty
    orders = pd.DataFrame(
        {
            "judge": frame["annotator"].astype(object).to_numpy(),
            "item": _item_keys(frame, needed_by="position_consistency"),
            "order": frame["shown_order"].astype(object).to_numpy(),
            "sign": outcome_signs(frame),
        }
    )
    repeated = orders.duplicated(["judge", "item", "order"])
    if repeated.any():
        at = np.flatnonzero(repeated.to_numpy())[0]
        raise ValueError(
            f"judge {orders['judge'].iloc[at]!r} judged one comparison more than once in the same "
            "order; keep one judgment per order"
        )
    first, second = (
        orders[orders["order"] == order].drop(columns="order").set_index(["judge", "item"])
        for order in ("AB", "BA")
    )
    both = first.merge(second, left_index=True, right_index=True, suffixes=("_ab", "_ba"))
    return both.reset_index()[["judge", "sign_ab", "sign_ba"]]


def _consistency_table(counts: pd.DataFrame, confidence: float) -> pd.DataFrame:
    counts = counts.astype({c: np.int64 for c in counts.columns if c != "judge"})
    n = counts["n"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, column in (
            ("consistency", "consistent"),
            ("favours_first_rate", "favours_first"),
            ("favours_second_rate", "favours_second"),
        ):
            counts[name] = counts[column].to_numpy(dtype=float) / n
    low, high = wilson_interval(counts["consistent"].to_numpy(dtype=float), n, confidence)
    return counts.assign(consistency_ci_low=low, consistency_ci_high=high)


def _item_keys(frame: pd.DataFrame, *, needed_by: str) -> np.ndarray:
    """One code per item a judge rates: the comparison, else the prompt and its pair of models."""
    if "comparison_id" in frame.columns:
        require_values(frame, ["comparison_id"], needed_by=needed_by)
        return pd.factorize(frame["comparison_id"])[0]
    require_values(frame, ["prompt_id", "model_a", "model_b"], needed_by=needed_by)
    oriented = canonical_pairs(frame)
    keys = oriented[["prompt_id", "model_a", "model_b"]].astype(object)
    return keys.groupby(list(keys.columns), sort=False).ngroup().to_numpy()


def _votes(frame: pd.DataFrame) -> pd.DataFrame:
    """One vote per human judgment and per model judge and item: item, group, turn, sign.

    Items are a prompt and a pair of models read in one orientation, so that a human who judged
    the pair as (A, B) and a model judge that saw it as (B, A) vote on the same item.
    """
    require_values(frame, ["prompt_id", "model_a", "model_b"], needed_by="agreement_between")
    if len(frame) == 0:
        return pd.DataFrame(columns=["item", "group", "sign", "model_vote"])
    groups = judge_groups(frame)
    oriented = canonical_pairs(frame)
    keys = oriented[["prompt_id", "model_a", "model_b"]].astype(object)
    votes = pd.DataFrame(
        {
            "item": keys.groupby(list(keys.columns), sort=False).ngroup().to_numpy(),
            "group": groups.to_numpy(),
            "sign": outcome_signs(oriented).astype(np.int64),
            "model_vote": groups.to_numpy() != HUMAN,
        }
    )
    if "turns" in frame.columns:
        require_values(frame, ["turns"], needed_by="agreement_between")
        votes["turn"] = frame["turns"].to_numpy()
    by_model = votes[votes["model_vote"]]
    if len(by_model):
        keys = ["item", "group"] + (["turn"] if "turn" in votes.columns else [])
        combined = by_model.groupby(keys, sort=False).agg(low=("sign", "min"), high=("sign", "max"))
        # A model judge's verdicts in both orders: kept when they agree, else a tie (as MT-Bench).
        combined["sign"] = np.where(combined["low"] == combined["high"], combined["low"], 0)
        combined = combined.drop(columns=["low", "high"]).reset_index().assign(model_vote=True)
        votes = pd.concat([votes[~votes["model_vote"]], combined], ignore_index=True)
    return votes


def _agreement_rows(votes: pd.DataFrame, turn: int | None) -> list[list[object]]:
    """Agreement of every two groups from per-item vote counts (losses, ties, wins per group)."""
    if len(votes) == 0:
        return []
    counts = pd.crosstab([votes["item"], votes["group"]], votes["sign"]).reindex(
        columns=[-1, 0, 1], fill_value=0
    )
    table = counts.unstack("group", fill_value=0)  # items x (sign, group)
    names = sorted(set(votes["group"]), key=lambda g: (g != HUMAN, str(g)))
    by_group = {g: table.xs(g, axis=1, level="group").to_numpy(dtype=np.int64) for g in names}
    rows = []
    for i, a in enumerate(names):
        for b in names[i:]:
            if a == b and a != HUMAN:
                continue
            ca, cb = by_group[a], by_group[b]
            if a == b:  # every two votes of the group on one item
                agree_all = (ca * (ca - 1) // 2).sum()
                n_all = (ca.sum(axis=1) * (ca.sum(axis=1) - 1) // 2).sum()
                decided = ca[:, [0, 2]]
                agree_decided = (decided * (decided - 1) // 2).sum()
                n_decided = (decided.sum(axis=1) * (decided.sum(axis=1) - 1) // 2).sum()
            else:  # every vote of one group with every vote of the other on the same item
                agree_all = (ca * cb).sum()
                n_all = (ca.sum(axis=1) * cb.sum(axis=1)).sum()
                agree_decided = (ca[:, [0, 2]] * cb[:, [0, 2]]).sum()
                n_decided = (ca[:, [0, 2]].sum(axis=1) * cb[:, [0, 2]].sum(axis=1)).sum()
            if n_all == 0:
                continue
            rows.append(
                [
                    a,
                    b,
                    turn,
                    agree_all / n_all,
                    agree_decided / n_decided if n_decided else np.nan,
                    int(n_all),
                    int(n_decided),
                ]
            )
    return rows
