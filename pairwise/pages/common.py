"""What every page needs: the store for this browser session, who is signed in, and the gate
that keeps annotators out of admin pages (checked on the server for every page, not only hidden
from the menu).

Contract for page modules: each page is ``pairwise/pages/<name>.py`` with a ``page() -> None``
function. Admin pages start with ``ctx = require_admin()``; the annotate page with
``ctx = require_user()``. Pages call the library and hold no business logic.
"""

from __future__ import annotations

from dataclasses import dataclass

from pairwise.store import Annotator, Store


@dataclass(frozen=True)
class Context:
    store: Store
    user: Annotator


def get_store() -> Store:
    """The store for this browser session (path from ``$PAIRWISE_DB``, default ``pairwise.db``)."""
    raise NotImplementedError


def current_user() -> Annotator | None:
    """The signed-in annotator: invite token, OIDC login, or the local demo admin."""
    raise NotImplementedError


def require_user() -> Context:
    """Stop the page with a sign-in message unless someone is signed in."""
    raise NotImplementedError


def require_admin() -> Context:
    """Stop the page unless the signed-in person is an admin."""
    raise NotImplementedError
