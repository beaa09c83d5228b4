"""pairwise: human preference annotation of LLM responses, and win-rate reporting."""

from .scales import Scale, orient, outcome
from .store import Assignment, Prompt, Store, StoreError, Study, open_store

__version__ = "0.1.0"
__all__ = [
    "Assignment",
    "Prompt",
    "Scale",
    "Store",
    "StoreError",
    "Study",
    "open_store",
    "orient",
    "outcome",
]
