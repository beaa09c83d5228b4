"""The pairwise web app: ``streamlit run annotate_app.py``.

Opens the SQLite file ``$PAIRWISE_DB`` (default ``pairwise.db`` in the working folder), seeds the
demo study into a database without studies, signs the visitor in, and offers the pages their
role allows: Annotate for everyone, the admin section for admins. Every admin page checks the
role again itself, so a typed URL does not get around the menu.
"""

from __future__ import annotations

import streamlit as st

from pairwise.demo import ensure_demo
from pairwise.pages import annotate, common, export, people, progress, report, studies
from pairwise.store import Store

ADMIN_PAGES = (
    (studies, "Studies", ":material/science:"),
    (progress, "Progress", ":material/monitoring:"),
    (people, "People", ":material/group:"),
    (report, "Report", ":material/analytics:"),
    (export, "Export", ":material/download:"),
)


def seed_demo(store: Store) -> str | None:
    """Seed the demo study once per session (a no-op when the database has a study).

    Returns why it could not, for admins to read: a missing demo folder leaves the app usable.
    """
    if st.session_state.get("pairwise.seeded") == store.path:
        return None
    try:
        ensure_demo(store)
    except FileNotFoundError as error:
        return f"The demo study was not seeded: {error}"
    st.session_state["pairwise.seeded"] = store.path
    return None


def admin_pages() -> list[st.Page]:
    return [
        st.Page(module.page, title=title, icon=icon, url_path=module.__name__.rsplit(".", 1)[1])
        for module, title, icon in ADMIN_PAGES
    ]


def main() -> None:
    st.set_page_config(page_title="pairwise", page_icon=":material/compare:", layout="wide")
    problem = seed_demo(common.get_store())
    identity = common.identify()
    if identity is None:
        common.show_sign_in()
        return
    if problem and identity.user.is_admin:
        st.warning(problem)
    pages: dict[str, list[st.Page]] = {
        "": [
            st.Page(
                annotate.page,
                title="Annotate",
                icon=":material/compare_arrows:",
                url_path="annotate",
                default=True,
            )
        ]
    }
    if identity.user.is_admin:
        pages["Admin"] = admin_pages()
    navigation = st.navigation(pages)
    common.show_identity(identity)
    navigation.run()


main()
