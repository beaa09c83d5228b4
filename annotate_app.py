"""The pairwise web app: ``streamlit run annotate_app.py``.

Opens the SQLite file ``$PAIRWISE_DB`` (default ``pairwise.db`` in the working folder), signs the
visitor in, seeds the demo study for the local demo admin into a database that holds no data at
all, and offers the pages their role allows: Annotate for everyone, the admin section for admins. Every admin page checks the
role again itself, so a typed URL does not get around the menu.
"""

from __future__ import annotations

import functools
import logging

import streamlit as st
from PIL import Image, ImageDraw

from pairwise.demo import ensure_demo
from pairwise.ingest import IngestError
from pairwise.pages import annotate, common, export, people, progress, report, studies
from pairwise.store import Store, StoreError

ADMIN_PAGES = (
    (studies, "Studies", ":material/science:"),
    (progress, "Progress", ":material/monitoring:"),
    (people, "People", ":material/group:"),
    (report, "Report", ":material/analytics:"),
    (export, "Export", ":material/download:"),
)


def seed_demo(store: Store) -> str | None:
    """Seed the demo study once per session, for the local demo admin, into an empty database.

    Returns why it could not, for the admin to read: the app stays usable without it.
    """
    if st.session_state.get("pairwise.seeded") == store.path:
        return None
    try:
        ensure_demo(store, besides_annotators=[common.LOCAL_ADMIN])
    except FileNotFoundError:
        return "The demo study was not seeded: its files were not found (see PAIRWISE_PROMPTS)."
    except (StoreError, IngestError) as error:
        logging.getLogger(__name__).warning("the demo study was not seeded: %s", error)
        return "The demo study was not seeded: its files do not import (see the server log)."
    st.session_state["pairwise.seeded"] = store.path
    return None


def admin_pages() -> list[st.Page]:
    return [
        st.Page(module.page, title=title, icon=icon, url_path=module.__name__.rsplit(".", 1)[1])
        for module, title, icon in ADMIN_PAGES
    ]


@functools.cache
def page_icon() -> Image.Image:
    """Two side-by-side panes, drawn here: a Material icon as the page icon would make every
    browser fetch it from a font server, telling that server who opened the app, and when."""
    icon = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((1, 5, 14, 26), radius=3, fill=(255, 75, 75))
    draw.rounded_rectangle((17, 5, 30, 26), radius=3, fill=(49, 51, 63))
    return icon


def main() -> None:
    st.set_page_config(page_title="pairwise", page_icon=page_icon(), layout="wide")
    with common.friendly_errors():  # every page, the sign-in page included
        run()


def run() -> None:
    identity = common.identify()
    common.write_cookie()  # the session cookie, when this run started or ended a session
    if identity is None:  # nothing is written for a visitor who is not signed in
        common.show_sign_in()
        return
    if identity.via == "demo":
        problem = seed_demo(common.get_store())
        if problem:
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
