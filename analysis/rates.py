"""Win / tie / loss rates per model pair, with 95% intervals and a sign test.

The headline numbers of a human evaluation, as the Llama 2 report shows them: for each pair, how
often model A won, tied and lost, and "win + ½ tie" (ties split evenly), each with an interval.

Intervals follow the data's design. When each prompt of a pair has one judgment, judgments are
independent and the Wilson interval is exact enough and instant. When several annotators judged the
same prompt, their judgments are correlated and treating them as independent would make intervals
too narrow; the interval then comes from a bootstrap that resamples prompts (see ``intervals``).
The p-value is a sign test over prompts, which is the sign test on non-tied judgments when each
prompt has one judgment, and stays valid when it has several.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from .frame import (
    PAIR,
    PAIR_AND_PROMPT,
    canonical_pairs,
    credits,
    outcome_signs,
    require_columns,
    require_outcomes,
    require_values,
)
from .intervals import (
    MIN_PROMPTS,
    bootstrapped_pairs,
    check_settings,
    cluster_bootstrap_intervals,
    effective_prompts,
    method_columns,
    sign_test,
    wilson_interval,
)

Method = Literal["auto", "wilson", "cluster_bootstrap"]
COUNTS = ["wins", "ties", "losses"]
CREDIT = "credit"  # per prompt: the sum of p_a, the probability credited to model A
RATES = ["win_rate", "tie_rate", "loss_rate", "win_half_tie_rate"]
# Columns that describe the prompt rather than the judgment; the majority view keeps them.
PROMPT_COLUMNS = ("category", "turns")


def prompt_outcome_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Wins, ties and losses for model A per pair and prompt: the unit intervals resample.

    ``credit`` is the sum of the probabilities credited to model A (``p_a``, else 1 / 0.5 / 0 per
    win / tie / loss; see ``frame.credits``): wins + ties/2 unless some verdicts are soft.

    Pairs are in canonical orientation (see ``frame.canonical_pairs``); rows are sorted by model A,
    model B and prompt. Category and turns are kept when the frame has them.
    """
    oriented = _oriented(frame, needed_by="prompt_outcome_counts")
    carried = [column for column in PROMPT_COLUMNS if column in frame.columns]
    return _outcome_counts(oriented, [], carried)


