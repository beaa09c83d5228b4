"""Statistics over the judgments frame: pure functions, DataFrame in, DataFrame or result out.

No SQL and no Streamlit here: every function takes the tidy one-row-per-judgment frame described in
``docs/judgments-frame.md`` (from ``Store.judgments_frame()`` or any table with those columns), so
the numbers can be reproduced on data that never touched the app.

- ``frame``: column checks, outcomes from scores, one orientation per model pair.
- ``rates``: win / tie / loss and win + ½ tie rates per pair, intervals, sign test, majority view.
- ``graded``: mean scores, the spread over the scale, and how scale points map to outcomes.
- ``bias``: position and length preferences, per-annotator tie and left-side habits.
- ``breakdown``: any pair report per category or for single- versus multi-turn prompts.
- ``ratings``: Bradley-Terry ratings (half-win ties or Davidson), Elo-scaled, with intervals.
- ``agreement``: pairwise agreement, Cohen's / Fleiss' kappa, Krippendorff's alpha, Gwet's AC1/AC2.
- ``judges``: agreement between human and model judges (as MT-Bench), model judges' position consistency.
- ``leaderboard``: every model against a baseline (as AlpacaEval), with the length-controlled win rate.
- ``scorers``: reward models (per-response scores) as judges: accuracy on human judgments.
- ``style``: Bradley-Terry ratings with style control (length and Markdown covariates), as Arena.
- ``logistic``: weighted logistic fits with soft targets, many bootstrap weightings at once.
- ``intervals``: Wilson, sign test and the cluster bootstrap the reports share.
- ``simulate``: judgments with known strengths and biases, for tests and benchmarks.
- ``planning``: prompts and judgments a study needs, and the pilot figures behind them.
- ``anytime``: confidence sequences for win rates, valid however often they are looked at.
- ``monitoring``: where each pair of a running study stands, and whether it is settled.
"""

from .agreement import (
    Agreement,
    agreement_summary,
    cohens_kappa,
    fleiss_kappa,
    gwet_ac,
    krippendorff_alpha,
    pairwise_agreement,
)
from .anytime import anytime_interval, anytime_rates, confidence_sequence, with_anytime
from .bias import (
    Preference,
    annotator_summary,
    length_buckets,
    length_preference,
    position_preference,
)
from .breakdown import breakdown, rates_by_category, rates_by_turns, with_turn_kind
from .frame import (
    canonical_pairs,
    normalize_judgments,
    orient_judgments,
    outcome_from_score,
    outcome_signs,
    require_columns,
)
from .graded import mean_scores, outcome_mapping, score_distribution
from .intervals import MIN_PROMPTS
from .judges import agreement_between, judge_groups, position_consistency
from .leaderboard import leaderboard, length_controlled_fit, preferences
from .monitoring import pair_progress
from .planning import Pilot, StudyPlan, pilot_estimates, plan_study
from .rates import majority_outcomes, orient_rates, pair_rates, prompt_outcome_counts
from .ratings import Ratings, bradley_terry, pair_counts
from .scorers import scorer_accuracy, strength_label
from .simulate import simulate_judgments
from .style import StyleRatings, markdown_counts, style_controlled_ratings, style_differences

__all__ = [
    "MIN_PROMPTS",
    "Preference",
    "annotator_summary",
    "breakdown",
    "canonical_pairs",
    "length_buckets",
    "length_preference",
    "majority_outcomes",
    "mean_scores",
    "normalize_judgments",
    "orient_judgments",
    "orient_rates",
    "outcome_from_score",
    "outcome_mapping",
    "outcome_signs",
    "pair_rates",
    "position_preference",
    "prompt_outcome_counts",
    "rates_by_category",
    "rates_by_turns",
    "require_columns",
    "score_distribution",
    "simulate_judgments",
    "with_turn_kind",
    # --- ratings and agreement names ---
    "Agreement",
    "Ratings",
    "agreement_summary",
    "bradley_terry",
    "cohens_kappa",
    "fleiss_kappa",
    "gwet_ac",
    "krippendorff_alpha",
    "pair_counts",
    "pairwise_agreement",
    # --- end ratings and agreement names ---
    # --- judges and leaderboard names ---
    "agreement_between",
    "judge_groups",
    "leaderboard",
    "length_controlled_fit",
    "position_consistency",
    "preferences",
    "scorer_accuracy",
    "strength_label",
    "StyleRatings",
    "markdown_counts",
    "style_controlled_ratings",
    "style_differences",
    # --- end judges and leaderboard names ---
    # --- planning and anytime-valid intervals ---
    "Pilot",
    "StudyPlan",
    "anytime_interval",
    "anytime_rates",
    "confidence_sequence",
    "pair_progress",
    "pilot_estimates",
    "plan_study",
    "with_anytime",
]
