"""Modules imported on first use, so that a short command does not pay for the data stack.

pandas, NumPy and pyarrow take most of a second to import; ``pairwise --help`` or ``pairwise invite``
never touch them. A module that needs them only in some functions binds a :class:`LazyModule`
instead of importing at the top, and imports the real module for type checkers::

    if TYPE_CHECKING:
        import pandas as pd
    else:
        pd = LazyModule("pandas")

The first attribute read (``pd.DataFrame``) imports pandas; later reads go straight to it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name`` and imports it at the first attribute read."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<LazyModule {self._name!r}, {state}>"
