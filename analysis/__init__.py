"""Statistics over the judgments frame: pure functions, DataFrame in, DataFrame or result out.

No SQL and no Streamlit here: every function takes the tidy one-row-per-judgment frame described in
``docs/judgments-frame.md`` (from ``Store.judgments_frame()`` or any table with those columns), so
the numbers can be reproduced on data that never touched the app.
"""

from .frame import (
    canonical_pairs,
    normalize_judgments,
    orient_judgments,
    outcome_from_score,
    outcome_signs,
    require_columns,
)
from .rates import majority_outcomes, orient_rates, pair_rates, prompt_outcome_counts
from .simulate import simulate_judgments

# --- ratings and agreement exports ---
# --- end ratings and agreement exports ---

__all__ = [
    "canonical_pairs",
    "majority_outcomes",
    "normalize_judgments",
    "orient_judgments",
    "orient_rates",
    "outcome_from_score",
    "outcome_signs",
    "pair_rates",
    "prompt_outcome_counts",
    "require_columns",
    "simulate_judgments",
]