def pair_rates(
    frame: pd.DataFrame,
    *,
    method: Method = "auto",
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Win, tie, loss and win + ½ tie rates of model A per pair, with intervals and a p-value.

    ``method="auto"`` picks Wilson intervals for a pair whose prompts each have exactly one
    judgment and a cluster bootstrap over prompts (``rounds`` rounds, seeded by ``seed`` and the
    pair's names) otherwise; ``"wilson"`` or ``"cluster_bootstrap"`` forces one. With Wilson, the
    win + ½ tie interval is the Wilson interval of wins + ties/2 out of n: a half-tie score varies
    less than a win/loss coin with the same mean, so that interval is conservative. Win + ½ tie
    is the mean of ``p_a`` where the frame has it: a soft verdict (a weighted judge's
    probability) counts with its fraction, as in AlpacaEval's weighted win rate; wins, ties and
    losses count the side each verdict leans to. ``p_value`` is
    the two-sided sign test over prompts that lean one way (more wins than losses, or fewer).
    The ``method``, ``rounds`` and ``seed`` columns record how each row's intervals were made.
    """
    check_settings(method, rounds, seed, confidence)
    counts = _outcome_counts(_oriented(frame, needed_by="pair_rates"), [], [])
    return _rates_from_prompt_counts(counts, [], method, rounds, seed, confidence)


def grouped_pair_rates(
    frame: pd.DataFrame,
    by: Sequence[str],
    *,
    method: Method = "auto",
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """``pair_rates`` within each group of the ``by`` columns, the group's values in front.

    Pairs are oriented once over the whole frame, so a pair reads the same way in every group,
    and each row is what ``pair_rates`` gives on its group's judgments (same generator per pair,
    so the same intervals). The work is one table of prompt counts keyed by group and one
    bootstrap over every (group, pair), not a report per group. Rows are sorted by group and pair.
    """
    by = list(by)
    check_settings(method, rounds, seed, confidence)
    require_values(frame, by, needed_by="grouped_pair_rates")
    counts = _outcome_counts(_oriented(frame, needed_by="grouped_pair_rates"), by, [])
    rates = _rates_from_prompt_counts(counts, by, method, rounds, seed, confidence)
    for column in by:  # group values read as in the frame, not as categories
        if isinstance(rates[column].dtype, pd.CategoricalDtype):
            rates[column] = rates[column].astype(rates[column].cat.categories.dtype)
    return rates


def majority_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """One outcome per pair and prompt: the one most of its annotators chose.

    The per-prompt view of a study with several annotators per item, as reported next to the
    per-judgment rates. An outcome wins the vote when it has more votes than each other outcome;
    a prompt without one (one win, one tie and one loss; or as many wins as losses) counts as a
    tie, since its annotators did not settle on a winner. Columns: model_a, model_b, prompt_id,
    category and turns when present, votes, score (+1 / 0 / -1) and outcome. Pass the result to
    ``pair_rates`` for majority rates with Wilson intervals.
    """
    counts = prompt_outcome_counts(frame)
    votes = counts[COUNTS].to_numpy()
    top = votes.max(axis=1)
    settled = (votes == top[:, None]).sum(axis=1) == 1
    signs = np.where(settled, np.array([1, 0, -1])[votes.argmax(axis=1)], 0)
    majority = counts.drop(columns=[*COUNTS, CREDIT])
    majority["votes"] = votes.sum(axis=1)
    majority["score"] = signs
    majority["outcome"] = np.array(["loss", "tie", "win"])[signs + 1]
    return majority


def orient_rates(rates: pd.DataFrame, model: str) -> pd.DataFrame:
    """``rates`` (from ``pair_rates``) with ``model`` as model A in each row that involves it.

    Turning a pair around swaps wins and losses and their rates and intervals, and mirrors
    win + ½ tie around one half; ties, n and the two-sided p-value stay.
    """
    require_columns(rates, PAIR + COUNTS + RATES, needed_by="orient_rates")
    turn = pd.Series(rates["model_b"] == model, index=rates.index)
    out = rates.copy()
    swaps = [("model_a", "model_b"), ("wins", "losses")]
    swaps += [(f"win_rate{end}", f"loss_rate{end}") for end in ("", "_ci_low", "_ci_high")]
    for left, right in swaps:
        out[left] = rates[left].where(~turn, rates[right])
        out[right] = rates[right].where(~turn, rates[left])
    half = "win_half_tie_rate"
    mirrored = {
        half: half,
        f"{half}_ci_low": f"{half}_ci_high",
        f"{half}_ci_high": f"{half}_ci_low",
    }
    for target, source in mirrored.items():
        if source in rates.columns:
            out[target] = rates[target].where(~turn, 1 - rates[source])
    return out


def _oriented(frame: pd.DataFrame, *, needed_by: str) -> pd.DataFrame:
    require_values(frame, PAIR_AND_PROMPT, needed_by=needed_by)
    require_outcomes(frame, needed_by=needed_by)
    return canonical_pairs(frame)


def _outcome_counts(oriented: pd.DataFrame, by: list[str], carried: list[str]) -> pd.DataFrame:
    """Wins, ties and losses per group of ``by``, pair and prompt; ``carried`` columns keep the
    first value of each."""
    signs = outcome_signs(oriented)
    keys = by + PAIR_AND_PROMPT
    table = oriented[keys + carried].assign(
        wins=signs == 1, ties=signs == 0, losses=signs == -1, credit=credits(oriented, signs)
    )
    aggregations = {column: "sum" for column in [*COUNTS, CREDIT]}
    aggregations |= {column: "first" for column in carried}
    counts = table.groupby(keys, sort=True, observed=True).agg(aggregations)
    counts[COUNTS] = counts[COUNTS].astype(np.int64)
    return counts.reset_index()


def _rates_from_prompt_counts(
    counts: pd.DataFrame, by: list[str], method: Method, rounds: int, seed: int, confidence: float
) -> pd.DataFrame:
    """Rates per group of ``by`` and pair from prompt counts sorted by group, pair and prompt."""
    keys = by + PAIR
    leaning = counts[keys + COUNTS + [CREDIT]].assign(
        prompts_for_a=counts["wins"] > counts["losses"],
        prompts_for_b=counts["wins"] < counts["losses"],
        squared=counts[COUNTS].sum(axis=1) ** 2,
    )
    pairs = leaning.groupby(keys, sort=True, observed=True)
    sums = pairs.sum()
    totals = sums[COUNTS].to_numpy(dtype=np.int64)
    n = totals.sum(axis=1)
    n_prompts = pairs.size().to_numpy()
    successes = np.column_stack([totals, sums[CREDIT].to_numpy(dtype=float)])
    low, high = wilson_interval(successes, n[:, None], confidence)
    small = n_prompts < MIN_PROMPTS
    bootstrapped = bootstrapped_pairs(method, n, n_prompts)
    by_prompts = bootstrapped & small & (method == "auto")
    bootstrapped &= ~by_prompts
    cluster_rows = counts[COUNTS].to_numpy()
    credit = counts[CREDIT].to_numpy(dtype=float)
    statistic = _rates_of_totals
    if np.any(credit != cluster_rows[:, 0] + cluster_rows[:, 1] / 2):  # some verdicts are soft
        cluster_rows = np.column_stack([cluster_rows, credit])
        statistic = _rates_of_soft_totals
    boot_low, boot_high = cluster_bootstrap_intervals(
        cluster_rows,
        n_prompts,
        sums.index.droplevel(by) if by else sums.index,
        bootstrapped,
        statistic,
        rounds=rounds,
        seed=seed,
        confidence=confidence,
    )
    low[bootstrapped], high[bootstrapped] = boot_low[bootstrapped], boot_high[bootstrapped]
    # Wilson over the prompts' effective number (Kish) holds whatever the annotators' correlation:
    # for pairs with too few prompts to bootstrap, and for a bootstrap that found no width (a
    # rate of 0 or 1, or every prompt with the same counts, is the same in every round).
    rates = successes / n[:, None]
    by_prompts_rows = by_prompts[:, None] | (bootstrapped[:, None] & (high - low <= 0))
    if by_prompts_rows.any():
        prompts = effective_prompts(n, sums["squared"].to_numpy())
        prompts = np.broadcast_to(prompts[:, None], rates.shape)
        conservative_low, conservative_high = wilson_interval(rates * prompts, prompts, confidence)
        low[by_prompts_rows] = conservative_low[by_prompts_rows]
        high[by_prompts_rows] = conservative_high[by_prompts_rows]

    columns = {"n": n, "n_prompts": n_prompts} | dict(zip(COUNTS, totals.T, strict=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        for column, rate in enumerate(RATES):
            columns[rate] = successes[:, column] / n
            columns[f"{rate}_ci_low"] = low[:, column]
            columns[f"{rate}_ci_high"] = high[:, column]
    for_a = sums["prompts_for_a"].to_numpy()
    columns["p_value"] = sign_test(for_a, for_a + sums["prompts_for_b"].to_numpy())
    columns |= method_columns(bootstrapped, "wilson", rounds, seed, over_prompts=by_prompts)
    columns["small_sample"] = small
    return pd.DataFrame(columns, index=sums.index).reset_index()


def _rates_of_totals(totals: np.ndarray) -> np.ndarray:
    """The four rates from rows of (wins, ties, losses) totals."""
    wins, ties, losses = totals.T.astype(float)
    return np.column_stack([wins, ties, losses, wins + ties / 2]) / (wins + ties + losses)[:, None]


def _rates_of_soft_totals(totals: np.ndarray) -> np.ndarray:
    """The four rates from rows of (wins, ties, losses, credit) totals: soft verdicts count
    with the probability they credit to model A."""
    wins, ties, losses, credit = totals.T.astype(float)
    return np.column_stack([wins, ties, losses, credit]) / (wins + ties + losses)[:, None]
